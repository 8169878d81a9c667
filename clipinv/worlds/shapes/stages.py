"""The training stages a toy model's card records (`stages`), and `reproduce`, which retrains them
from scratch, each stage continuing the previous one on its own world and data; `reseeded` moves a
card to new seeds for an independent replicate."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

from clipinv.errors import ClipinvError
from clipinv.worlds.shapes.model import ModelConfig
from clipinv.worlds.shapes.training import TrainConfig, train
from clipinv.worlds.shapes.world import Contamination, Skew, World


def stages(card: dict) -> list[dict]:
    """The training stages a card records, oldest first: [{"train_config", "samples", "world",
    "data_seed"}, ...]. A stage without its own world (cards saved before stages kept one) trained on
    the card's world; without a data seed, on its own seed's data."""
    out = []
    for s in card.get("history", []) + [card]:
        out.append(
            {
                "train_config": s["train_config"],
                "samples": s.get("samples"),
                "world": s.get("world", card.get("world", {})),
                "data_seed": s.get("data_seed", s["train_config"]["seed"]),
            }
        )
    return out


def world_of(wd: dict):
    """(World, Contamination | None, Skew | None) from a card's "world" record."""
    wd = dict(wd or {})
    world = World(
        **{k: (tuple(v) if isinstance(v, list) else v) for k, v in wd.items() if k not in ("contamination", "skew")}
    )
    contamination = Contamination(**wd["contamination"]) if wd.get("contamination") else None
    skew = Skew(**wd["skew"]) if wd.get("skew") else None
    return world, contamination, skew


def reseeded(card: dict, seed: int) -> dict:
    """A copy of `card` whose training stages all move to new seeds, the first stage's becoming `seed`
    (the gaps between stage seeds kept): `reproduce` of it trains an independent replicate of the
    card's model, same recipe, its own initialisation and data, e.g. another judge like `toy-judge`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ClipinvError(f"seed must be a whole number >= 0, got {seed!r}")
    out = copy.deepcopy(card)
    shift = seed - stages(card)[0]["train_config"]["seed"]
    for stage in out.get("history", []) + [out]:
        stage["train_config"]["seed"] += shift
        if stage.get("data_seed") is not None:
            stage["data_seed"] += shift
    out["name"] = f"{card.get('name', 'toy')}-seed{seed}"
    return out


def reproduce(
    card: dict | str | Path, out: str | Path, device: str | None = None, progress: bool = True, step: str = "dynamic"
):
    """Train a model from scratch with every stage its card records (seed, steps, lr, data), each
    continuing the previous one, e.g. `reproduce(load_toy("toy").card, "my_toy.safetensors")`.
    With the card's thread count on the same kind of CPU the weights come out identical (compare
    `weights_hash`). Only the last stage is evaluated. Returns (bundle, metrics) of the last stage."""
    if not isinstance(card, dict):
        card = json.loads(Path(card).with_suffix(".json").read_text())
    mc = ModelConfig(**card["model_config"])
    plan = stages(card)
    init = None
    with tempfile.TemporaryDirectory(prefix="clipinv-reproduce-") as tmp:
        for i, stage in enumerate(plan):
            tc = TrainConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in stage["train_config"].items()})
            last = i == len(plan) - 1
            path = Path(out) if last else Path(tmp) / f"stage{i}.safetensors"
            world, contamination, skew = world_of(stage["world"])
            bundle, metrics = train(
                out=path,
                seed=tc.seed,
                steps=tc.steps,
                samples=stage["samples"],
                contamination=contamination,
                skew=skew,
                model_config=mc,
                train_config=tc,
                world=world,
                device=device,
                progress=progress,
                name=card.get("name"),
                evaluate=last,
                init=init,
                step=step,
                data_seed=stage["data_seed"],
            )
            init = path
    return bundle, metrics
