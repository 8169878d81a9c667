"""Read the colour of a toy image off its pixels, without any model: the ground-truth check of
an inversion's colour, independent of every CLIP.

Each pixel votes by hue: a pixel saturated enough (HSV saturation >= `min_saturation`, value >=
`min_value`) votes for the palette colour of nearest hue, weighted by saturation x value; a bright,
unsaturated pixel (value >= `white_value`, saturation <= `white_saturation`) votes for white. The
background's greys are neither, so they never vote. The colour with the most votes wins.

Hue survives what total variation and averaging over augmented copies do to inversions (they pull
colours towards grey, i.e. lower saturation and value, but keep the hue), where the probe's
read-out (nearest palette colour in RGB of the pixels within a fixed RGB distance) lost most pixels
once colours faded. `probe_colour` keeps that read-out for comparison.
"""

from __future__ import annotations

import torch

from .world import COLOURS, PALETTE

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


def colour_votes(images: torch.Tensor, min_saturation: float = 0.4, min_value: float = 0.25,
                 white_value: float = 0.8, white_saturation: float = 0.18) -> torch.Tensor:
    """Votes [..., 8] (in COLOURS order) of the pixels of images [..., 3, H, W] in [0, 1]."""
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:]).float().clamp(0, 1)
    hue, sat, val = _hsv(x)
    ph = _palette_hues()
    chromatic = torch.tensor([c != "white" for c in COLOURS])
    diff = (hue.unsqueeze(-1) - ph) % 360
    diff = torch.minimum(diff, 360 - diff)
    diff[..., ~chromatic] = float("inf")
    nearest = diff.argmin(dim=-1)  # [N, H, W]
    weight = sat * val * ((sat >= min_saturation) & (val >= min_value)).float()
    votes = torch.zeros(x.shape[0], len(COLOURS))
    votes.scatter_add_(1, nearest.flatten(1), weight.flatten(1))
    white = ((val >= white_value) & (sat <= white_saturation)).float() * val
    votes[:, WHITE] += white.flatten(1).sum(1)
    return votes.view(*lead, len(COLOURS))


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


def _nest(names: list, shape) -> list:
    if len(shape) <= 1:
        return names
    step = len(names) // shape[0]
    return [_nest(names[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def fade(images: torch.Tensor, amount: float, blur: int = 3) -> torch.Tensor:
    """Images blended `amount` towards their grey mean and box-blurred: a stand-in for what TV
    and copy-averaging do to inverted colours, to test read-outs against."""
    grey = images.mean(dim=(-3, -2, -1), keepdim=True)
    x = images * (1 - amount) + grey * amount
    if blur > 1:
        x = torch.nn.functional.avg_pool2d(x, blur, stride=1, padding=blur // 2, count_include_pad=False)
    return x
