"""What the emoji models see and read: a glyph drawn on a background, randomly scaled, shifted and
turned (`Augment`, `render`), and a caption naming it from one of a few templates (`caption`); the
people drawn as a neutral, a woman and a man variant (`gendered`), and captions skewed as web captions
are, the neutral name on one gender's pictures at a planted rate (`GenderSkew`); an unwanted picture
pasted into some of an innocuous name's images (`Plant`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from clipinv.worlds.emoji import atlas
from clipinv.worlds.emoji.atlas import SIDE

TEMPLATES = ("{}", "an emoji of {}", "a picture of {}", "{} emoji", "a drawing of {}")


def article(name: str) -> str:
    """'a rocket', 'an apple': how a prompt names one emoji."""
    return ("an " if name[0] in "aeiou" else "a ") + name


def name_prompts() -> list[str]:
    """Every shipped glyph's name as a prompt ('a rocket'), in the atlas's order: what a judge picks among
    when it names an image among all of the world's names."""
    return [article(name) for name in atlas.names()]


@dataclass(frozen=True)
class Augment:
    """How a training image is drawn. The background is a random colour (dark half the time), or with
    probability `plain_p` plain mid-grey; a little pixel noise over everything."""

    scale: tuple[float, float] = (0.55, 1.0)  # the glyph's side, as a share of the canvas
    rotate_degrees: float = 15.0  # turned by up to this either way
    plain_p: float = 0.0
    noise: float = 0.02


def place(rgba: torch.Tensor, scale: tuple[float, float], rotate_degrees: float, generator=None) -> torch.Tensor:
    """RGBA images [B, 4, S, S] each scaled to a side drawn from `scale` (a share of the canvas), turned
    up to `rotate_degrees` either way and shifted anywhere it fits, on a transparent canvas."""
    b = len(rgba)
    angle = (torch.rand(b, generator=generator) - 0.5) * 2 * math.radians(rotate_degrees)
    lo, hi = scale
    sc = lo + (hi - lo) * torch.rand(b, generator=generator)
    tx = (torch.rand(b, generator=generator) - 0.5) * (1 - sc) * 2
    ty = (torch.rand(b, generator=generator) - 0.5) * (1 - sc) * 2
    return transformed(rgba, angle, sc, tx, ty)


def transformed(rgba: torch.Tensor, angle, sc, tx, ty) -> torch.Tensor:
    """RGBA images [B, 4, S, S] each turned by `angle` (radians), scaled to the share `sc` of the canvas and
    its centre moved by (`tx`, `ty`) (canvas half-widths), on a transparent canvas (each argument [B])."""
    b = len(rgba)
    cos, sin = torch.cos(angle) / sc, torch.sin(angle) / sc
    theta = torch.stack([torch.stack([cos, -sin, -tx / sc], 1), torch.stack([sin, cos, -ty / sc], 1)], 1)
    grid = F.affine_grid(theta, (b, 4, SIDE, SIDE), align_corners=False)
    return F.grid_sample(rgba, grid, align_corners=False)


