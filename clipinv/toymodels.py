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

from .cache import default_root

# the classroom book's models (~0.5 MB each), shipped so that a classroom build trains nothing
SHIPPED = Path(__file__).parent / "data" / "toy-models"


def _toy_recipe():
    from .toy import TOY_RECIPE

    return TOY_RECIPE


def _jsonable(x):
    if dataclasses.is_dataclass(x):
        return {"type": type(x).__name__, **dataclasses.asdict(x)}
    return x


def trained(seed: int = 0, steps: int = 400, samples: int | None = None, contamination=None, skew=None,
            model_config=None, train_config=None, threads: int | None = None, progress: bool = True,
            name: str | None = None, cache_dir: str | Path | None = None, device: str = "cpu"):
    """A toy CLIP trained with these knobs (from the cache when it exists). Returns a ModelBundle."""
    from .models import ModelBundle
    from .toy import training as toytrain
    from .toy.tokenizer import ToyTokenizer

    tc = train_config or toytrain.TrainConfig()
    if threads is not None:
        tc = dataclasses.replace(tc, threads=threads)
    mc = model_config or toytrain.ModelConfig()
    knobs = {"seed": seed, "steps": steps, "samples": samples, "contamination": _jsonable(contamination),
             "skew": _jsonable(skew), "model_config": _jsonable(mc),
             "train_config": {k: v for k, v in dataclasses.asdict(tc).items() if k not in ("threads", "eval_samples")}}
    key = hashlib.sha256(json.dumps(knobs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    root = Path(cache_dir) if cache_dir else default_root() / "toy-models"
    path = root / f"{key}.safetensors"
    label = name or f"toy-trained-{key}"
    shipped = SHIPPED / f"{key}.safetensors"
    if shipped.is_file() and shipped.with_suffix(".json").is_file():  # trained once, shipped with the package
        model, card, mc = toytrain.load(shipped)
    elif path.is_file() and path.with_suffix(".json").is_file():
        model, card, mc = toytrain.load(path)
    else:
        bundle, _ = toytrain.train(out=path, seed=seed, steps=steps, samples=samples, contamination=contamination,
                                   skew=skew, model_config=mc, train_config=tc, device=device, progress=progress,
                                   name=label, evaluate=True)
        model, card, mc = toytrain.load(path)
    from .models import weights_hash

    bundle = ModelBundle(model=model, tokenizer=ToyTokenizer(mc.context_length), spec=label, image_size=mc.image_size,
                       mean=tuple(card["mean"]), std=tuple(card["std"]), context_length=mc.context_length,
                       weights_hash=weights_hash(model), default_recipe=_toy_recipe(), card=card)
    return bundle.to(device)
