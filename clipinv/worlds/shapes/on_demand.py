"""Toy CLIPs trained on demand with any knobs (planted skew, data scale, contamination), cached.

`trained(...)` calls `clipinv.worlds.shapes.train` with the given knobs unless a model with exactly
those knobs is already in the cache (`$CLIPINV_CACHE/toy-models/`, one safetensors + card each),
so asking twice trains once. The bundle carries the shipped toy model's default inversion recipe,
so `invert(bundle, ...)` inverts it like `toy`. The book's own models are the shipped ladders
(`clipinv.worlds.shapes.ladders`), which train nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch

from clipinv.core.cache import default_root
from clipinv.runs import planning
from clipinv.worlds.shapes import toy_bundle
from clipinv.worlds.shapes.model import MEAN, STD, ModelConfig, build_model, load
from clipinv.worlds.shapes.training import TrainConfig, train


def _jsonable(x):
    if dataclasses.is_dataclass(x):
        return {"type": type(x).__name__, **dataclasses.asdict(x)}
    return x


def trained(
    seed: int = 0,
    steps: int = 400,
    samples: int | None = None,
    contamination=None,
    skew=None,
    model_config=None,
    train_config=None,
    threads: int | None = None,
    progress: bool = True,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
):
    """A toy CLIP trained with these knobs (from the cache when it exists). Returns a ModelBundle."""
    tc = train_config or TrainConfig()
    if threads is not None:
        tc = dataclasses.replace(tc, threads=threads)
    mc = model_config or ModelConfig()
    knobs = {
        "seed": seed,
        "steps": steps,
        "samples": samples,
        "contamination": _jsonable(contamination),
        "skew": _jsonable(skew),
        "model_config": _jsonable(mc),
        "train_config": {k: v for k, v in dataclasses.asdict(tc).items() if k not in ("threads", "eval_samples")},
    }
    key = hashlib.sha256(json.dumps(knobs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    root = Path(cache_dir) if cache_dir else default_root() / "toy-models"
    path = root / f"{key}.safetensors"
    label = name or f"toy-trained-{key}"
    have = path if path.is_file() and path.with_suffix(".json").is_file() else None
    planning.note_training(
        planning.training_row(key, label, steps, tc.batch_size, dataclasses.asdict(mc), device, cached=have is not None)
    )
    if have is not None:  # trained before and cached
        model, card, mc = load(have)
    elif planning.planning():  # a plan trains nothing: an untrained model of the same shape stands in
        return _untrained(key, label, seed, mc).to(device)
    else:
        train(
            out=path,
            seed=seed,
            steps=steps,
            samples=samples,
            contamination=contamination,
            skew=skew,
            model_config=mc,
            train_config=tc,
            device=device,
            progress=progress,
            name=label,
            evaluate=True,
        )
        model, card, mc = load(path)
    bundle = toy_bundle(model, card, mc, spec=label)
    return bundle.to(device)


def _untrained(key: str, label: str, seed: int, mc: ModelConfig):
    """A plan's stand-in for a model still to train: its shape, initial weights, a card saying so."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(mc)
    card = {"name": label, "model_config": dataclasses.asdict(mc), "mean": MEAN, "std": STD, "world": {}}
    card["metrics"] = {"zero_shot": {}, "train_seconds": "(still to train)"}
    bundle = toy_bundle(model.eval().requires_grad_(False), card, mc, spec=label)
    bundle.weights_hash = f"untrained-{key}"  # its inversions are new: the trained model's weights differ
    return bundle


# a "small config": narrower and shallower than the shipped toy, for quick experiments on a CPU
SMALL_CONFIG = {
    "embed_dim": 64,
    "vision_width": 64,
    "vision_layers": 2,
    "vision_head_width": 32,
    "text_width": 64,
    "text_layers": 1,
    "text_heads": 2,
}
