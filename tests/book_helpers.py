"""Shared by the book and e2e lanes: one smoke book per test run (shared by the pytest-xdist workers, kept
in pytest's own temporary folders, which pytest prunes), built off a copy of the working tree's sources
(so the user's book/_build is never touched), and the paper profile's stand-ins."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# the paper profile with ARCH:random stand-ins: the smallest fast real architecture with the real
# tokenizer. Measured on the shared 2-core CPU, 1 thread, 6 prompts x 2 steps x 1 copy at 224 px:
# ViT-S-32:random loads in 1.0 s and inverts in 2.0 s; ViT-B-32 3.7 s + 11.1 s; RN50 9.2 s + 14.3 s.
STAND_IN = "ViT-S-32:random"
PAPER_STAND_IN = {
    "model": STAND_IN,
    "judge": STAND_IN,
    "device": "cpu",
    "seeds": 1,
    "steps": 2,
    "recipe": {"n_augments": 1},
}
PAPER_SECTION_EXTRA = {
    "00_method": {"stage_prompts": 1, "read_steps": 3},
    "04_bag_of_words": {"n_captions": 8, "n_shuffles": 2, "read_steps": 3},
    "02_nsfw": {"vocab_words": 20, "read_steps": 3},
    "05_data_scale": {"models": [], "n_prompts": 2},
    "06_ablations": {"n_prompts": 2, "which": ["no TV"]},
    "07_contamination_audit": {"levels": [0.0, 0.5], "control_seeds": 1, "validation_images": 50},
    "08_image_prior": {"alignment_seeds": 1, "control_seeds": 1, "priors": ["pixels", "strokes"]},
}


def sections() -> list[str]:
    from clipinv.book.runner import available_sections

    return available_sections(REPO)


def smoke_book_in(base: Path, shared: bool) -> tuple[Path, dict]:
    """Execute every section with the smoke profile and build the site in `base`/smoke-book. Returns (root,
    seconds). With `shared` (the pytest-xdist workers of one run), the first worker to ask builds it while the
    others wait on a lock, then each reads it (no test writes into it)."""
    root = base / "smoke-book"
    if not shared:
        return _build_smoke_book(root)
    with open(base / "smoke-book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = root / "seconds.json"
        if not built.is_file():
            shutil.rmtree(root, ignore_errors=True)
            built.write_text(json.dumps(_build_smoke_book(root)[1]))
    return root, json.loads(built.read_text())


def _build_smoke_book(root: Path) -> tuple[Path, dict]:
    from clipinv.book.runner import build_site, copy_sources, run_section

    root.mkdir()
    copy_sources(root, REPO)
    os.environ.setdefault("CLIPINV_CACHE", str(root / "cache"))
    seconds = {}
    for name in sections():
        seconds[name] = run_section(root, name, "smoke", log=lambda *_: None)["seconds"]
    t0 = time.perf_counter()
    build_site(root, log=lambda *_: None)
    seconds["site"] = time.perf_counter() - t0
    return root, seconds
