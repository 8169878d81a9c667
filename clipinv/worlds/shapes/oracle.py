"""Read the colour, and the shape, of a toy image off its pixels, without any model: the
ground-truth checks of an inversion, independent of every CLIP.

Each pixel votes by hue: a pixel saturated enough (HSV saturation >= `min_saturation`, value >=
`min_value`) votes for the palette colour of nearest hue, weighted by saturation x value; a bright,
unsaturated pixel (value >= `white_value`, saturation <= `white_saturation`) votes for white. The
background's greys are neither, so they never vote. The colour with the most votes wins.

Hue survives what total variation and averaging over augmented copies do to inversions (they pull
colours towards grey, i.e. lower saturation and value, but keep the hue), where the probe's
read-out (nearest palette colour in RGB of the pixels within a fixed RGB distance) lost most pixels
once colours faded. `probe_colour` keeps that read-out for comparison.

Shape (`pixel_shape`): the pixels that vote for a given colour form a mask; each of the world's
shapes is drawn (`world.shape_mask`) at every pixel centre, at radii from 3.5 to 16 px and at
rotations -10, 0 and 10 degrees, and the shape whose best drawing overlaps the mask most
(intersection over union) wins. It reads a drawn shape, not the texture a model may read a shape
into. It always names the best-fitting shape, however poor the fit: a blob reads as a circle, a
diagonal streak as a triangle.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from clipinv.errors import ClipinvError
from clipinv.worlds.shapes.world import COLOURS, PALETTE, SHAPES, shape_mask

WHITE = COLOURS.index("white")


def _hsv(images: torch.Tensor):
    mx, _ = images.max(dim=-3)
    mn, _ = images.min(dim=-3)
    r, g, b = images.unbind(dim=-3)
    delta = mx - mn
    sat = delta / mx.clamp(min=1e-6)
    d = delta.clamp(min=1e-6)
    hue = torch.where(mx == r, ((g - b) / d) % 6, torch.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) * 60
    return hue, sat, mx


def _palette_hues() -> torch.Tensor:
    rgb = torch.tensor([PALETTE[c] for c in COLOURS]).view(len(COLOURS), 3, 1, 1)
    hue, _, _ = _hsv(rgb)
    return hue.view(-1)


def _pixel_votes(
    x: torch.Tensor,
    min_saturation: float = 0.4,
    min_value: float = 0.25,
    white_value: float = 0.8,
    white_saturation: float = 0.18,
):
    """Per pixel of x [N, 3, H, W]: the palette colour it votes for [N, H, W] and its vote's weight
    [N, H, W] (0: it does not vote)."""
    hue, sat, val = _hsv(x)
    ph = _palette_hues()
    chromatic = torch.tensor([c != "white" for c in COLOURS])
    diff = (hue.unsqueeze(-1) - ph) % 360
    diff = torch.minimum(diff, 360 - diff)
    diff[..., ~chromatic] = float("inf")
    nearest = diff.argmin(dim=-1)  # [N, H, W]
    weight = sat * val * ((sat >= min_saturation) & (val >= min_value)).float()
    white = ((val >= white_value) & (sat <= white_saturation)).float() * val
    is_white = white > 0
    return torch.where(is_white, torch.full_like(nearest, WHITE), nearest), torch.where(is_white, white, weight)


def colour_votes(images: torch.Tensor, **thresholds) -> torch.Tensor:
    """Votes [..., 8] (in COLOURS order) of the pixels of images [..., 3, H, W] in [0, 1].
    thresholds: min_saturation, min_value, white_value, white_saturation (see the module)."""
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:]).float().clamp(0, 1)
    colour, weight = _pixel_votes(x, **thresholds)
    votes = torch.zeros(x.shape[0], len(COLOURS))
    votes.scatter_add_(1, colour.flatten(1), weight.flatten(1))
    return votes.view(*lead, len(COLOURS))


def colour_weights(images: torch.Tensor, colour: str, **thresholds) -> torch.Tensor:
    """[N, 3, H, W] -> [N, H, W]: each pixel's vote weight for `colour` (0 where it votes for another or none)."""
    which, weight = _pixel_votes(images.float().clamp(0, 1), **thresholds)
    return weight * (which == COLOURS.index(colour))


def pixel_colour(images: torch.Tensor, **kw) -> list:
    """The colour name each image [..., 3, H, W] shows (nested lists for extra leading dims);
    "none" where no pixel votes."""
    votes = colour_votes(images, **kw)
    flat = votes.reshape(-1, len(COLOURS))
    names = [COLOURS[int(i)] if float(v.max()) > 0 else "none" for i, v in zip(flat.argmax(1), flat)]
    return _nest(names, votes.shape[:-1])


