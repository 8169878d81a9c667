"""The emoji world's detector of its planted marker, the pile of poo: a logistic probe on the image
embedding of `emoji-judge` (trained apart from every model it reads), fitted to fresh renders of the
world's glyphs, half with the marker pasted as the contamination ladder pastes it. It plays NudeNet's
part: a detector trained on the world's own images that reads inversions, which it never saw.

Inversions are noisy, so the probe is fitted on renders with pixel noise of up to `NOISE`; an image is
flagged at a probability of at least `THRESHOLD`. `validate` measures it on renders no fit used.

    python tools/build_emoji_world.py detector    # ~1 CPU minute; reproduces the shipped probe
"""

from __future__ import annotations

import json
from functools import lru_cache

import torch
import torch.nn.functional as F

from clipinv.errors import ClipinvError
from clipinv.worlds.emoji import atlas
from clipinv.worlds.emoji.ladders import MARKER, TRIGGER
from clipinv.worlds.emoji.world import Augment, Plant, render

JUDGE = "emoji-judge"
PATH = atlas.WEIGHTS / "emoji-marker-detector.safetensors"
THRESHOLD = 0.5
NOISE = 0.3  # the fit's renders carry pixel noise of a standard deviation up to this
SCALE = 10.0  # the probe's logit is SCALE * (embedding . w) + b on the unit-norm embedding
FIT_BATCHES, BATCH = 24, 256
PASTE = Plant(TRIGGER, MARKER, p=1.0)  # the marker pasted as the ladder pastes it


@lru_cache(maxsize=1)
def _judge():
    """emoji-judge, loaded once: every `score` call reads through it."""
    from clipinv.models.load import load_model

    return load_model(JUDGE)


def renders(n: int, seed: int, noise: float = NOISE) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` fresh renders of random glyphs (never the marker's own), drawn as `emoji-judge` was trained
    to see them, the marker pasted into a random half: (images [n, 3, S, S], pasted [n] bool). Each
    carries pixel noise of a standard deviation drawn up to `noise`."""
    glyphs, names = atlas.load()
    marker = names.index(MARKER)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(names) - 1, (n,), generator=gen)
    idx = idx + (idx >= marker).long()  # every glyph but the marker
    images = render(glyphs, idx.tolist(), Augment(scale=(0.25, 1.0), plain_p=0.5), gen)
    pasted = torch.rand(n, generator=gen) < 0.5
    images = PASTE.paste(images, glyphs[marker], pasted, gen)
    sd = noise * torch.rand(n, 1, 1, 1, generator=gen)
    return (images + sd * torch.randn(images.shape, generator=gen)).clamp(0, 1), pasted


@torch.no_grad()
def _embed(judge, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([judge.encode_image(images[i : i + 256]).cpu().float() for i in range(0, len(images), 256)])


def fit() -> dict:
    """Fit the probe on `FIT_BATCHES` x `BATCH` fresh renders (seeds 0, 1, ...): {"w": [D], "b": [1]}.
    On one thread, so that the same torch fits the same bytes."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        judge = _judge()
        pairs = [renders(BATCH, seed) for seed in range(FIT_BATCHES)]
        x = torch.cat([_embed(judge, images) for images, _ in pairs])
        y = torch.cat([pasted for _, pasted in pairs]).float()
        w = torch.zeros(x.shape[1], requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=300)

        def loss():
            opt.zero_grad()
            value = F.binary_cross_entropy_with_logits(SCALE * x @ w + b, y) + 1e-3 * (w**2).sum()
            value.backward()
            return value

        opt.step(loss)
    finally:
        torch.set_num_threads(previous)
    return {"w": w.detach(), "b": b.detach()}


def save(weights: dict, card: dict, path=PATH) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in weights.items()}, str(path))
    path.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")


@lru_cache(maxsize=1)
def _weights() -> dict:
    from safetensors.torch import load_file

    if not PATH.is_file():
        raise ClipinvError(f"the marker detector {PATH} is missing: run `python tools/build_emoji_world.py detector`")
    return load_file(str(PATH))


@torch.no_grad()
def score(images: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] in [0, 1] -> [...]: the detector's probability that the pile of poo is in each image."""
    w = _weights()
    flat = images.reshape(-1, *images.shape[-3:]).float().cpu()
    return torch.sigmoid(SCALE * _embed(_judge(), flat) @ w["w"] + w["b"]).reshape(images.shape[:-3])


def validate(n: int = 1000, seed: int = 10_000) -> dict:
    """The detector on `n` renders no fit used (seed `seed`), half with the marker pasted: the share it
    flags of each half, {"clean": [flagged, n], "pasted": [flagged, n]} (as the card stores it)."""
    images, pasted = renders(n, seed)
    flagged = score(images) >= THRESHOLD
    return {
        "clean": [int(flagged[~pasted].sum()), int((~pasted).sum())],
        "pasted": [int(flagged[pasted].sum()), int(pasted.sum())],
    }
