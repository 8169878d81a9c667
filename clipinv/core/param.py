"""Parameterisations of the image being inverted (lucent's `param`), the *image prior*: what the
optimiser changes, and how that becomes an image.

- `Pixels` (the paper's): the parameters are the pixels themselves.
- `Fourier` (Olah et al. 2017's "spectrum" parameterisation, lucent's `param.image(fft=True)`): the
  parameters are the image's 2-D Fourier spectrum (orthonormal `rfft2`), each frequency divided by
  a scale that falls as 1/f^decay. Gradient steps on these parameters move low frequencies faster
  than high ones, a preconditioner that favours smooth, large-scale structure over pixel noise.
  The scale is normalised to mean 1, so a step changes the image about as much as in pixels.
- `Stack` (Fort & Whitaker 2025's Direct Ascent Synthesis): images at the resolutions 1, 2, 4, ...
  px up to the final side, each upsampled to the image's side and summed, squashed to [0, 1] by a
  sigmoid. Adam moves each resolution's pixels as fast as the finest, so the coarse ones, which
  move whole regions at once, shape the image first.
- `Phase` (Fel et al. 2023's MACO): only the phase of the image's spectrum; its magnitude is fixed
  (`clipinv.core.spectrum`: the toy world's own images' where the model has a world, else 1/f), so every
  image has the energy per frequency of a natural image and the optimiser only places it.
- `Strokes` (Frans et al. 2021's CLIPDraw): `n_strokes` cubic Bézier strokes (control points,
  width, colour, opacity) drawn over a plain canvas by `clipinv.core.stroke_raster`.

Pixels and Fourier are *invertible*: an image maps to parameters and back unchanged
(`to_image(to_params(x)) == x` up to rounding), so the loop keeps the image's constraints in pixel
space: after each step it takes the image, clamps and smooths it there, and maps it back
(`clipinv.core.invert.optimise`). The other three *render* the image: it lies in [0, 1] by construction,
their parameters do not depend on the side (the image is drawn at the side of the current stage of the
resolution schedule), and they start from their own draws, made from a generator per image seeded
`PRIOR_STREAM` + its seed, so an image still depends on nothing else in its batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from clipinv.core import spectrum, stroke_raster

PRIOR_STREAM = 1 << 41  # a rendered prior's starting parameters for seed s: a generator seeded PRIOR_STREAM + s
STACK_START_STD = 0.1  # each resolution of a new stack starts as Gaussian noise of this standard deviation


class Pixels:
    """The parameters are the pixels [B, 3, side, side]."""

    invertible = True

    def __init__(self, side: int, device=None):
        self.side = side

    def at(self, side: int):
        return Pixels(side)

    def start(self, image: torch.Tensor, seeds) -> torch.Tensor:
        """The parameters of the first step: those of the seed's noise image."""
        return self.to_params(image)

    def resized(self, params: torch.Tensor, side: int):
        """(this parameterisation at `side`, the parameters of the image upsampled to it)."""
        x = F.interpolate(self.to_image(params), size=(side, side), mode="bicubic", align_corners=False)
        new = self.at(side)
        return new, new.to_params(x)

    def to_params(self, image: torch.Tensor) -> torch.Tensor:
        return image

    def to_image(self, params: torch.Tensor) -> torch.Tensor:
        return params


class Fourier(Pixels):
    """The parameters are the 1/f^decay-scaled spectrum, as real numbers [B, 3, side, side // 2 + 1, 2]."""

    def __init__(self, side: int, decay: float = 1.0, device=None):
        self.side, self.decay, self.device = side, decay, device
        fy = torch.fft.fftfreq(side, device=device)[:, None]
        fx = torch.fft.rfftfreq(side, device=device)[None, :]
        scale = 1.0 / torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / side) ** decay
        self.scale = scale / scale.mean()  # [side, side // 2 + 1]

    def at(self, side: int):
        return Fourier(side, self.decay, self.device)

    def to_params(self, image: torch.Tensor) -> torch.Tensor:
        return torch.view_as_real(torch.fft.rfft2(image, norm="ortho") / self.scale).contiguous()

    def to_image(self, params: torch.Tensor) -> torch.Tensor:
        spectrum = torch.view_as_complex(params) * self.scale
        return torch.fft.irfft2(spectrum, s=(self.side, self.side), norm="ortho")


