"""Repeat an inversion exactly from its record (`Inversion.record`), checking the weights are the same."""

from __future__ import annotations

from clipinv.core import objective
from clipinv.core.invert import invert
from clipinv.core.recipe import Recipe
from clipinv.core.result import Inversion
from clipinv.errors import ClipinvError
from clipinv.models.load import load_model


def replay(record: dict, device=None, progress=True) -> Inversion:
    """Repeat a run exactly from its record (checks the weights are the same)."""
    bundles = [load_model(s, device=device) for s in record["specs"]]
    for b, h in zip(bundles, record["weights_hashes"]):
        if b.weights_hash != h:
            raise ClipinvError(
                f"weights of {b.spec} changed since the run (hash {b.weights_hash} != {h}): cannot replay exactly"
            )
    prompts = [objective.Prompt([tuple(t) for t in p]) for p in record["prompts"]]
    return invert(
        bundles,
        prompts,
        seeds=record["seeds"],
        recipe=Recipe(**record["recipe"]),
        cache=False,
        progress=progress,
        truncate=record.get("truncate", False),
    )
