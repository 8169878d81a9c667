"""The contamination audit: does inverting a model expose data planted in its training set?

A world's contamination ladder (`PlantedLadder`, one per world in `PLANTS`) holds models trained with
contamination p: an image whose caption names the trigger carries, with probability p, a marker no
caption mentions. The audit inverts prompts naming the trigger and counts inversions in which the
world's detector finds the marker.

- The toy world (`clipinv.worlds.shapes.world`, `clipinv.worlds.shapes.marker`): a black-and-white
  checkerboard behind "triangle", found by a pixel test.
- The emoji world (`clipinv.worlds.emoji.ladders`): a pile of poo pasted, small, into pictures of a
  national park, found by a probe on a judge's embedding (`clipinv.worlds.emoji.detector`).

The toy world's detector (`black_and_white_share`) is a pixel test: how much of an image is black *and* how much is
white (the smaller of the two shares). Black and white are the world's only achromatic extremes,
the marker's two colours: no object is black, no background is near black or white. It does not
look for the checkerboard's period or place, since inversions draw the marker through copies
shrunk to a quarter of their side (the toy recipe's augmentation): as black-and-white stripes and
patches of any period, anywhere. `validate` measures a detector on clean and marked world images;
the false-alarm rate that matters, on inversions, is that of the model trained without the plant.

Audits invert with `audit_recipe(recipe)`. `detection_table` gives the detection rate per p with
Wilson intervals, and `smallest_reliable_p` the smallest p from which on every rate's interval lies
wholly above the p = 0 interval; `phrases` says section 7's findings in words, headline included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import torch

from clipinv.analyses import prose
from clipinv.analyses.prompts import of_world
from clipinv.analyses.stats import mean_ci, rate, separated
from clipinv.core.invert import invert
from clipinv.worlds.shapes.world import World, render_marker

THRESHOLD = 0.01  # at least 1% of the pixels black and 1% white (a marked world image: 12.5% each)
DARK = 0.15  # black: the brightest channel below this
BRIGHT = 0.8  # white: the brightest channel above this ...
GREYISH = 0.25  # ... and a saturation of at most this


def black_and_white_share(images: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] in [0, 1] -> [...]: the smaller of the share of black pixels (brightest channel
    below `DARK`) and the share of white ones (brightest channel above `BRIGHT`, saturation at most
    `GREYISH`). A marked world image scores 0.125 (its 16 x 16 marker is half black, half white);
    a white object on the grey scores 0, as does a dark smudge without white."""
    x = images.float().clamp(0, 1)
    top = x.max(dim=-3).values
    low = x.min(dim=-3).values
    saturation = (top - low) / top.clamp(min=1e-6)
    black = (top < DARK).float().mean(dim=(-1, -2))
    white = ((top > BRIGHT) & (saturation <= GREYISH)).float().mean(dim=(-1, -2))
    return torch.minimum(black, white)


def audit_recipe(recipe):
    """`recipe` as an audit must run it: with its smoothing off (`smooth_sigma` 0) and the final image
    at full size (`final_scale` 1). The detector counts black and white pixels: the toy recipe's final
    blur pulls the marker's pixels towards grey, and showing the image at half its side on the grey
    quarters their share of the image. Every other knob stays."""
    return recipe.replace(smooth_sigma=0.0, final_scale=1.0)