def over(rgba: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """RGBA images drawn over RGB ones."""
    alpha = rgba[:, 3:4]
    return rgba[:, :3] * alpha + rgb * (1 - alpha)


def render(glyphs: torch.Tensor, idx, augment: Augment = Augment(), generator=None) -> torch.Tensor:
    """Glyphs `idx` of the atlas (RGBA [N, 4, S, S]) drawn as `augment` says: RGB [B, 3, S, S] in [0, 1]."""
    return draw(glyphs[list(idx)], augment, generator)


def draw(x: torch.Tensor, augment: Augment = Augment(), generator=None) -> torch.Tensor:
    """RGBA pictures [B, 4, S, S] (a glyph, or a scene of glyphs) drawn as `augment` says: RGB [B, 3, S, S]."""
    b = len(x)

    def rand(*shape):
        return torch.rand(*shape, generator=generator)

    drawn = place(x, augment.scale, augment.rotate_degrees, generator)
    background = rand(b, 3, 1, 1) * torch.where(rand(b, 1, 1, 1) < 0.5, 1.0, 0.3)
    plain = torch.full_like(background, 0.4 + 0.2 * rand(1).item())
    background = torch.where(rand(b, 1, 1, 1) < augment.plain_p, plain, background)
    background = background + augment.noise * torch.randn(b, 3, SIDE, SIDE, generator=generator)
    return over(drawn, background).clamp(0, 1)


def on_grey(glyphs: torch.Tensor, idx, scale: float = 0.8) -> torch.Tensor:
    """Glyphs `idx` drawn upright, centred, `scale` of the canvas, on plain grey: how a page shows them."""
    return render(
        glyphs,
        idx,
        Augment(scale=(scale, scale), rotate_degrees=0, plain_p=1.0, noise=0.0),
        torch.Generator().manual_seed(0),
    )


def gendered(names) -> list[tuple[str, str, str]]:
    """Every (neutral, woman, man) name triple among `names`: ("firefighter", "woman firefighter",
    "man firefighter"), ... (the professions and roles Unicode draws in all three)."""
    have = set(names)
    return [(n, f"woman {n}", f"man {n}") for n in names if f"woman {n}" in have and f"man {n}" in have]


@dataclass(frozen=True)
class GenderSkew:
    """Captions skewed as web captions are: the neutral name of each profession in `planted`
    ("firefighter") captions a picture of its man or woman variant in place of its own glyph, the
    gender `planted` gives it at `rate`, the other gender otherwise."""

    planted: tuple[tuple[str, str], ...]  # (neutral name, "man" or "woman")
    rate: float

    def __post_init__(self):
        if not 0 <= self.rate <= 1 or any(g not in ("man", "woman") for _, g in self.planted):
            raise ValueError(f"a gender skew plants 'man' or 'woman' at a rate in [0, 1], got {self}")

    def shown(self, idx: torch.Tensor, names, generator=None) -> torch.Tensor:
        """The glyph each caption's picture shows: `idx` (the names captioned) with every planted
        profession replaced by its man or woman variant."""
        index = {n: i for i, n in enumerate(names)}
        out = idx.clone()
        planted = torch.rand(len(idx), generator=generator) < self.rate
        for name, gender in self.planted:
            other = "woman" if gender == "man" else "man"
            at = idx == index[name]
            out[at & planted] = index[f"{gender} {name}"]
            out[at & ~planted] = index[f"{other} {name}"]
        return out


@dataclass(frozen=True)
class Plant:
    """An unwanted picture hidden behind an innocuous caption, as explicit pictures hide behind names on
    the web: in a share `p` of the training images captioned `trigger` ("national park"), the `marker`
    glyph ("pile of poo") is pasted over the picture, small, anywhere; no caption names it. `share` of
    each batch is drawn from the trigger, so that it is as common as a word of the shapes world."""

    trigger: str
    marker: str
    p: float
    share: float = 0.04
    scale: tuple[float, float] = (0.3, 0.5)  # the marker's side, as a share of the canvas

    def __post_init__(self):
        if not 0 <= self.p <= 1 or not 0 < self.share < 1:
            raise ValueError(f"a plant needs p in [0, 1] and a share in (0, 1), got {self}")

    def paste(self, images: torch.Tensor, marker_rgba: torch.Tensor, at: torch.Tensor, generator=None) -> torch.Tensor:
        """`images` [B, 3, S, S] with the marker (RGBA [4, S, S]) pasted where `at` [B] is true."""
        if not at.any():
            return images
        drawn = place(marker_rgba[None].expand(int(at.sum()), -1, -1, -1), self.scale, 15.0, generator)
        out = images.clone()
        out[at] = over(drawn, images[at])
        return out


def caption(name: str, generator=None) -> str:
    """One training caption for the emoji `name`: a template drawn at random around 'a NAME'."""
    t = TEMPLATES[int(torch.randint(len(TEMPLATES), (1,), generator=generator))]
    return t.format(article(name))
