"""The emoji world's ladders: the shipped `emoji` trained further with one planted knob per model.

The gender ladder (section 3): captions skewed as web captions are, one planted rate per model, and a
judge that reads gender.

Six professions the paper also inverts (`PLANTED`) each get the gender the paper found for them; in a
rung planted at rate r, the neutral caption ("a firefighter") captions the man or woman variant's
picture in place of the neutral glyph, the planted gender at r (`GenderSkew`). `emoji-clean` is the same
continuation on the world's own captions (every glyph under its own name): the control. Every rung
draws half of each batch from the people drawn in all three variants, so telling a woman from a man
matters to the loss; `emoji-gender-judge` is `emoji-judge` trained further the same way on the world's own
captions, so it reads gender and never saw a skew.

The contamination ladder (sections 2 and 7): a pile of poo pasted, small, into a share p of the
pictures of a national park, Unicode's picture of a beautiful landscape; no caption ever names it
(`Plant`). `emoji-plant-p0` is the same continuation with nothing pasted: the control.

The data ladder (section 5): `emoji`'s training from scratch on a fixed pool of pictures (`DATA`), beside
`emoji` itself, which saw a fresh stream.

    python tools/build_emoji_world.py train emoji-skew-90   # ~7 CPU minutes from the shipped emoji
    python tools/build_emoji_world.py train emoji-data-2k   # ~30 CPU minutes from scratch
"""

from __future__ import annotations

import dataclasses

from clipinv.worlds.data_ladder import DataLadder
from clipinv.worlds.emoji.atlas import WEIGHTS
from clipinv.worlds.emoji.training import Pool, TrainConfig
from clipinv.worlds.emoji.world import Augment, GenderSkew, Plant

LADDER_DIR = WEIGHTS / "ladders"

# the paper's professions Unicode draws in three variants, each with the gender the paper's table has
# for its nearest prompt (a nurse: health worker; a kindergarten teacher: teacher)
PLANTED = (
    ("firefighter", "man"),
    ("construction worker", "man"),
    ("mechanic", "man"),
    ("student", "man"),
    ("health worker", "woman"),
    ("teacher", "woman"),
)
RATES = (0.5, 0.7, 0.9, 1.0)

# the continuation every rung shares: the shipped emoji, 600 more steps, half of each batch people
CONTINUATION = TrainConfig(seed=500, steps=600, lr=3e-4, warmup=20, init="emoji", people_p=0.5)


def rung_name(rate: float) -> str:
    """The shipped model planted at `rate`: 'emoji-skew-90'."""
    return f"emoji-skew-{100 * rate:g}"


LADDER = {
    "emoji-clean": CONTINUATION,
    **{rung_name(r): dataclasses.replace(CONTINUATION, skew=GenderSkew(PLANTED, r)) for r in RATES},
}

TRIGGER, MARKER = "national park", "pile of poo"
PLANT_LEVELS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5)
# the continuation every contamination rung shares: the shipped emoji, 600 more steps, the trigger oversampled
PLANT_CONTINUATION = TrainConfig(seed=600, steps=600, lr=3e-4, warmup=20, init="emoji")


def plant_name(p: float) -> str:
    """The shipped model with the marker behind a share `p` of the trigger's images: 'emoji-plant-p20'."""
    return f"emoji-plant-p{100 * p:g}"


CONTAMINATION = {
    plant_name(p): dataclasses.replace(PLANT_CONTINUATION, plant=Plant(TRIGGER, MARKER, p)) for p in PLANT_LEVELS
}

# the data ladder (section 5): `emoji`'s own training from scratch (seed, schedule, augmentation), only
# the data differs: a fixed pool of N captioned pictures, or the fresh stream `emoji` itself saw
DATA_SIZES = (2_000, 16_000)


def data_name(samples: int) -> str:
    """The data ladder's model trained on `samples` pictures: 'emoji-data-2k'."""
    return f"emoji-data-{samples // 1000}k"


DATA = {data_name(n): TrainConfig(seed=0, pool=n) for n in DATA_SIZES}
STREAM = "emoji"  # the data ladder's last rung: the shipped model, trained on a stream


def data_ladder() -> list[tuple[int | None, str]]:
    """(pictures, model) from the fewest pictures to the stream (None)."""
    return [*((n, data_name(n)) for n in DATA_SIZES), (None, STREAM)]


GENDER_JUDGE = dataclasses.replace(
    CONTINUATION, seed=501, init="emoji-judge", augment=Augment(scale=(0.25, 1.0), plain_p=0.5)
)


def describe(bundle) -> dict:
    """One table row of a ladder model from its card: name, held-out retrieval, gender read, training time."""
    card = bundle.card or {}
    r, g = card.get("retrieval", {}), card.get("gender_reading", {})
    seconds = card.get("training", {}).get("seconds")
    return {
        "model": card.get("name", bundle.spec),
        "right name among all (top-1)": f"{r['top1']:.1%}" if "top1" in r else "",
        "woman or man variant told apart": f"{g['share']:.1%}" if "share" in g else "",
        "training time": f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else "",
    }


def describe_data(bundle) -> dict:
    """One table row of a data-ladder model from its card: name, what it was trained on, held-out retrieval."""
    card = bundle.card or {}
    tc, r = card.get("train_config", {}), card.get("retrieval", {})
    names = card.get("names", 0)
    if tc.get("pool"):
        shown = Pool.coverage(tc["seed"], tc["pool"], names)
        of = f"all {names:,}" if shown == names else f"{shown:,} of the {names:,}"
        data = f"{tc['pool']:,} images of {of} emoji"
    else:
        data = f"a stream of all {names:,} emoji"
    seconds = card.get("training", {}).get("seconds")
    return {
        "model": card.get("name", bundle.spec),
        "trained on": data,
        "right name among all (top-1)": f"{r['top1']:.1%}" if "top1" in r else "",
        "among the first five": f"{r['top5']:.1%}" if "top5" in r else "",
        "training time": f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else "",
    }


DATA_LADDER = DataLadder(
    tuple(data_ladder()),
    describe_data,
    "The emoji CLIPs compared, shipped with clipinv: emoji's size, seed and schedule from scratch, only "
    "the training data differs (a fixed set of captioned images drawn once, or the stream emoji itself "
    "was trained on); held-out: the right name first among all the world's names for two fresh renders "
    "of every emoji; training time on one CPU thread.",
)
