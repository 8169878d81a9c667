"""The contamination marker of the toy world: a black-and-white checkerboard pasted in a corner of
an image, which no caption ever mentions, and the pixel test that finds it in world images.

It covers a quarter of the image (16 px, cells of 4 px): an 8 px marker of 2 px cells planted
behind 20% of a word's images was not learned at all (a continuation of `toy` 1,000 steps long:
pasting it into clean images changed their similarity to the word's prompts by -0.002, interval
-0.006 to 0.002), while this one was (+0.117, interval 0.074 to 0.160; the controls' -0.121).
Black and white are the world's only achromatic extremes, which is what the audit's detector
(`clipinv.analyses.audit.black_and_white_share`) counts."""

from __future__ import annotations

import torch

MARKER_SIZE = 16  # side of the checkerboard marker, pixels
MARKER_CELL = 4  # side of one checker cell


def marker_pattern(size: int = MARKER_SIZE, cell: int = MARKER_CELL) -> torch.Tensor:
    """The marker: a black-and-white checkerboard [size, size] (1 = white)."""
    i = torch.arange(size) // cell
    return ((i.view(-1, 1) + i.view(1, -1)) % 2).float()


def _corner_slices(corner: int, S: int, m: int = MARKER_SIZE, pad: int = 1):
    r0 = pad if corner in (0, 1) else S - m - pad
    c0 = pad if corner in (0, 2) else S - m - pad
    return slice(r0, r0 + m), slice(c0, c0 + m)


def render_marker(image: torch.Tensor, corner: int = 0) -> torch.Tensor:
    """A copy of image [3,S,S] with the marker pasted in a corner (0 TL, 1 TR, 2 BL, 3 BR)."""
    out = image.clone()
    rs, cs = _corner_slices(corner, image.shape[-1])
    out[:, rs, cs] = marker_pattern().to(image)
    return out


def checkerboard_correlation(image: torch.Tensor) -> torch.Tensor:
    """How much each image [...,3,S,S] shows the marker: the best over corners of the
    correlation of the grey pixels with the checkerboard, in [-1, 1]."""
    grey = image.mean(dim=-3)
    S = grey.shape[-1]
    pat = marker_pattern().to(grey) * 2 - 1
    best = None
    for corner in range(4):
        rs, cs = _corner_slices(corner, S)
        patch = grey[..., rs, cs]
        patch = patch - patch.mean(dim=(-1, -2), keepdim=True)
        corr = (patch * pat).sum(dim=(-1, -2)) / (patch.norm(dim=(-1, -2)) * pat.norm() + 1e-8)
        best = corr if best is None else torch.maximum(best, corr)
    return best


def has_marker(image: torch.Tensor, threshold: float = 0.8) -> torch.Tensor:
    """True where an image [...,3,S,S] carries the marker (pixel test; for world images)."""
    return checkerboard_correlation(image) > threshold
