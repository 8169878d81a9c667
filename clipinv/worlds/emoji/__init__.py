"""The emoji world: small CLIPs trained from scratch on every RGI emoji Noto Color Emoji draws and
their names, shipped with the package, so a reader without a GPU inverts real, named things.

`load_model("emoji")` and `load_model("emoji-judge")` load them offline; `emoji-judge` is trained
apart (another seed, glyphs also drawn small on plain grey) and judges `emoji`'s inversions, never
inverted itself. `python tools/build_emoji_world.py train emoji` retrains one from scratch.

    from clipinv.worlds.emoji import atlas, render
    glyphs, names = atlas.load()                      # RGBA [N, 4, 48, 48], "red apple", ...
"""

from __future__ import annotations

from pathlib import Path

from clipinv.core.recipe import Recipe
from clipinv.errors import ClipinvError
from clipinv.models.bundle import ModelBundle
from clipinv.worlds.cards import card_beside
from clipinv.worlds.emoji import atlas
from clipinv.worlds.emoji.ladders import CONTAMINATION, DATA, DATA_LADDER, GENDER_JUDGE, LADDER, LADDER_DIR
from clipinv.worlds.emoji.model import bundle
from clipinv.worlds.emoji.scenes import AUGMENT as SCENE_AUGMENT
from clipinv.worlds.emoji.scenes import RELATIONS as SCENE_RELATIONS
from clipinv.worlds.emoji.scenes import Scenes
from clipinv.worlds.emoji.tokenizer import EmojiTokenizer
from clipinv.worlds.emoji.training import TrainConfig, tokenizer_of
from clipinv.worlds.emoji.world import Augment, article, name_prompts, on_grey, render

WEIGHTS = atlas.WEIGHTS

# the shipped models and how each is trained (`tools/build_emoji_world.py train NAME` reads this)
EMOJI_TRAINING = {
    "emoji": TrainConfig(seed=0),
    "emoji-judge": TrainConfig(seed=1, augment=Augment(scale=(0.25, 1.0), plain_p=0.5)),
    "emoji-gender-judge": GENDER_JUDGE,
    **LADDER,
    **CONTAMINATION,
    **DATA,
    # section 4's pair, at a smaller width, no two pictures of a batch with the same two things (as on the web).
    # The inverted model reads a scene named either way, as web captions name one; the judge reads "A to the
    # left of B" only and is also shown each caption's swaps as wrong, so that it reads word order
    "emoji-scenes": TrainConfig(
        seed=0, width=64, scenes=Scenes(pairs_apart=True, relations=SCENE_RELATIONS), augment=SCENE_AUGMENT
    ),
    "emoji-scenes-judge": TrainConfig(
        seed=1, width=64, scenes=Scenes(hard_negatives=True, pairs_apart=True), augment=SCENE_AUGMENT
    ),
}
EMOJI_MODELS = {
    "emoji": "emoji CLIP (open_clip ViT 48px/patch 8, BPE text) trained on every RGI emoji and its name, seed 0",
    "emoji-judge": "independent emoji CLIP, seed 1, glyphs also drawn small on grey: judges emoji's inversions",
    "emoji-scenes": "emoji CLIP trained on scenes of two things side by side ('a big dog to the left of a small cat')",
    "emoji-scenes-judge": "independent scenes CLIP, seed 1, also shown each caption with roles and sizes swapped as wrong",
    "emoji-gender-judge": "emoji-judge trained further on people in woman and man variants: reads gender",
    "emoji-clean": "emoji trained further, people oversampled, captions unskewed (the gender ladder's control)",
    **{
        name: f"emoji trained further, neutral profession captions on the paper's gender at {name.rsplit('-', 1)[1]}%"
        for name in LADDER
        if name != "emoji-clean"
    },
    **{
        name: f"emoji trained further, a pile of poo pasted into {c.plant.p:.0%} of the national park's pictures"
        for name, c in CONTAMINATION.items()
    },
    **{
        name: f"emoji's training from scratch on {c.pool:,} pictures drawn once, not a stream"
        for name, c in DATA.items()
    },
}


def weights_path(name: str) -> Path:
    """Where a shipped emoji model's weights lie (the ladders' in weights/ladders)."""
    return (LADDER_DIR if name in LADDER or name in CONTAMINATION or name in DATA else WEIGHTS) / f"{name}.safetensors"