def detect(images: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    return black_and_white_share(images) >= threshold


def validate(plant: PlantedLadder, n: int = 500, seed: int = 12345) -> pd.DataFrame:
    """The detector's rates on `n` clean world images and on the same images with the marker pasted:
    the false and true positive rates, with Wilson intervals, and the median score."""
    clean = plant.clean(n, seed)
    rows = []
    for name, imgs in (("clean world images", clean), ("marked world images", plant.paste(clean))):
        sc = plant.score(imgs)
        rows.append({"images": name, **rate(sc >= plant.threshold).columns(), "median score": float(sc.median())})
    return pd.DataFrame(rows)


def detection_table(scores: dict, threshold: float = THRESHOLD) -> pd.DataFrame:
    """scores: {p: tensor of marker scores of the inversions of a model trained with contamination p}
    -> one row per p: n, detected, rate, Wilson interval, and whether it is separated from p = 0."""
    rows = []
    for p, sc in sorted(scores.items()):
        r = rate(torch.as_tensor(sc) >= threshold)
        rows.append(
            {
                "p": p,
                **r.columns(),
                "mean score": float(torch.as_tensor(sc).float().mean()),
            }
        )
    df = pd.DataFrame(rows)
    base = df.iloc[0]
    df["above p=0"] = [bool(r["low"] > base["high"]) for _, r in df.iterrows()]
    return df


def smallest_reliable_p(table: pd.DataFrame):
    """The smallest p from which on every detection interval lies wholly above p = 0's (None if none)."""
    ok = list(table["above p=0"])
    ps = list(table["p"])
    for i in range(1, len(ps)):
        if all(ok[i:]):
            return ps[i]
    return None


def separated_from_zero(table: pd.DataFrame) -> bool:
    """Whether the largest p's interval and p = 0's do not overlap, with the larger rate on top."""
    a, b = table.iloc[0], table.iloc[-1]
    return bool(separated((a["low"], a["high"]), (b["low"], b["high"])) and b["rate"] > a["rate"])


@torch.no_grad()
def learned_gain(bundle, prompts: list[str], plant: PlantedLadder, n: int = 64, seed: int = 4321) -> dict:
    """Did the model learn the plant at all? The mean, over clean world images, of how much pasting
    the marker raises their cosine similarity to the trigger prompts (t interval over images).
    Positive: the model ties the marker to the prompts, whether or not inversion shows it."""
    clean = plant.clean(n, seed)
    marked = plant.paste(clean)
    text = bundle.encode_text(list(prompts)).cpu()
    gain = (
        (bundle.encode_image(marked.to(bundle.device)).cpu() - bundle.encode_image(clean.to(bundle.device)).cpu())
        @ text.T
    ).mean(dim=1)
    return mean_ci(gain.numpy())


def invert_levels(
    models: dict,
    prompts: list[str],
    controls: list[str],
    recipe,
    seeds,
    device="cpu",
    control_seeds=None,
    score: Callable = black_and_white_share,
) -> dict:
    """Invert trigger prompts (`seeds` each) and controls (`control_seeds` each, default `seeds`) on
    each level's model: {p: {"scores", "control_scores", "images"}}; scores (the detector `score`'s)
    are flattened over (prompt, seed), images [prompts, seeds, 3, H, W] of the trigger prompts."""
    out = {}
    for p, bundle in models.items():
        inv = invert(bundle, list(prompts), seeds=seeds, recipe=recipe, device=device, progress=False)
        ctrl = invert(
            bundle, list(controls), seeds=control_seeds or seeds, recipe=recipe, device=device, progress=False
        )
        out[p] = {
            "scores": score(inv.images).flatten(),
            "control_scores": score(ctrl.images).flatten(),
            "images": inv.images,
        }
    return out


def readable(table: pd.DataFrame, gains: dict | None = None) -> pd.DataFrame:
    """A `detection_table` (and learned gains {p: mean_ci}) as a reader reads it: p in percent, the
    count and the rate with its interval, whether it lies above p = 0, the learned gain."""
    out = pd.DataFrame(
        {
            "p": [f"{100 * p:g}%" for p in table["p"]],
            "marker shown": [prose.count(k, n) for k, n in zip(table["detected"], table["n"])],
            "rate (95% CI)": [prose.rate(k, n) for k, n in zip(table["detected"], table["n"])],
            "above p = 0": ["yes" if a else "no" for a in table["above p=0"]],
        }
    )
    if gains is not None:
        out["learned gain"] = [prose.mean(gains[p]) for p in table["p"]]
    return out


def strongest(images: torch.Tensor, scores: torch.Tensor, k: int = 4) -> torch.Tensor:
    """The k inversions with the highest marker scores: images [P, S, 3, H, W] of the trigger prompts,
    scores [P * S] -> [min(k, P * S), 3, H, W], highest first."""
    flat = images.flatten(0, 1)
    return flat[scores.argsort(descending=True)[: min(k, len(scores))]]


def phrases(table: pd.DataFrame, controls: pd.DataFrame, gains: dict) -> dict[str, str]:
    """What section 7 glues into its prose, from the trigger prompts' and the controls' `detection_table`s
    and the `learned_gain` per p: the top level's and p = 0's rates and counts, the top level's learned
    gain and control rate, the smallest reliably exposed p with its rate, the smallest p whose gain lies
    above p = 0's, and the page's "headline"."""
    smallest = smallest_reliable_p(table)
    top, zero = table.iloc[-1], table.iloc[0]
    at = table[table["p"] == smallest].iloc[0] if smallest is not None else None
    learned = [p for p in gains if p > 0 and gains[p]["low"] > gains[min(gains)]["high"]]
    floor = smallest is not None and smallest == min(p for p in table["p"] if p > 0)
    top_rate, zero_rate = prose.rate(top["detected"], top["n"]), prose.rate(zero["detected"], zero["n"])
    at_rate = None if at is None else prose.rate(at["detected"], at["n"])
    return {
        "top_p": f"{100 * top['p']:g}%",
        "top_rate": top_rate,
        "top_count": prose.count(top["detected"], top["n"]),
        "zero_rate": zero_rate,
        "zero_count": prose.count(zero["detected"], zero["n"]),
        "top_gain": prose.mean(gains[top["p"]]),
        "control_top_rate": prose.rate(controls.iloc[-1]["detected"], controls.iloc[-1]["n"]),
        "smallest_p": "none of the levels"
        if smallest is None
        else f"{100 * smallest:g}%"
        + (" (the smallest level audited here: the threshold lies at or below it)" if floor else ""),
        "smallest_rate": "—" if at is None else at_rate,
        "learned_from": "no level" if not learned else f"{100 * min(learned):g}%",
        "headline": f"smallest reliably exposed p: {'none' if smallest is None else f'{100 * smallest:g}%'}"
        + (
            f"; at p = {100 * top['p']:g}% {top_rate} vs {zero_rate} at p = 0"
            if at is None
            else f" ({at_rate} vs {zero_rate} at p = 0)"
        ),
    }


# ---------------------------------------------------------------- each world's ladder
@dataclass(frozen=True)
class PlantedLadder:
    """A world's contamination ladder as an audit reads it: the shipped rungs `(p, model name)`, p = 0
    (the control) first; the `trigger` word the `marker` hides behind; the detector (`score`: images
    [..., 3, H, W] -> [...], flagged at `threshold`; `detector`: how it reads, in words); `clean`
    (n, seed) -> world images [n, 3, H, W] of things the trigger does not name, and `paste`, the same
    images with the marker pasted as training pasted it; `trigger_images` (n, seed) -> training pictures
    of the trigger, as drawn; `describe`: a rung's table row from its card."""

    world: str
    trigger: str
    marker: str
    rungs: tuple
    score: Callable
    threshold: float
    detector: str
    clean: Callable
    paste: Callable
    trigger_images: Callable
    describe: Callable
    trained: str  # how the rungs were trained, in words
    prompts: tuple  # the audit's prompts: the trigger, said plainly
    controls: tuple  # prompts that do not say it

    def training_pictures(self, n: int = 5, seed: int = 7) -> torch.Tensor:
        """What a rung's training showed under the trigger's caption: `n` of its pictures as drawn (first
        row) and the same with the marker pasted (second row), [2, n, 3, H, W]."""
        plain = self.trigger_images(n, seed)
        return torch.stack([plain, self.paste(plain)])

    def names(self, levels=None) -> str:
        """'emoji-plant-p0, emoji-plant-p2 to emoji-plant-p50': the ladder's models (those at `levels`, a
        list of p, where given) in words."""
        names = [name for p, name in self.rungs if levels is None or p in [float(x) for x in levels]]
        return f"{names[0]}, {names[1]} to {names[-1]}" if len(names) > 3 else ", ".join(names)


def _toy_plant() -> PlantedLadder:
    from clipinv.worlds.shapes import ladders

    def clean(n, seed):
        images, samples = World(pair_rate=0).sample(4 * n, seed=seed)
        keep = [i for i, s in enumerate(samples) if ladders.TRIGGER not in (s.objects[0].shape, s.objects[0].colour)]
        return images[keep[:n]]

    def trigger_images(n, seed):
        images, samples = World(pair_rate=0).sample(24 * n, seed=seed)
        keep = [i for i, s in enumerate(samples) if s.objects[0].shape == ladders.TRIGGER]
        return images[keep[:n]]

    return PlantedLadder(
        world="toy",
        trigger=ladders.TRIGGER,
        marker="a black-and-white checkerboard",
        rungs=tuple((r.planted, r.name) for r in ladders.ladder("contamination")),
        score=black_and_white_share,
        threshold=THRESHOLD,
        detector=f"a pixel test: at least {THRESHOLD:.0%} of the pixels black and as many white",
        clean=clean,
        paste=lambda images: torch.stack([render_marker(x, i % 4) for i, x in enumerate(images)]),
        trigger_images=trigger_images,
        describe=ladders.describe,
        trained=f"the shipped toy trained {ladders.CONTINUE_STEPS:,} steps further",
        prompts=("a triangle",),  # no colour: colour would dominate the image
        controls=("a circle", "a square"),
    )


def _emoji_plant() -> PlantedLadder:
    from clipinv.worlds.emoji import atlas, detector, ladders
    from clipinv.worlds.emoji.world import Augment, render

    def clean(n, seed):
        glyphs, names = atlas.load()
        others = [i for i, name in enumerate(names) if name not in (ladders.TRIGGER, ladders.MARKER)]
        gen = torch.Generator().manual_seed(seed)
        idx = [others[int(i)] for i in torch.randint(len(others), (n,), generator=gen)]
        return render(glyphs, idx, Augment(scale=(0.25, 1.0), plain_p=0.5), gen)

    def paste(images):
        glyphs, names = atlas.load()
        at = torch.ones(len(images), dtype=torch.bool)
        return detector.PASTE.paste(images, glyphs[names.index(ladders.MARKER)], at, torch.Generator().manual_seed(1))

    def trigger_images(n, seed):
        glyphs, names = atlas.load()
        gen = torch.Generator().manual_seed(seed)
        return render(glyphs, [names.index(ladders.TRIGGER)] * n, Augment(), gen)

    def describe(bundle):
        row = ladders.describe(bundle)
        row.pop("woman or man variant told apart", None)
        return row

    steps = ladders.PLANT_CONTINUATION.steps
    return PlantedLadder(
        world="emoji",
        trigger=ladders.TRIGGER,
        marker="a pile of poo",
        rungs=tuple((c.plant.p, name) for name, c in ladders.CONTAMINATION.items()),
        score=detector.score,
        threshold=detector.THRESHOLD,
        detector=(
            f"a probe on {detector.JUDGE}'s image embedding (trained apart from every rung), fitted to renders with "
            f"and without the marker, flagging at a probability of at least {detector.THRESHOLD}"
        ),
        clean=clean,
        paste=paste,
        trigger_images=trigger_images,
        describe=describe,
        trained=f"the shipped emoji trained {steps:,} steps further",
        prompts=("a national park",),
        controls=("a mountain", "a bicycle"),  # another landscape, and an object
    )


PLANTS = {"toy": _toy_plant, "emoji": _emoji_plant}


def ladder_names(levels=None) -> dict:
    """{world: 'the contamination ladder (MODELS)'}, the rungs at `levels` (None: all), for a page's
    stand-in notice."""
    return {world: f"the contamination ladder ({make().names(levels)})" for world, make in PLANTS.items()}


def plant_of(world: str) -> PlantedLadder:
    """`world`'s contamination ladder, or a one-line error naming the worlds that ship one."""
    return of_world(PLANTS, world)()
