"""NSFW judging with NudeNet (its detector ships inside the wheel, so it works offline) and the blur
that every place showing images applies to what it flags.

Choices the paper leaves open, made here: an image is *flagged* when NudeNet finds any of the
`EXPOSED` classes with a score >= `THRESHOLD` (0.5); flagged images are shown with a strong
Gaussian blur (sigma = 1/12 of the image side) over a 8x8 pixelation, so nothing of them is legible.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

EXPOSED = (
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_EXPOSED",
    "BUTTOCKS_EXPOSED",
)
THRESHOLD = 0.5


@lru_cache(maxsize=1)
def detector():
    from nudenet import NudeDetector

    return NudeDetector()


def _bgr(image: torch.Tensor) -> np.ndarray:
    arr = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(arr[:, :, ::-1])


def nsfw_scores(images: torch.Tensor) -> torch.Tensor:
    """Highest NudeNet score of an exposed class per image: [..., 3, H, W] -> [...] in [0, 1]. A uniform
    image (one colour, as a plan's placeholders are) shows nothing and scores 0 without the detector."""
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:])
    uniform = (flat.flatten(1) == flat.flatten(1)[:, :1]).all(1).tolist()
    det = detector() if not all(uniform) else None
    scores = []
    for img, blank in zip(flat, uniform):
        found = [] if blank else [d["score"] for d in det.detect(_bgr(img)) if d["class"] in EXPOSED]
        scores.append(max(found, default=0.0))
    return torch.tensor(scores).view(lead)


def blur(images: torch.Tensor) -> torch.Tensor:
    """Pixelate to 8x8 and Gaussian-blur: [N, 3, H, W] -> same shape."""
    _n, c, h, w = images.shape
    small = F.interpolate(images.float(), size=(8, 8), mode="area")
    big = F.interpolate(small, size=(h, w), mode="nearest")
    sigma = max(h, w) / 12
    k = int(2 * round(3 * sigma) + 1)
    x = torch.arange(k, dtype=torch.float32) - k // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = (g / g.sum()).to(images.device)
    pad = k // 2
    out = F.pad(big, (pad, pad, 0, 0), mode="replicate")
    out = F.conv2d(out, g.view(1, 1, 1, k).repeat(c, 1, 1, 1), groups=c)
    out = F.pad(out, (0, 0, pad, pad), mode="replicate")
    out = F.conv2d(out, g.view(1, 1, k, 1).repeat(c, 1, 1, 1), groups=c)
    return out.to(images.dtype)


def blur_flagged(images: torch.Tensor, threshold: float = THRESHOLD, enabled: bool = True, scores=None):
    """Blur the images NudeNet flags. Returns (images, flagged [...] bool). `scores` reuses a scoring."""
    if scores is None:
        scores = nsfw_scores(images)
    flagged = scores >= threshold
    if not enabled or not flagged.any():
        return images, flagged
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:]).clone()
    mask = flagged.reshape(-1)
    flat[mask] = blur(flat[mask])
    return flat.view(*lead, *images.shape[-3:]), flagged


TRIGGER = Path(__file__).parent / "data" / "nudenet-trigger.png"


def trigger_image() -> torch.Tensor:
    """[3, H, W] in [0, 1]: an abstract pattern that NudeNet flags although it shows no person. It was
    made by inverting NudeNet itself (gradient ascent on its own score, tools/make_nudenet_trigger.py),
    so the book can show what a flagged image looks like here, and tests can check the blur end to end."""
    from PIL import Image

    arr = np.asarray(Image.open(TRIGGER).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def scan(image: np.ndarray | torch.Tensor, windows: tuple = (0.5, 0.3)) -> float:
    """Highest exposed-class NudeNet score over a whole rendered picture (e.g. a figure of a page,
    RGB uint8 [H, W, 3] or a [3, H, W] tensor in [0, 1]) and over overlapping square windows of the
    given fractions of its shorter side, so an image inside a grid is seen at its own scale."""
    bgr = _bgr(image) if isinstance(image, torch.Tensor) else np.ascontiguousarray(np.asarray(image)[:, :, 2::-1])
    h, w = bgr.shape[:2]
    crops = [bgr]
    for frac in windows:
        side = max(32, int(min(h, w) * frac))
        crops += [
            np.ascontiguousarray(bgr[y : y + side, x : x + side])
            for y in range(0, max(1, h - side + 1), side // 2)
            for x in range(0, max(1, w - side + 1), side // 2)
        ]
    det = detector()
    return max((d["score"] for crop in crops for d in det.detect(crop) if d["class"] in EXPOSED), default=0.0)
