"""What a run asks for, written down: every inversion and every toy training a section requests.

Two environment variables, read where the work is requested (`clipinv.core.invert.invert`,
`clipinv.worlds.shapes.on_demand.trained`); a notebook's kernel inherits them from the runner:

- ``CLIPINV_PLAN=FILE``: planning. Nothing is optimised or trained. Each request appends one JSON
  line to FILE (the models, the recipe's steps and copies, how many images, how many are cached),
  and the caller gets placeholders of the right shapes: cached images as they are, grey images for
  the rest, an untrained toy CLIP for one still to train. Models read images and texts as
  placeholder features and NudeNet scores nothing, so a plan passes no image through a model.
  An image or model an earlier request of the same plan computes counts as cached, as it would be
  in the run.
- ``CLIPINV_LEDGER=FILE``: a real run that also appends each request as it ran (same rows): what a
  plan is checked against.

``CLIPINV_SECTION`` names the section in each row. `clipinv.book.plan` sets all three and reads FILE.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PLAN = "CLIPINV_PLAN"
LEDGER = "CLIPINV_LEDGER"
SECTION = "CLIPINV_SECTION"


def planning() -> bool:
    return bool(os.environ.get(PLAN))


def rows(path) -> list[dict]:
    """The rows written to a plan or ledger file, in order."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append(path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def _earlier(kind: str) -> set[str]:
    """Keys an earlier request of this plan already computes (images, or models trained)."""
    field = "new_keys" if kind == "inversion" else "key"
    out = set()
    for row in rows(os.environ[PLAN]):
        if row["kind"] == kind and (kind == "inversion" or not row["cached"]):
            out.update(row[field] if kind == "inversion" else [row[field]])
    return out


def _models(bundles) -> list[dict]:
    return [
        {"spec": b.spec, "weights": b.weights_hash, "model_config": (b.card or {}).get("model_config")} for b in bundles
    ]


def _inversion_row(bundles, recipe, device, keys, new: list[int], planned: bool, kept: bool) -> dict:
    n, k = len(keys), len(new)
    return {
        "kind": "inversion",
        "section": os.environ.get(SECTION),
        "planned": planned,
        "kept": kept,  # whether the run keeps its images in the cache
        "models": _models(bundles),
        "steps": recipe.steps,
        "copies": recipe.n_augments,
        "precision": recipe.precision,
        "device": str(device),
        "images": n,
        "cached": n - k,
        "new": k,
        "seed_steps": k * recipe.steps,
        "new_keys": [keys[i] for i in new],
    }


def plan_inversion(bundles, recipe, device, keys: list[str], found: dict, n_terms: int, cached: bool) -> dict:
    """Planning: write the request's row and return a placeholder entry for each image not cached.
    `cached`: whether the run keeps what it computes (then an image computed earlier is found again)."""
    import torch

    earlier = _earlier("inversion") if cached else set()
    new = [i for i, key in enumerate(keys) if i not in found and key not in earlier]
    _append(os.environ[PLAN], _inversion_row(bundles, recipe, device, keys, new, planned=True, kept=cached))
    side = recipe.resolution_schedule[-1][1]
    placeholder = {
        "image": torch.full((3, side, side), 0.5),
        "similarity": torch.tensor(0.0),
        "history": torch.zeros(recipe.steps, n_terms),
    }
    return {i: placeholder for i in range(len(keys)) if i not in found}


def record_inversion(bundles, recipe, device, keys: list[str], computed: list[int], kept: bool = True) -> None:
    """A real run with CLIPINV_LEDGER set: write what this request computed and what it found cached
    (`kept`: whether the run put what it computed into the cache)."""
    if os.environ.get(LEDGER) and not planning():
        _append(os.environ[LEDGER], _inversion_row(bundles, recipe, device, keys, computed, planned=False, kept=kept))


def training_row(key: str, name: str, steps: int, batch: int, model_config: dict, device, cached: bool) -> dict:
    return {
        "kind": "training",
        "section": os.environ.get(SECTION),
        "key": key,
        "name": name,
        "steps": steps,
        "batch": batch,
        "model_config": model_config,
        "device": str(device),
        "cached": cached,
        "new_steps": 0 if cached else steps,
    }


def note_training(row: dict) -> None:
    """Write a toy training request: to the plan (counted cached when an earlier request of the plan
    trains the same model), or to the ledger of a real run."""
    if planning():
        if row["key"] in _earlier("training"):
            row = {**row, "cached": True, "new_steps": 0}
        _append(os.environ[PLAN], {**row, "planned": True})
    elif os.environ.get(LEDGER):
        _append(os.environ[LEDGER], {**row, "planned": False})


def note_missing_weights(spec: str, parameters: int) -> None:
    """Planning: pretrained weights `spec` are not on this machine; the plan stands in random weights of
    the same architecture (a plan reads nothing through a model) and says what the run must download."""
    _append(
        os.environ[PLAN],
        {"kind": "weights", "section": os.environ.get(SECTION), "spec": spec, "parameters": parameters},
    )


def placeholder_features(items, dim: int):
    """Unit vectors standing in for what a model would read off texts (a list of strings: one vector
    per distinct text, the same in every call) or images (a tensor [N, 3, H, W]: one per image)."""
    import zlib

    import torch

    if isinstance(items, torch.Tensor):
        sums = items.detach().float().flatten(1).sum(1).tolist()
        seeds = [zlib.crc32(f"image {i} {v:.6g}".encode()) for i, v in enumerate(sums)]
    else:
        seeds = [zlib.crc32(f"text {t}".encode()) for t in items]
    f = torch.stack([torch.randn(dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
    return f / f.norm(dim=-1, keepdim=True)
