"""Augmentations of the image being inverted, as `nn.Module`s (kornia's style).

The hot path is `AffineResample`: the paper's random affine (rotation, translation, scale, applied
with probability p, border padding), the optional roll jitter and the resize to the model's input
size fused into a single `grid_sample` per step. The remaining augmentations are elementwise.

Randomness is never drawn inside a module: every module takes the uniform draws it needs
(`n_draws` numbers in [0, 1) per copy) from the caller, so a draw can be replayed and a test can
check that a given draw gives a given output. `clipinv.invert` draws them per image from the
image's own seeded generator, which makes every image independent of what else shares its batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AffineResample(nn.Module):
    """Random affine + roll jitter + resize to `out_size`, in one bicubic `grid_sample`.

    Per copy: with probability `p` a rotation in [-degrees, degrees], a translation in
    [-translate, translate] x image size, a scale in `scale`; otherwise the identity (kornia's
    ``RandomAffine(degrees, (t, t), scale, p=p, padding_mode='border')``). Then a roll jitter of up
    to `jitter` pixels (wrapping around, as `torch.roll`), then the resize.

    `fill`: None pads with the border pixels (the paper's); a grey level in [0, 1] pads with that
    plain colour instead, so a copy shrunk by the affine shows the whole image as an object on a
    background, outline included.

    `translate_first`: the translation moves the image before the rotation and scale turn it
    (p_out = s R (p_in - t)) instead of after (p_out = s R p_in + t, kornia's); the toy models'
    training augmentation (`clipinv.worlds.shapes.training.augment`) was drawn that way.
    """

    n_draws = 7  # apply?, angle, tx, ty, scale, jitter x, jitter y

    def __init__(
        self,
        out_size: int,
        degrees=30.0,
        translate=0.1,
        scale=(0.7, 1.2),
        p=0.5,
        jitter: float = 0.0,
        mode: str = "bicubic",
        fill: float | None = None,
        translate_first: bool = False,
    ):
        super().__init__()
        self.out_size, self.degrees, self.translate, self.scale = out_size, degrees, translate, scale
        self.p, self.jitter, self.mode, self.fill = p, jitter, mode, fill
        self.translate_first = translate_first

    def theta(self, u: torch.Tensor) -> torch.Tensor:
        """[N, 2, 3] output->input maps (normalised coordinates) from draws u [N, >=5]."""
        on = (u[:, 0] < self.p).to(u.dtype)
        angle = on * (2 * u[:, 1] - 1) * math.radians(self.degrees)
        tx = on * (2 * u[:, 2] - 1) * self.translate * 2  # a fraction of the width is 2x that in [-1, 1]
        ty = on * (2 * u[:, 3] - 1) * self.translate * 2
        s = 1 + on * (self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 4] - 1)
        cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
        if self.translate_first:  # p_out = s R(a) (p_in - t): the inverse is p_in = R(-a) p_out / s + t
            row0 = torch.stack([cos, sin, tx], dim=1)
            row1 = torch.stack([-sin, cos, ty], dim=1)
            return torch.stack([row0, row1], dim=1)
        # forward map p_out = s R(a) p_in + t; grid_sample needs the inverse p_in = R(-a)(p_out - t)/s
        row0 = torch.stack([cos, sin, -(cos * tx + sin * ty)], dim=1)
        row1 = torch.stack([-sin, cos, -(-sin * tx + cos * ty)], dim=1)
        return torch.stack([row0, row1], dim=1)

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """x [N, C, H, W] (copies already repeated), u [N, n_draws] -> [N, C, out, out]."""
        n = x.shape[0]
        grid = F.affine_grid(self.theta(u), [n, x.shape[1], self.out_size, self.out_size], align_corners=False)
        if self.jitter > 0:
            h, w = x.shape[-2:]
            shift = torch.stack([(2 * u[:, 5] - 1) * self.jitter * 2 / w, (2 * u[:, 6] - 1) * self.jitter * 2 / h], 1)
            shift = torch.round(shift * torch.tensor([w / 2, h / 2], device=x.device)) / torch.tensor(
                [w / 2, h / 2], device=x.device
            )  # whole pixels, like torch.roll
            grid = grid.clamp(-1, 1) - shift[:, None, None, :]  # border first, then the wrap of a roll
            grid = torch.remainder(grid + 1, 2) - 1
        if self.fill is None:
            return F.grid_sample(x, grid.to(x.dtype), mode=self.mode, padding_mode="border", align_corners=False)
        # zero padding of (x - fill), shifted back: padding with the plain grey `fill`
        return (
            F.grid_sample(x - self.fill, grid.to(x.dtype), mode=self.mode, padding_mode="zeros", align_corners=False)
            + self.fill
        )


class OntoBackground(nn.Module):
    """Copies with an opacity channel [N, 4, H, W] composited onto random plain backgrounds [N, 3, H, W]:
    per copy a random colour, dark (a third of its brightness) half the time, or with probability
    `plain_p` a plain grey in [0.4, 0.6]. An object drawn with its opacity must then read as itself on
    any background, as Lucid's transparency objective asks (Mordvintsev et al. 2018)."""

    n_draws = 6  # red, green, blue, dark?, plain?, grey level

    def __init__(self, plain_p: float = 0.5):
        super().__init__()
        self.plain_p = plain_p

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        colour = u[:, 0:3] * torch.where(u[:, 3:4] < 0.5, 1.0, 0.3)
        grey = (0.4 + 0.2 * u[:, 5:6]).expand(-1, 3)
        background = torch.where(u[:, 4:5] < self.plain_p, grey, colour).to(x.dtype)[:, :, None, None]
        return over(x, background)


def over(x: torch.Tensor, background) -> torch.Tensor:
    """Colour and opacity [N, 4, H, W] drawn over `background` (a tensor that broadcasts to [N, 3, H, W],
    or a grey level): [N, 3, H, W]."""
    alpha = x[:, 3:]
    return x[:, :3] * alpha + background * (1 - alpha)


class ColorShift(nn.Module):
    """The paper's ColorShift: (x - mu) / sigma, mu ~ U[-mean, mean], sigma = exp(U[-log_std, log_std]),
    per copy and channel. Identity at zero strength (the paper's default)."""

    n_draws = 6

    def __init__(self, mean: float = 0.0, log_std: float = 0.0):
        super().__init__()
        self.mean, self.log_std = mean, log_std

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        if self.mean == 0 and self.log_std == 0:
            return x
        mu = ((2 * u[:, 0:3] - 1) * self.mean)[:, :, None, None]
        sigma = ((2 * u[:, 3:6] - 1) * self.log_std).exp()[:, :, None, None]
        return (x - mu.to(x.dtype)) / sigma.to(x.dtype)


class ColorJitter(nn.Module):
    """Brightness, contrast and saturation factors in [1 - strength, 1 + strength] per copy (the
    public demo's colour jitter, without hue). Identity at zero strength."""

    n_draws = 3

    def __init__(self, strength: float = 0.0):
        super().__init__()
        self.strength = strength

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        if self.strength == 0:
            return x
        f = (1 + (2 * u - 1) * self.strength).to(x.dtype)[:, :, None, None, None]
        x = x * f[:, 0]
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * f[:, 1] + mean
        grey = x.mean(dim=1, keepdim=True)
        return (x - grey) * f[:, 2] + grey


class GaussianNoise(nn.Module):
    """Additive pixel noise of standard deviation `std` (identity at 0). Its draws are too many to
    precompute, so it takes generators: one per image, each drawing the noise of that image's
    rows (copies are image-major, as `clipinv.invert` lays them out), so an image's noise does not
    depend on what else shares its batch. A single generator (or None) draws for all rows."""

    def __init__(self, std: float = 0.0):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        if self.std == 0:
            return x
        if isinstance(generator, (list, tuple)):
            if x.shape[0] % len(generator):
                raise ValueError(f"{x.shape[0]} rows cannot be split between {len(generator)} generators")
            rows = x.shape[0] // len(generator)
            noise = torch.cat(
                [torch.randn((rows, *x.shape[1:]), generator=g, device=x.device, dtype=x.dtype) for g in generator]
            )
        else:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.std * noise


class GaussianBlur(nn.Module):
    """A fixed Gaussian blur of standard deviation `sigma` pixels (torchvision's, reflect padding),
    identity at 0. Not an augmentation: `clipinv.invert` applies it to the image itself as a
    smoothing step (`Recipe.smooth_sigma`), never to the copies, so it takes no draws."""

    def __init__(self, sigma: float = 0.0):
        super().__init__()
        self.sigma = float(sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sigma <= 0:
            return x
        from torchvision.transforms.functional import gaussian_blur

        k = 2 * math.ceil(3 * self.sigma) + 1
        return gaussian_blur(x, [k, k], [self.sigma, self.sigma])


class ShrinkOnto(nn.Module):
    """The image shrunk to `scale` of its side (antialiased bilinear) and centred on a plain grey
    `fill`, identity at 1. Not an augmentation: `clipinv.invert` applies it once to the final image
    (`Recipe.final_scale`), so the image shows what the shrunk copies showed the model: the whole
    canvas as an object on the background, its outline included."""

    def __init__(self, scale: float = 1.0, fill: float | None = None):
        super().__init__()
        if scale < 1 and fill is None:
            raise ValueError(f"ShrinkOnto({scale}) needs a fill, the grey level it shrinks the image onto")
        self.scale, self.fill = float(scale), fill

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale >= 1:
            return x
        h, w = x.shape[-2:]
        sh, sw = max(1, round(h * self.scale)), max(1, round(w * self.scale))
        small = F.interpolate(x, size=(sh, sw), mode="bilinear", antialias=True, align_corners=False)
        out = torch.full_like(x, self.fill)
        top, left = (h - sh) // 2, (w - sw) // 2
        out[..., top : top + sh, left : left + sw] = small
        return out


class Normalize(nn.Module):
    """CLIP mean/std normalisation."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