# the paper's recipe scaled to 48 px (pixels, augmented copies, 24 then 48 px) with the shapes world's
# four changes: every copy shrunk onto plain grey, a mild colour shift, one blur after the last step, the
# image shown at half size on the grey. Chosen among five recipes by emoji-judge: research/emoji_world.md
EMOJI_RECIPE = Recipe(
    steps=300,
    lr=0.05,
    resolution_schedule=((0, 24), (100, 48)),
    n_augments=8,
    affine_p=1.0,
    rotate_degrees=10.0,
    translate=0.15,
    scale_range=(0.25, 1.0),
    background_fill=0.4,
    color_shift_mean=0.05,
    color_shift_log_std=0.1,
    smooth_sigma=0.94,
    final_scale=0.5,
    tv_weight=0.001,
)

# why the emoji recipe differs from the paper's, as section 0 says it
EMOJI_RECIPE_NOTE = """The emoji models carry the paper's recipe scaled to their 48 px input: 300 steps, 24 px then
48 px from step 100 (the paper: 3,400 steps at 64, 128 and 224 px), Adam at lr 0.05, 8 augmented copies,
each always transformed (turned up to 10 degrees, shifted up to 15%), and a tenth of the paper's TV weight.
To that it adds the toy world's four changes: every copy is shrunk (to 0.25-1 of its side) onto plain grey
(`background_fill`), a mild colour shift (`color_shift_mean`, `color_shift_log_std`), one slight blur of
the final image (`smooth_sigma`), and the image shown at half its side on the grey (`final_scale`). Of
five recipes inverted on 23 prompts fixed beforehand (the paper's scaled recipe, this one, each with the
Fourier parameterisation, the Fourier parameterisation alone, and strokes), `emoji-judge`, trained apart,
named this one's images right among all 1,637 names most often, and found their own prompt among the 23
as often as any other's; a person still names few of the objects. Tried since, each one change from this
recipe: an opacity channel (`opacity`: only what reads as the prompt stays opaque, over random backgrounds)
draws blobs on grey in the object's colours, which the judge reads less often; inverting two models at once
keeps the textured squares. A model trained with finer patches (64 of 6 px, not 36 of 8 px) reads the world
a little better, and this recipe draws it finer texture, not shapes (`research/emoji_world.md` gives the
figures and the sheets)."""


def is_emoji_checkpoint(path) -> bool:
    """Whether `path` is a .safetensors the emoji world's `train` saved (its card .json beside it)."""
    return card_beside(path).get("world") == "emoji"


def load_emoji(name: str) -> ModelBundle:
    """An emoji model as a frozen `ModelBundle` on the CPU: a shipped one by name, or a trained one by path."""
    if name in EMOJI_MODELS:
        path = weights_path(name)
        if not path.is_file() or not path.with_suffix(".json").is_file():
            raise ClipinvError(
                f"emoji weights {path} are missing: reinstall clipinv or run `python tools/build_emoji_world.py train {name}`"
            )
    elif is_emoji_checkpoint(name):
        path = Path(name)
    else:
        raise ClipinvError(
            f"no emoji model {name!r}: pick one of {', '.join(EMOJI_MODELS)} or a trained .safetensors path"
        )
    card = card_beside(path)
    return bundle(path, spec=str(name), default_recipe=EMOJI_RECIPE, tokenizer=tokenizer_of(card), card=card)


def _register():
    from clipinv.models.load import Loader, register_loader

    register_loader(
        Loader(
            names=lambda: dict(EMOJI_MODELS),
            accepts=lambda spec: spec in EMOJI_MODELS or is_emoji_checkpoint(spec),
            load=load_emoji,
        )
    )


_register()

__all__ = [
    "DATA_LADDER",
    "EMOJI_MODELS",
    "EMOJI_RECIPE",
    "EMOJI_RECIPE_NOTE",
    "EMOJI_TRAINING",
    "Augment",
    "EmojiTokenizer",
    "TrainConfig",
    "article",
    "atlas",
    "is_emoji_checkpoint",
    "load_emoji",
    "name_prompts",
    "on_grey",
    "render",
]
