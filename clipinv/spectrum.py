"""The fixed magnitude spectrum of the phase-only parameterisation (`clipinv.param.Phase`, MACO's):
measured on a toy world's own images where the model inverted was trained on one, else a 1/f model.

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
WORLD_SEED = 2024  # the images measured are World(...).sample(WORLD_IMAGES, seed=WORLD_SEED)
ONE_OVER_F_MEAN = 0.5  # the 1/f model's mean grey
ONE_OVER_F_STD = 0.2  # and its pixels' standard deviation


def image_magnitude(world: dict | None, side: int) -> tuple[torch.Tensor, str]:
    """([3, side, side // 2 + 1] magnitudes, where they come from in words) for a model card's `world`
    knobs (None: the 1/f model)."""
    if world:
        return _world_magnitude(json.dumps(world, sort_keys=True), side).clone(), (
            f"measured on {WORLD_IMAGES} images of the model's toy world (its plant and skew removed)"
        )
    return one_over_f(side), "a 1/f model (no world known for this model)"


@functools.lru_cache(maxsize=8)
def _world_magnitude(world_json: str, side: int) -> torch.Tensor:
    from .toy.world import World

    knobs = {k: v for k, v in json.loads(world_json).items() if k not in ("contamination", "skew")}
    images, _ = World(**knobs).sample(WORLD_IMAGES, seed=WORLD_SEED)
    if images.shape[-1] != side:
        images = F.interpolate(images, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 1)
    return torch.fft.rfft2(images, norm="ortho").abs().mean(dim=0)


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
