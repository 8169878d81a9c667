"""Shared by every lane (tests/ is on pytest's path, pyproject's `pythonpath`): a tiny random open_clip
CLIP that needs no download, the browser the pages are checked in, and the golden record's writer."""

import shutil
import sys
import zlib
from pathlib import Path

import open_clip
import pytest
import torch

from clipinv.models.bundle import ModelBundle, freeze, weights_hash

REPO = Path(__file__).resolve().parents[1]
VOCAB, CTX = 512, 16


def hashed_tokenizer(texts, context_length=None):
    """Word-level tokens by hash; start = VOCAB-2, end = VOCAB-1 (the largest id, as open_clip pools by argmax)."""
    ctx = context_length or CTX
    out = torch.zeros(len(texts), ctx, dtype=torch.long)
    for i, t in enumerate(texts):
        ids = [VOCAB - 2] + [zlib.crc32(w.encode()) % (VOCAB - 3) + 1 for w in t.lower().split()] + [VOCAB - 1]
        ids = ids[:ctx]
        ids[-1] = VOCAB - 1
        out[i, : len(ids)] = torch.tensor(ids)
    return out


def make_tiny(seed=0, image_size=32):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        m = open_clip.model.CLIP(
            embed_dim=64,
            vision_cfg={
                "image_size": image_size,
                "patch_size": 8,
                "width": 64,
                "layers": 2,
                "head_width": 32,
                "mlp_ratio": 2,
            },
            text_cfg={"context_length": CTX, "vocab_size": VOCAB, "width": 64, "heads": 2, "layers": 2},
        )
    freeze(m)
    return ModelBundle(
        model=m,
        tokenizer=hashed_tokenizer,
        spec=f"tiny-test-{seed}",
        image_size=image_size,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        context_length=CTX,
        weights_hash=weights_hash(m),
    )


def chromium() -> str:
    """Debian's chromium, which `make` installs (the Makefile's `browser` target). The pages' checks are
    part of the suite: without a browser they fail, they do not skip."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed: run `make` (it installs Debian's chromium)", pytrace=False)
    return exe


def golden_tools():
    """tools/golden.py, the golden record's writer, as a module."""
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import golden
    finally:
        sys.path.pop(0)
    return golden
