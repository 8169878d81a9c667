"""What `invert` returns: an `Inversion` (the grid's images, final similarities and per-step
history) with its record, what made it: model specs and weights hashes, recipe, prompts, seeds,
where it ran, how many images came from the cache, and the versions of the code (`versions`).
`clipinv.runs.replay.replay` repeats a run from its record.

`assemble` puts the grid together from one result per (prompt, seed), however they were computed:
in this process, on Ray workers or read from the cache.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import torch

from clipinv.core.images import to_pil
from clipinv.version import __version__

TERMS = ("loss", "distance", "tv", "l1")


@dataclass
class Inversion:
    """Images [P, S, 3, H, W] in [0, 1], final cosine similarity [P, S] to each target (first model,
    no augmentation), per-step history of each loss term {term: [P, S, steps]}, and a record."""

    images: torch.Tensor
    similarity: torch.Tensor
    history: dict
    prompts: list
    seeds: list
    record: dict = field(default_factory=dict)

    def image(self, p: int = 0, s: int = 0):
        return to_pil(self.images[p, s])


def assemble(bundles, prompts, seeds, recipe, results: dict, record: dict) -> Inversion:
    """The Inversion of the grid prompts x seeds from results {item index: {"image", "similarity",
    "history"}} (items prompt-major), its record: what made it plus `record` (where it ran, cached)."""
    n_p, n_s, n = len(prompts), len(seeds), len(prompts) * len(seeds)
    images = torch.stack([results[i]["image"] for i in range(n)])
    images = images.view(n_p, n_s, *images.shape[1:])
    sims = torch.stack([torch.as_tensor(results[i]["similarity"]) for i in range(n)]).view(n_p, n_s)
    hist = torch.stack([results[i]["history"] for i in range(n)]).view(n_p, n_s, recipe.steps, len(TERMS))
    return Inversion(
        images=images,
        similarity=sims,
        history={t: hist[..., i] for i, t in enumerate(TERMS)},
        prompts=[str(p) for p in prompts],
        seeds=seeds,
        record={
            "specs": [b.spec for b in bundles],
            "weights_hashes": [b.weights_hash for b in bundles],
            "recipe": recipe.to_dict(),
            "prompts": [[list(t) for t in p.terms] for p in prompts],
            "seeds": seeds,
            **record,
            "versions": versions(),
        },
    )


def versions() -> dict:
    out = {"clipinv": __version__, "torch": torch.__version__, "python": platform.python_version()}
    try:
        import open_clip

        out["open_clip"] = open_clip.__version__
    except Exception:  # open_clip is a dependency; a broken install only loses this field
        out["open_clip"] = "unavailable"
    return out
