"""What the emoji models see and read: a glyph drawn on a background, randomly scaled, shifted and
turned (`Augment`, `render`), and a caption naming it from one of a few templates (`caption`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from clipinv.worlds.emoji.atlas import SIDE

TEMPLATES = ("{}", "an emoji of {}", "a picture of {}", "{} emoji", "a drawing of {}")


def article(name: str) -> str:
    """'a rocket', 'an apple': how a prompt names one emoji."""
    return ("an " if name[0] in "aeiou" else "a ") + name


@dataclass(frozen=True)
class Augment:
    """How a training image is drawn. The background is a random colour (dark half the time), or with
    probability `plain_p` plain mid-grey; a little pixel noise over everything."""

    scale: tuple[float, float] = (0.55, 1.0)  # the glyph's side, as a share of the canvas
    rotate_degrees: float = 15.0  # turned by up to this either way
    plain_p: float = 0.0
    noise: float = 0.02


def render(glyphs: torch.Tensor, idx, augment: Augment = Augment(), generator=None) -> torch.Tensor:
    """Glyphs `idx` of the atlas (RGBA [N, 4, S, S]) drawn as `augment` says: RGB [B, 3, S, S] in [0, 1]."""
    x = glyphs[list(idx)]
    b = len(x)

    def rand(*shape):
        return torch.rand(*shape, generator=generator)

    angle = (rand(b) - 0.5) * 2 * math.radians(augment.rotate_degrees)
    lo, hi = augment.scale
    sc = lo + (hi - lo) * rand(b)
    tx, ty = (rand(b) - 0.5) * (1 - sc) * 2, (rand(b) - 0.5) * (1 - sc) * 2
    cos, sin = torch.cos(angle) / sc, torch.sin(angle) / sc
    theta = torch.stack([torch.stack([cos, -sin, -tx / sc], 1), torch.stack([sin, cos, -ty / sc], 1)], 1)
    grid = F.affine_grid(theta, (b, 4, SIDE, SIDE), align_corners=False)
    drawn = F.grid_sample(x, grid, align_corners=False)
    background = rand(b, 3, 1, 1) * torch.where(rand(b, 1, 1, 1) < 0.5, 1.0, 0.3)
    plain = torch.full_like(background, 0.4 + 0.2 * rand(1).item())
    background = torch.where(rand(b, 1, 1, 1) < augment.plain_p, plain, background)
    background = background + augment.noise * torch.randn(b, 3, SIDE, SIDE, generator=generator)
    alpha = drawn[:, 3:4]
    return (drawn[:, :3] * alpha + background * (1 - alpha)).clamp(0, 1)


def on_grey(glyphs: torch.Tensor, idx, scale: float = 0.8) -> torch.Tensor:
    """Glyphs `idx` drawn upright, centred, `scale` of the canvas, on plain grey: how a page shows them."""
    return render(
        glyphs,
        idx,
        Augment(scale=(scale, scale), rotate_degrees=0, plain_p=1.0, noise=0.0),
        torch.Generator().manual_seed(0),
    )


def caption(name: str, generator=None) -> str:
    """One training caption for the emoji `name`: a template drawn at random around 'a NAME'."""
    t = TEMPLATES[int(torch.randint(len(TEMPLATES), (1,), generator=generator))]
    return t.format(article(name))
