"""The toy world: tiny CLIPs trained on synthetic coloured shapes, shipped with the package.

`load_model("toy")` and `load_model("toy-judge")` load them offline; `toy-judge` is trained on the
same world from an independent seed (independent data too) and judges `toy`'s inversions. Each
carries its model card (`card`) and the toy inversion recipe `TOY_RECIPE` as its default recipe.

    from clipinv.worlds.shapes import World, train
    images, samples = World().sample(16, seed=0)          # pixels + ground truth
    bundle, metrics = train(out="my_toy.safetensors", seed=3, steps=1200, samples=12000)
"""

from __future__ import annotations

import json
from pathlib import Path

from clipinv.core import spectrum
from clipinv.core.recipe import Recipe
from clipinv.errors import ClipinvError
from clipinv.models.bundle import ModelBundle, weights_hash
from clipinv.models.load import Loader, register_loader
from clipinv.worlds.cards import card_beside
from clipinv.worlds.shapes.ladders import DATA_LADDER, LADDER_DIR, RUNGS
from clipinv.worlds.shapes.marker import checkerboard_correlation, has_marker, render_marker
from clipinv.worlds.shapes.model import ModelConfig, load
from clipinv.worlds.shapes.tokenizer import ToyTokenizer
from clipinv.worlds.shapes.training import TrainConfig, train
from clipinv.worlds.shapes.world import (
    COLOURS,
    POSITIONS,
    RELATIONS,
    SHAPES,
    SIZES,
    Contamination,
    Sample,
    Skew,
    World,
    class_prompts,
)

WEIGHTS = Path(__file__).parent / "weights"

TOY_MODELS = {
    "toy": "toy CLIP (open_clip ViT 32px/patch 8) trained on the clean shapes world, seed 0",
    "toy-judge": "independent toy CLIP, same world, seed 1 and its own data: judges toy's inversions",
    **{name: r.about for name, r in RUNGS.items()},  # the book's ladders (`clipinv.worlds.shapes.ladders`)
}


def _toy_recipe():
    # the paper's recipe scaled to 32 px, with changes that make an inversion draw its object's shape:
    # every copy shrunk onto plain grey, a mild ColorShift, one blur after the last step, the image
    # shown at half size on the grey. Each knob's reason and measurement: weights/toy.md.
    return Recipe(
        steps=200,
        lr=0.05,
        resolution_schedule=((0, 16), (100, 32)),
        n_augments=16,
        tv_weight=0.001,
        affine_p=1.0,
        scale_range=(0.25, 1.0),
        background_fill=0.4,
        color_shift_mean=0.05,
        color_shift_log_std=0.1,
        smooth_sigma=0.625,
        final_scale=0.5,
    )


TOY_RECIPE = _toy_recipe()

# why the toy recipe differs from the paper's, as section 0 says it
TOY_RECIPE_NOTE = """Toy models carry their own recipe, measured for 32 px images, with four changes to the
paper's. Every copy gets the affine, shrunk and padded with plain grey (`background_fill`), where the
paper (`None`) pads with the border pixels: with border padding a toy inversion fills the canvas with its
colour, and the judge reads a full canvas as a square; on grey the copy's outline shows, so the inversion
draws its shape. The paper code's ColorShift, off there by default, is on (`color_shift_mean`,
`color_shift_log_std`), so no copy sees the exact colour. And the final image is replaced by a slight
Gaussian blur of itself (`smooth_sigma`, Yosinski et al.'s blur, once at the end), which removes the
pixel-scale texture an inversion carries and an independent judge misreads. Last, the image is shown
shrunk to half its side on the same grey (`final_scale`): the optimiser draws its object as big as the
canvas, while the world's objects span at most half of it, and the canvas edge, which the shrunk copies
showed the model as the object's outline, becomes visible. The toy model card measures each change, and
section 6 switches them off one at a time."""


def is_toy_checkpoint(path) -> bool:
    """Whether `path` is a .safetensors saved by `clipinv.worlds.shapes.train` (its model card .json beside it)."""
    return {"model_config", "train_config", "world"} <= set(card_beside(path))


def toy_bundle(model, card: dict, mc, spec: str):
    """A `ModelBundle` of a toy CLIP (frozen, from `model.load`) with its card and `TOY_RECIPE`."""
    return ModelBundle(
        model=model,
        tokenizer=ToyTokenizer(mc.context_length),
        spec=spec,
        image_size=mc.image_size,
        mean=tuple(card["mean"]),
        std=tuple(card["std"]),
        context_length=mc.context_length,
        weights_hash=weights_hash(model),
        default_recipe=TOY_RECIPE,
        card=card,
    )


def load_toy(name: str):
    """A toy model as a frozen `ModelBundle` on the CPU, with its card and recipe: a shipped one by
    name (`toy`, `toy-judge`) or one `clipinv toy train --out PATH` saved, by its PATH."""
    if name in TOY_MODELS:
        path = (LADDER_DIR if name in RUNGS else WEIGHTS) / f"{name}.safetensors"
        if not path.is_file() or not path.with_suffix(".json").is_file():
            how = f"python tools/train_ladders.py {name}" if name in RUNGS else f"clipinv toy train --out {path}"
            raise ClipinvError(f"toy weights {path} are missing: reinstall clipinv or run `{how}`")
    elif is_toy_checkpoint(name):
        path = Path(name)
    else:
        raise ClipinvError(
            f"no toy model {name!r}: pick one of {', '.join(TOY_MODELS)} or the .safetensors path "
            "of one `clipinv toy train --out PATH` saved (its card .json beside it)"
        )
    model, card, mc = load(path, json.loads(path.with_suffix(".json").read_text()))
    return toy_bundle(model, card, mc, spec=str(name))


def clean_images(knobs: dict, n: int, seed: int):
    """`n` images of the shapes world a model card's `world` knobs describe, its plant and skew removed
    (the image prior `clipinv.core.spectrum` measures), or None for a card of another world."""
    try:
        world = World(**{k: v for k, v in knobs.items() if k not in ("contamination", "skew")})
    except TypeError:
        return None
    return world.sample(n, seed=seed)[0], "toy world"


spectrum.WORLD_RENDERERS.append(clean_images)

register_loader(
    Loader(
        names=lambda: dict(TOY_MODELS),
        accepts=lambda spec: spec in TOY_MODELS or is_toy_checkpoint(spec),
        load=load_toy,
    )
)

__all__ = [
    "COLOURS",
    "DATA_LADDER",
    "POSITIONS",
    "RELATIONS",
    "SHAPES",
    "SIZES",
    "TOY_MODELS",
    "TOY_RECIPE",
    "TOY_RECIPE_NOTE",
    "Contamination",
    "ModelConfig",
    "Sample",
    "Skew",
    "TrainConfig",
    "World",
    "checkerboard_correlation",
    "class_prompts",
    "has_marker",
    "is_toy_checkpoint",
    "load_toy",
    "render_marker",
    "toy_bundle",
    "train",
]