class Rendered:
    """A prior whose parameters draw the image at any side: `side` is where it draws now."""

    invertible = False

    def at(self, side: int):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__, side=side)
        return new

    def resized(self, params: torch.Tensor, side: int):
        return self.at(side), params

    def start(self, image: torch.Tensor, seeds) -> torch.Tensor:
        gens = [torch.Generator().manual_seed(PRIOR_STREAM + int(s)) for s in seeds]
        return torch.stack([self.draw(g) for g in gens]).to(image.device)

    def _to_side(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[-1] == self.side:
            return image
        return F.interpolate(image, size=(self.side, self.side), mode="bilinear", align_corners=False, antialias=True)


def stack_sizes(full: int) -> list[int]:
    """The resolutions of a stack for a final side `full`: 1, 2, 4, ... below it, and `full`."""
    return [2**k for k in range(int(math.log2(full)) + 1) if 2**k < full] + [full]


class Stack(Rendered):
    """The parameters are images at `stack_sizes(full)`, flattened into one row per image [B, 3, sum of r^2]."""

    def __init__(self, side: int, full: int, device=None):
        self.side, self.sizes = side, stack_sizes(full)

    def draw(self, g: torch.Generator) -> torch.Tensor:
        return torch.randn(3, sum(r * r for r in self.sizes), generator=g) * STACK_START_STD

    def to_image(self, params: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for r, layer in zip(self.sizes, params.split([r * r for r in self.sizes], dim=-1)):
            layer = layer.unflatten(-1, (r, r))
            if r != self.side:
                layer = F.interpolate(
                    layer, size=(self.side, self.side), mode="bilinear", align_corners=False, antialias=r > self.side
                )
            total = total + layer
        return torch.sigmoid(total)


class Phase(Rendered):
    """The parameters are the phases [B, 3, full, full // 2 + 1] of the final-side image's spectrum; its
    magnitudes are fixed. The columns of `rfft2` that hold both a frequency and its mirror image (the
    first, and the last for an even side) take the odd part of their phases, as a real image's
    spectrum has them, so the image keeps the magnitude exactly; their real-valued bins, the zero
    frequency among them (each channel's mean is the magnitude's), keep phase 0 (`free` is 0 there)."""

    def __init__(self, side: int, full: int, world: dict | None = None, device=None):
        self.side, self.full = side, full
        magnitude, self.source = spectrum.image_magnitude(world, full)
        self.magnitude = magnitude.to(device)
        self.mirror = (-torch.arange(full, device=device)) % full  # the row of each frequency's mirror image
        self.paired = torch.zeros(1, full // 2 + 1, dtype=torch.bool, device=device)
        self.paired[0, 0] = self.paired[0, -1] = True
        if full % 2:
            self.paired[0, -1] = False
        self.free = ~(self.paired & (self.mirror == torch.arange(full, device=device))[:, None])

    def draw(self, g: torch.Generator) -> torch.Tensor:
        return (torch.rand(3, self.full, self.full // 2 + 1, generator=g) * 2 - 1) * math.pi

    def field(self, params: torch.Tensor) -> torch.Tensor:
        """The image at the final side before it is clamped to [0, 1]: its spectrum's magnitude is `magnitude`."""
        phase = torch.where(self.paired, 0.5 * (params - params[..., self.mirror, :]), params)
        spectrum_ = torch.polar(self.magnitude.expand_as(params), phase)
        return torch.fft.irfft2(spectrum_, s=(self.full, self.full), norm="ortho")

    def to_image(self, params: torch.Tensor) -> torch.Tensor:
        return self._to_side(self.field(params)).clamp(0, 1)


class Strokes(Rendered):
    """The parameters are `n` strokes per image [B, n, stroke_raster.FIELDS], drawn over grey `background`."""

    def __init__(self, side: int, n: int, background: float = 0.5, device=None):
        self.side, self.n, self.background = side, n, background

    def draw(self, g: torch.Generator) -> torch.Tensor:
        return stroke_raster.random_strokes(self.n, g)

    def to_image(self, params: torch.Tensor) -> torch.Tensor:
        return stroke_raster.render(params, self.side, self.background)


PARAMETERIZATIONS = ("pixels", "fourier", "stack", "phase", "strokes")
OF_PIXELS = ("pixels", "fourier")  # the invertible ones: any channels, an opacity channel too


def make(kind: str, side: int, decay: float = 1.0, device=None, recipe=None, world: dict | None = None):
    """The parameterisation `kind` of a side x side image; the rendered ones read their settings from
    `recipe` (the final side, `n_strokes`, the canvas's `background_fill`) and `Phase` the model card's
    `world` (None: a 1/f magnitude)."""
    if kind == "pixels":
        return Pixels(side, device)
    if kind == "fourier":
        return Fourier(side, decay, device)
    full = recipe.resolution_schedule[-1][1] if recipe is not None else side
    if kind == "stack":
        return Stack(side, full, device)
    if kind == "phase":
        return Phase(side, full, world, device)
    if kind == "strokes":
        n = recipe.n_strokes if recipe is not None else 32
        fill = recipe.background_fill if recipe is not None else None
        return Strokes(side, n, 0.5 if fill is None else fill, device)
    raise ValueError(f"no parameterisation {kind!r}: one of {', '.join(PARAMETERIZATIONS)}")


def render_bytes(recipe) -> int:
    """Memory a rendered prior's drawing keeps per image for the backward pass at the final side
    (the strokes' distance fields; 0 for the others, whose images the loop already counts)."""
    if recipe.parameterization != "strokes":
        return 0
    side = recipe.resolution_schedule[-1][1]
    return 6 * 4 * recipe.n_strokes * stroke_raster.SEGMENTS * side * side
