"""Golden record of what the package computes: SHA-256 of the images of fixed small inversions
(each shipped recipe) and the headlines of the executed smoke book (each page's glued `headline`).

    python tools/golden.py            # the image hashes (seconds)
    python tools/golden.py --book     # and the smoke book's headlines (minutes)

`tests/book/test_golden_images.py` holds the hashes this printed, `tests/book/golden/` the headlines; a refactor
that means to change no behaviour keeps them identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import torch

CASES = {
    # name: (model spec, recipe changes on the model's own recipe, prompts, seeds)
    "toy": ("toy", {}, ["a red circle", "a large blue square on the left"], 2),
    "RN50:random": (
        "RN50:random",
        {"steps": 3, "n_augments": 2, "resolution_schedule": ((0, 64), (1, 128), (2, 224))},
        ["a red circle"],
        1,
    ),
    "ViT-S-32:random": (
        "ViT-S-32:random",
        {"steps": 3, "n_augments": 2, "resolution_schedule": ((0, 64), (1, 128), (2, 224))},
        ["a red circle", "a dog"],
        1,
    ),
}


def image_hashes() -> dict:
    import clipinv

    torch.set_num_threads(2)
    out = {}
    for name, (spec, changes, prompts, seeds) in CASES.items():
        bundle = clipinv.load_model(spec)
        recipe = (bundle.default_recipe or clipinv.Recipe()).replace(**changes)
        inv = clipinv.invert(bundle, prompts, seeds=seeds, recipe=recipe, cache=False, progress=False)
        out[name] = hashlib.sha256(inv.images.float().contiguous().numpy().tobytes()).hexdigest()
    return out


def smoke_headlines() -> list[str]:
    import os
    import tempfile
    from pathlib import Path

    from clipinv.book.runner import available_sections, copy_sources, run_section

    repo = Path(__file__).resolve().parents[1]
    root = Path(tempfile.mkdtemp(prefix="clipinv-golden-"))
    copy_sources(root, repo)
    os.environ["CLIPINV_CACHE"] = str(root / "cache")
    lines = []
    for name in available_sections(root):
        run_section(root, name, "smoke", log=lambda *_: None)
        lines += page_headlines(name, root / "book" / "_generated" / f"{name}.ipynb")
    return lines


def page_headlines(name: str, nb_path) -> list[str]:
    """'NAME: headline: ...': the value an executed page glues as `headline` (myst-nb glue)."""
    from clipinv.book.runner import glued

    return [f"{name}: headline: {glued(nb_path).get('headline')}"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--book", action="store_true", help="also execute the smoke book and print its headlines")
    args = ap.parse_args(argv)
    print(json.dumps(image_hashes(), indent=1))
    if args.book:
        for line in smoke_headlines():
            print(line)


if __name__ == "__main__":
    sys.exit(main())
