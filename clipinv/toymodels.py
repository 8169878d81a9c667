"""Toy CLIPs trained on demand for the analyses (planted skew, data scale, contamination), cached.

`trained(...)` calls `clipinv.toy.train` with the given knobs unless a model with exactly
those knobs is already in the cache (`$CLIPINV_CACHE/toy-models/`, one safetensors + card each),
so a second build of the book does not retrain; models shipped in `clipinv/data/toy-models/`
(same file names, i.e. the same knobs) are used before either. The bundle carries the shipped toy model's default
inversion recipe, so `invert(bundle, ...)` inverts it like `toy`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import torch

from . import ledger
from .cache import default_root
from .toy import toy_bundle
from .toy.model import MEAN, STD, ModelConfig, build_model, load
from .toy.training import TrainConfig, train

# the classroom book's models (~0.5 MB each), shipped so that a classroom build trains nothing
SHIPPED = Path(__file__).parent / "data" / "toy-models"


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
    shipped = SHIPPED / f"{key}.safetensors"
    have = next((p for p in (shipped, path) if p.is_file() and p.with_suffix(".json").is_file()), None)
    ledger.note_training(
        ledger.training_row(key, label, steps, tc.batch_size, dataclasses.asdict(mc), device, cached=have is not None)
    )
    if have is not None:  # trained once and shipped with the package, or trained before and cached
        model, card, mc = load(have)
    elif ledger.planning():  # a plan trains nothing: an untrained model of the same shape stands in
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


# the "small config" of the analyses' CPU-sized models: narrower and shallower than the shipped toy
SMALL_CONFIG = {
    "embed_dim": 64,
    "vision_width": 64,
    "vision_layers": 2,
    "vision_head_width": 32,
    "text_width": 64,
    "text_layers": 1,
    "text_heads": 2,
}


@dataclasses.dataclass(frozen=True)
class TrainingBudget:
    """How a book page trains its toy CLIPs: steps, batch, small config or the shipped toy's size.
    `train(**knobs)` returns the model (cached; see `trained`); `note(bundle)` one line for a table."""

    steps: int = 150
    batch: int = 64
    small: bool = True
    threads: int = 2
    device: str = "cpu"

    def train(self, **knobs):
        mc = ModelConfig(**SMALL_CONFIG) if self.small else ModelConfig()
        tc = TrainConfig(batch_size=self.batch, warmup=min(100, max(1, self.steps // 10)), eval_samples=300)
        return trained(
            steps=self.steps,
            model_config=mc,
            train_config=tc,
            threads=self.threads,
            progress=False,
            device=self.device,
            **knobs,
        )

    def note(self, bundle) -> str:
        zs = bundle.card["metrics"].get("zero_shot", {})
        return (
            f"{bundle.spec}: {self.steps} steps x batch {self.batch}{' (small config)' if self.small else ''}, "
            f"held-out zero-shot colour {zs.get('colour', float('nan')):.0%}, "
            f"shape {zs.get('shape', float('nan')):.0%}, trained in {bundle.card['metrics'].get('train_seconds')} s"
        )
