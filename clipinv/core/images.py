"""Images out to files: a tensor as a PIL image, a file name from a prompt (`slug`), and the checks on
`clipinv invert`'s output folder made before any work (`writable_dir`, `new_run_folder`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from clipinv.errors import ClipinvError


def to_pil(image: torch.Tensor):
    """[3, H, W] in [0, 1] -> PIL image."""
    from PIL import Image

    arr = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr)


def writable_dir(path) -> Path:
    """Check (before any work) that `path` is, or can be made, a writable folder; create nothing yet."""
    p = Path(path)
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ClipinvError(f"output path {p} is inside a file ({probe}): choose a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ClipinvError(f"output folder {p} is not writable ({probe} denies writing): choose another --out")
    return p


def slug(text: str, n: int = 48) -> str:
    s = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    while "--" in s:
        s = s.replace("--", "-")
    return s[:n] or "prompt"


RUN_FILES = re.compile(r"^(run\.json|\d{2,}-.*-seed\d+\.png)$")  # what `clipinv invert` writes into --out


def new_run_folder(path) -> Path:
    """`path` if it holds no earlier run's files (run.json, NN-prompt-seedS.png), else the first of
    path-2, path-3, ... that holds none: a run never replaces files already there."""
    p = writable_dir(path)
    candidate, n = p, 1
    while candidate.exists() and (not candidate.is_dir() or any(RUN_FILES.match(f.name) for f in candidate.iterdir())):
        n += 1
        candidate = p.with_name(f"{p.name}-{n}")
    return candidate
