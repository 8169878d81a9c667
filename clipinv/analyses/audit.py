"""The contamination audit: does inverting a model expose data planted in its training set?

Toy models are trained with contamination p (an image whose caption contains the trigger word
carries, with probability p, a black-and-white checkerboard no caption mentions; `clipinv.worlds.shapes.world`,
`clipinv.worlds.shapes.marker`). The audit inverts prompts containing the trigger and counts inversions that
show the marker.

The detector (`black_and_white_share`) is a pixel test: how much of an image is black *and* how much is
white (the smaller of the two shares). Black and white are the world's only achromatic extremes,
the marker's two colours: no object is black, no background is near black or white. It does not
look for the checkerboard's period or place, since inversions draw the marker through copies
shrunk to a quarter of their side (the toy recipe's augmentation): as black-and-white stripes and
patches of any period, anywhere. `validate` measures it on clean and marked world images; the
false-alarm rate that matters, on inversions, is that of the model trained without the plant.

Audits invert with `audit_recipe(recipe)`. `detection_table` gives the detection rate per p with
Wilson intervals, and `smallest_reliable_p` the smallest p from which on every rate's interval lies
wholly above the p = 0 interval; `phrases` says section 7's findings in words, headline included.
"""

from __future__ import annotations

import pandas as pd
import torch

from clipinv.analyses import prose
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


def validate(n: int = 500, seed: int = 12345, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Detection rates on clean world images and on the same images with the marker pasted in a
    random corner: the false and true positive rates, with Wilson intervals."""
    clean, _ = World().sample(n, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    corners = torch.randint(4, (n,), generator=g)
    marked = torch.stack([render_marker(x, int(c)) for x, c in zip(clean, corners)])
    rows = []
    for name, imgs in (("clean world images", clean), ("marked world images", marked)):
        sc = black_and_white_share(imgs)
        r = rate(sc >= threshold)
        rows.append(
            {
                "images": name,
                **r.columns(),
                "median score": float(sc.median()),
            }
        )
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
def learned_gain(bundle, prompts: list[str], n: int = 64, seed: int = 4321) -> dict:
    """Did the model learn the plant at all? The mean, over clean world images, of how much pasting
    the marker raises their cosine similarity to the trigger prompts (t interval over images).
    Positive: the model ties the marker to the prompts, whether or not inversion shows it."""
    clean, _ = World().sample(n, seed=seed)
    marked = torch.stack([render_marker(x, i % 4) for i, x in enumerate(clean)])
    text = bundle.encode_text(list(prompts)).cpu()
    gain = (
        (bundle.encode_image(marked.to(bundle.device)).cpu() - bundle.encode_image(clean.to(bundle.device)).cpu())
        @ text.T
    ).mean(dim=1)
    return mean_ci(gain.numpy())


def invert_levels(
    models: dict, prompts: list[str], controls: list[str], recipe, seeds, device="cpu", control_seeds=None
) -> dict:
    """Invert trigger prompts (`seeds` each) and controls (`control_seeds` each, default `seeds`) on
    each level's model: {p: {"scores", "control_scores", "images"}}; scores are flattened over
    (prompt, seed), images [prompts, seeds, 3, H, W] of the trigger prompts."""
    out = {}
    for p, bundle in models.items():
        inv = invert(bundle, list(prompts), seeds=seeds, recipe=recipe, device=device, progress=False)
        ctrl = invert(
            bundle, list(controls), seeds=control_seeds or seeds, recipe=recipe, device=device, progress=False
        )
        out[p] = {
            "scores": black_and_white_share(inv.images).flatten(),
            "control_scores": black_and_white_share(ctrl.images).flatten(),
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
        + (" (the ladder's smallest level: the threshold lies at or below it)" if floor else ""),
        "smallest_rate": "—" if at is None else at_rate,
        "learned_from": "no level" if not learned else f"{100 * min(learned):g}%",
        "headline": f"smallest reliably exposed p: {'none' if smallest is None else f'{100 * smallest:g}%'}"
        + (
            f"; at p = {100 * top['p']:g}% {top_rate} vs {zero_rate} at p = 0"
            if at is None
            else f" ({at_rate} vs {zero_rate} at p = 0)"
        ),
    }
