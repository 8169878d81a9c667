"""The fixed magnitude spectrum of the phase-only parameterisation (`clipinv.core.param.Phase`, MACO's):
measured on the images of the world the inverted model was trained on, where a world (`clipinv.worlds`)
renders them, else a 1/f model.

    magnitude, source = image_magnitude(bundle.card.get("world"), side)

The world's images are rendered from the model card's world knobs with its plant and its skew
removed, so the prior is the clean world's and carries no hint of what was planted. Magnitudes are
of the orthonormal `rfft2` ([3, side, side // 2 + 1]), averaged over `WORLD_IMAGES` images; the
zero frequency holds each channel's mean (times the side).
"""

from __future__ import annotations

import functools
import json

import torch
import torch.nn.functional as F

WORLD_IMAGES = 512
WORLD_SEED = 2024  # the images measured are a world's sample of WORLD_IMAGES with this seed
ONE_OVER_F_MEAN = 0.5  # the 1/f model's mean grey
ONE_OVER_F_STD = 0.2  # and its pixels' standard deviation


# The worlds that can render clean images of themselves from a model card's `world` knobs: each
# registers a function (knobs, n, seed) -> ([n, 3, H, W] images in [0, 1], the world's name in words),
# or None for a card that is not of its world (`clipinv.worlds` registers its worlds on import).
WORLD_RENDERERS: list = []


def image_magnitude(world: dict | None, side: int) -> tuple[torch.Tensor, str]:
    """([3, side, side // 2 + 1] magnitudes, where they come from in words) for a model card's `world`
    knobs (None, or a world no registered renderer knows: the 1/f model)."""
    if world:
        found = _world_magnitude(json.dumps(world, sort_keys=True), side)
        if found is not None:
            magnitude, name = found
            return (
                magnitude.clone(),
                f"measured on {WORLD_IMAGES} images of the model's {name} (its plant and skew removed)",
            )
    return one_over_f(side), "a 1/f model (no world known for this model)"


@functools.lru_cache(maxsize=8)
def _world_magnitude(world_json: str, side: int) -> tuple[torch.Tensor, str] | None:
    knobs = json.loads(world_json)
    for render in WORLD_RENDERERS:
        found = render(knobs, WORLD_IMAGES, WORLD_SEED)
        if found is not None:
            images, name = found
            break
    else:
        return None
    if images.shape[-1] != side:
        images = F.interpolate(images, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 1)
    return torch.fft.rfft2(images, norm="ortho").abs().mean(dim=0), name


def one_over_f(side: int) -> torch.Tensor:
    """Magnitudes falling as 1/f, scaled so a random phase gives pixels of mean ONE_OVER_F_MEAN and
    standard deviation ONE_OVER_F_STD (Parseval, orthonormal transform)."""
    fy = torch.fft.fftfreq(side)[:, None]
    fx = torch.fft.fftfreq(side)[None, :]
    full = 1.0 / torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / side)
    full[0, 0] = 0.0
    full = full * ONE_OVER_F_STD * side / full.pow(2).sum().sqrt()
    full[0, 0] = ONE_OVER_F_MEAN * side
    return full[:, : side // 2 + 1].expand(3, -1, -1).clone()
