"""Parameterisations of the image being inverted (lucent's `param`): what the optimiser changes,
and how that becomes an image.

- `Pixels` (the paper's): the parameters are the pixels themselves.
- `Fourier` (Olah et al. 2017's "spectrum" parameterisation, lucent's `param.image(fft=True)`): the
  parameters are the image's 2-D Fourier spectrum (orthonormal `rfft2`), each frequency divided by
  a scale that falls as 1/f^decay. Gradient steps on these parameters move low frequencies faster
  than high ones, a preconditioner that favours smooth, large-scale structure over pixel noise.
  The scale is normalised to mean 1, so a step changes the image about as much as in pixels.

An image maps to parameters and back unchanged (`to_image(to_params(x)) == x` up to rounding), so
the loop keeps the image's constraints in pixel space: after each step it takes the image, clamps
and smooths it there, and maps it back (`clipinv.invert.optimise`).
"""

from __future__ import annotations

import torch


class Pixels:
    """The parameters are the pixels [B, 3, side, side]."""

    def __init__(self, side: int, device=None):
        self.side = side

    def to_params(self, image: torch.Tensor) -> torch.Tensor:
        return image

    def to_image(self, params: torch.Tensor) -> torch.Tensor:
        return params


class Fourier:
    """The parameters are the 1/f^decay-scaled spectrum, as real numbers [B, 3, side, side // 2 + 1, 2]."""

    def __init__(self, side: int, decay: float = 1.0, device=None):
        self.side = side
        fy = torch.fft.fftfreq(side, device=device)[:, None]
        fx = torch.fft.rfftfreq(side, device=device)[None, :]
        scale = 1.0 / torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / side) ** decay
        self.scale = scale / scale.mean()  # [side, side // 2 + 1]

    def to_params(self, image: torch.Tensor) -> torch.Tensor:
        return torch.view_as_real(torch.fft.rfft2(image, norm="ortho") / self.scale).contiguous()

    def to_image(self, params: torch.Tensor) -> torch.Tensor:
        spectrum = torch.view_as_complex(params) * self.scale
        return torch.fft.irfft2(spectrum, s=(self.side, self.side), norm="ortho")


PARAMETERIZATIONS = ("pixels", "fourier")


def make(kind: str, side: int, decay: float = 1.0, device=None):
    """The parameterisation `kind` ("pixels" or "fourier") of a side x side image."""
    return Pixels(side, device) if kind == "pixels" else Fourier(side, decay, device)