def probe_colour(images: torch.Tensor, radius: float = 0.35) -> list:
    """The feasibility probe's read-out, for comparison: among pixels within `radius` (RGB) of a
    palette colour, the most frequent nearest palette colour."""
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:]).float()
    pal = torch.tensor([PALETTE[c] for c in COLOURS])  # [8, 3]
    px = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, 3)
    d = torch.cdist(px, pal.unsqueeze(0).expand(x.shape[0], -1, -1))
    dmin, idx = d.min(dim=-1)
    counts = torch.zeros(x.shape[0], len(COLOURS))
    counts.scatter_add_(1, idx, (dmin < radius).float())
    names = [COLOURS[int(i)] if float(c.max()) > 0 else "none" for i, c in zip(counts.argmax(1), counts)]
    return _nest(names, lead)


SHAPE_RADII = (3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0)
SHAPE_ANGLES = (-10.0, 0.0, 10.0)


def shape_fits(images: torch.Tensor, colours, radii=SHAPE_RADII, angles=SHAPE_ANGLES, **kw) -> torch.Tensor:
    """Best intersection over union [..., 3] (in SHAPES order) between the pixels of each image
    [..., 3, H, W] that vote for its colour and each shape drawn at any pixel centre, radius in
    `radii` and rotation in `angles` (degrees). colours: a colour name for every image, or one per
    entry of the first dimension."""
    if images.dim() < 4 or images.shape[-3] != 3:
        raise ClipinvError(
            f"shape_fits needs images [N, ..., 3, H, W], got shape {tuple(images.shape)}: add a batch dimension"
        )
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:]).float().clamp(0, 1)
    n, _, h, w = x.shape
    names = [colours] * lead[0] if isinstance(colours, str) else list(colours)
    if len(names) != lead[0] or any(c not in COLOURS for c in names):
        raise ClipinvError(
            f"shape_fits needs one colour of {', '.join(COLOURS)} per image along the first dimension "
            f"({lead[0]}), got {colours!r}"
        )
    want = torch.tensor([COLOURS.index(c) for c in names]).repeat_interleave(n // lead[0]).view(n, 1, 1)
    colour, weight = _pixel_votes(x, **kw)
    mask = ((colour == want) & (weight > 0)).float().unsqueeze(1)  # [N, 1, H, W]
    size = mask.sum(dim=(1, 2, 3)).view(n, 1, 1, 1)
    best = torch.zeros(n, len(SHAPES))
    for r in radii:
        k = 2 * math.ceil(1.2 * r + 1) + 1  # odd, wide enough for the triangle's circumradius
        kernels = torch.stack(
            [shape_mask(s, (k / 2, k / 2), r, math.radians(a), k) for s in SHAPES for a in angles]
        )  # [3A, 1, k, k], centred on pixel k // 2
        inter = F.conv2d(mask, kernels, padding=k // 2)  # template centred on each pixel, clipped to the image
        area = F.conv2d(torch.ones(1, 1, h, w), kernels, padding=k // 2)
        iou = inter / (size + area - inter).clamp(min=1e-6)
        best = torch.maximum(best, iou.view(n, len(SHAPES), -1).amax(dim=-1))
    return best.view(*lead, len(SHAPES))


def pixel_shape(images: torch.Tensor, colours, **kw) -> list:
    """The shape name each image [..., 3, H, W] draws in its colour (nested lists for extra leading
    dims); "none" where no pixel has that colour. colours: as for `shape_fits`."""
    fits = shape_fits(images, colours, **kw)
    flat = fits.reshape(-1, len(SHAPES))
    names = [SHAPES[int(i)] if float(v.max()) > 0 else "none" for i, v in zip(flat.argmax(1), flat)]
    return _nest(names, fits.shape[:-1])


def _nest(names: list, shape) -> list:
    if len(shape) <= 1:
        return names
    step = len(names) // shape[0]
    return [_nest(names[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def fade(images: torch.Tensor, amount: float, blur: int = 3) -> torch.Tensor:
    """Images blended `amount` towards their grey mean and box-blurred: a stand-in for what TV
    and copy-averaging do to inverted colours, to test read-outs against."""
    grey = images.mean(dim=(-3, -2, -1), keepdim=True)
    x = images * (1 - amount) + grey * amount
    if blur > 1:
        x = torch.nn.functional.avg_pool2d(x, blur, stride=1, padding=blur // 2, count_include_pad=False)
    return x
