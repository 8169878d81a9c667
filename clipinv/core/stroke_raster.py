"""A small differentiable rasteriser of cubic Bézier strokes, CLIPDraw's brush written in torch.

Each stroke is a cubic Bézier curve (four control points, in units of the image side: (0, 0) the
top-left corner, (1, 1) the bottom-right) with a width, a colour and an opacity. It is drawn as a
soft distance field: the curve is sampled at `SEGMENTS` + 1 points, a pixel's distance to the
stroke is its distance to the nearest of the segments between them, and its coverage is a sigmoid
of (half the width minus that distance) over `softness` pixels. So every parameter gets a gradient
from the pixels along the stroke's edge, as in diffvg's anti-aliased renderer, without its kernels.
The strokes are composited in order (the last on top) over a plain canvas with the "over" operator,
vectorised over strokes as a reverse cumulative product of the transparencies.

A stroke is `FIELDS` numbers: the control points x0, y0, ..., x3, y3; the width's logit (width =
`MAX_WIDTH` x sigmoid, in units of the side); the colour's three logits; the opacity's logit.
The cost is strokes x segments x pixels per image (`bench/priors.py` measures it).
"""

from __future__ import annotations

import math

import torch

SEGMENTS = 8  # straight segments per curve
FIELDS = 13  # numbers per stroke: 4 control points (x, y), width, colour (3), opacity
MAX_WIDTH = 0.25  # the widest stroke, in units of the image side
START_WIDTH = 0.06  # a new stroke's width (2 pixels of a 32 px image, 13 of 224)
START_OPACITY = 0.75
START_REACH = 0.1  # each further control point of a new stroke lies within this of the one before


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def random_strokes(n: int, generator: torch.Generator) -> torch.Tensor:
    """`n` new strokes [n, FIELDS] drawn from `generator`: each starts anywhere on the canvas and
    wanders a short way (CLIPDraw's start), with a random colour, width START_WIDTH, opacity START_OPACITY."""
    start = torch.rand(n, 1, 2, generator=generator)
    steps = (torch.rand(n, 3, 2, generator=generator) * 2 - 1) * START_REACH
    points = torch.cat([start, start + steps.cumsum(dim=1)], dim=1).reshape(n, 8)
    colour = torch.randn(n, 3, generator=generator)
    width = torch.full((n, 1), logit(START_WIDTH / MAX_WIDTH))
    opacity = torch.full((n, 1), logit(START_OPACITY))
    return torch.cat([points, width, colour, opacity], dim=1)


def curve_points(strokes: torch.Tensor) -> torch.Tensor:
    """strokes [B, N, FIELDS] -> each curve sampled at SEGMENTS + 1 points [B, N, SEGMENTS + 1, 2]."""
    control = strokes[..., :8].unflatten(-1, (4, 2))
    t = torch.linspace(0, 1, SEGMENTS + 1, device=strokes.device, dtype=strokes.dtype)
    basis = torch.stack([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3], dim=-1)  # [S+1, 4]
    return torch.einsum("sk,bnkd->bnsd", basis, control)


def coverage(strokes: torch.Tensor, side: int, softness: float = 1.0) -> torch.Tensor:
    """How much each stroke covers each pixel centre, in [0, 1): [B, N, side * side] (row-major)."""
    pts = curve_points(strokes)
    a, ab = pts[:, :, :-1, None, :], (pts[:, :, 1:] - pts[:, :, :-1])[:, :, :, None, :]  # [B, N, S, 1, 2]
    centres = (torch.arange(side, device=strokes.device, dtype=strokes.dtype) + 0.5) / side
    px = centres.repeat(side)  # x runs along a row
    py = centres.repeat_interleave(side)
    ux, uy = px - a[..., 0], py - a[..., 1]  # [B, N, S, P]
    dx, dy = ab[..., 0], ab[..., 1]
    along = ((ux * dx + uy * dy) / (dx * dx + dy * dy + 1e-12)).clamp(0, 1)
    d2 = (ux - along * dx) ** 2 + (uy - along * dy) ** 2
    distance = (d2.amin(dim=2) + 1e-10).sqrt()  # [B, N, P]
    half_width = 0.5 * MAX_WIDTH * torch.sigmoid(strokes[..., 8:9])  # [B, N, 1]
    return torch.sigmoid((half_width - distance) * (side / softness))


def render(strokes: torch.Tensor, side: int, background: float = 0.5, softness: float = 1.0) -> torch.Tensor:
    """strokes [B, N, FIELDS] over a canvas of grey `background` -> images [B, 3, side, side] in [0, 1]."""
    alpha = torch.sigmoid(strokes[..., 12:13]) * coverage(strokes, side, softness)  # [B, N, P]
    colour = torch.sigmoid(strokes[..., 9:12])  # [B, N, 3]
    through = torch.cumprod((1 - alpha).flip(1), dim=1).flip(1)  # [B, N, P]: light through stroke i and above
    above = torch.cat([through[:, 1:], torch.ones_like(through[:, :1])], dim=1)  # through the strokes above i
    image = background * through[:, 0, None] + torch.einsum("bnp,bnc->bcp", alpha * above, colour)
    return image.unflatten(-1, (side, side))
