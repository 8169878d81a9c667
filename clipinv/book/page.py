"""What an executed page of the book says about itself: the profile and parameters stamped into it,
and the values its notebook glued into its prose."""

from __future__ import annotations

import json


def executed_parameters(nb_path) -> dict:
    """The profile and parameters stamped into an executed notebook."""
    import nbformat

    return json.loads(json.dumps(nbformat.read(str(nb_path), as_version=4).metadata.get("clipinv", {})))


def glued(nb_path) -> dict:
    """The values an executed notebook glued into its prose ({key: plain text}), in order."""
    import nbformat

    out = {}
    for cell in nbformat.read(str(nb_path), as_version=4).cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                out[name] = next((v for k, v in o.get("data", {}).items() if k.endswith("text/plain")), "")
    return out
