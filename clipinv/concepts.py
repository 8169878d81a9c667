"""Section 1's concept claims, read off the pixels of toy inversions by the pixel oracle
(`clipinv.toy.oracle`), so that no CLIP judges them:

- a blend shows both components: both colours hold a share of the image's coloured pixels;
- sizes come out: "a large X" covers more pixels than "a small X" with the same seed;
- positions come out: the coloured pixels' centre lies on the named side of the image;
- under-specified prompts vary: "a circle" comes out in several colours across seeds, while a fully
  specified prompt keeps one.

Each reading is a rate over inversions with its Wilson interval (`clipinv.stats.rate`).
"""

from __future__ import annotations

import torch

from .errors import ClipinvError
from .stats import rate
from .toy.oracle import colour_votes, colour_weights, pixel_colour, pixel_shape
from .toy.world import COLOURS

BLEND_SHARE = 0.15  # a component "shows" when its colour holds at least this share of the coloured pixels


def colour_shares(images: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] -> [..., 8]: each palette colour's share of the image's coloured-pixel votes."""
    v = colour_votes(images)
    return v / v.sum(-1, keepdim=True).clamp(min=1e-8)


def shows_both(images: torch.Tensor, a: str, b: str, share: float = BLEND_SHARE) -> torch.Tensor:
    """[..., 3, H, W] -> bool [...]: whether colours a and b each hold at least `share` of the votes."""
    for c in (a, b):
        if c not in COLOURS:
            raise ClipinvError(f"unknown colour {c!r}: pick one of {', '.join(COLOURS)}")
    s = colour_shares(images)
    return (s[..., COLOURS.index(a)] >= share) & (s[..., COLOURS.index(b)] >= share)


def footprint(images: torch.Tensor, colour: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels voting for `colour`: their weighted area [...] (in pixels) and centre [..., 2] (x, y in
    pixels, 0 at the left/top edge; the image centre where no pixel votes)."""
    if colour not in COLOURS:
        raise ClipinvError(f"unknown colour {colour!r}: pick one of {', '.join(COLOURS)}")
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:]).float().clamp(0, 1)
    w = colour_weights(x, colour)  # [N, H, W]
    h, wd = w.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(wd) + 0.5, indexing="ij")
    area = w.sum(dim=(-1, -2))
    safe = area.clamp(min=1e-8)
    cx = torch.where(area > 0, (w * xs).sum(dim=(-1, -2)) / safe, torch.full_like(area, wd / 2))
    cy = torch.where(area > 0, (w * ys).sum(dim=(-1, -2)) / safe, torch.full_like(area, h / 2))
    return area.view(lead), torch.stack([cx, cy], -1).view(*lead, 2)


SIDES = {"left": (0, -1), "right": (0, 1), "top": (1, -1), "bottom": (1, 1)}


def on_side(images: torch.Tensor, colour: str, side: str) -> torch.Tensor:
    """bool [...]: whether the centre of `colour`'s pixels lies on `side` of the image's middle."""
    if side not in SIDES:
        raise ClipinvError(f"unknown side {side!r}: pick one of {', '.join(SIDES)}")
    axis, sign = SIDES[side]
    _, centre = footprint(images, colour)
    middle = (images.shape[-1] if axis == 0 else images.shape[-2]) / 2
    return (centre[..., axis] - middle) * sign > 0


def larger(large: torch.Tensor, small: torch.Tensor, colour: str) -> torch.Tensor:
    """bool [...]: whether each inversion of "a large ..." covers more of `colour` than the inversion
    of "a small ..." with the same seed (images [..., 3, H, W], the same leading shape)."""
    if large.shape != small.shape:
        raise ClipinvError(f"large and small inversions must pair up seed by seed, got {tuple(large.shape)} and {tuple(small.shape)}")
    return footprint(large, colour)[0] > footprint(small, colour)[0]


def variety(images: torch.Tensor, what: str = "colour", colour: str | None = None) -> dict:
    """What the pixel oracle reads in a row of inversions [S, 3, H, W] (one prompt, S seeds): the values
    read, how many distinct, and the largest share one value takes. `what`: "colour" or "shape"
    (the shape drawn in `colour`, or in each image's own colour)."""
    if what == "colour":
        read = pixel_colour(images)
    elif what == "shape":
        read = pixel_shape(images, colour or pixel_colour(images))
    else:
        raise ClipinvError(f"variety reads 'colour' or 'shape', got {what!r}")
    counts = {v: read.count(v) for v in dict.fromkeys(read)}
    return {"read": read, "distinct": len(counts), "top share": max(counts.values()) / len(read), "counts": counts}


def claim_row(claim: str, flags, expected: str) -> dict:
    """One row of the claims table: the claim, the rate at which inversions bear it out, what chance
    or the opposite reading would give."""
    r = rate(flags)
    return {"claim": claim, "n": r["n"], "borne out": r["k"], "rate": r["rate"], "low": r["low"], "high": r["high"], "against": expected}
