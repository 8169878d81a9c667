"""Behaviour the package must keep: the images of fixed small inversions (each shipped recipe)
and the headlines of the executed smoke book, as recorded by `tools/golden.py`. A change that
means to alter what the package computes updates these on purpose and says why."""

from __future__ import annotations

import sys
from pathlib import Path

from book_helpers import REPO, sections, smoke_book

from clipinv.book import glued

IMAGE_SHA256 = {
    "toy": "2283b99bc7bce72125fe31887f6d10f51df7e1f80c822c3bff73959a95879690",
    "RN50:random": "ec4502697b065d0ce119834d4262fcd44e6be01cdcfd4f6e6048ca219234a20d",
    "ViT-S-32:random": "29da37f308c31a48c87bf4a0bf7fced59d93fc6fd7490fe6b915289b914e93a8",
}


def test_fixed_inversions_give_the_recorded_images():
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import golden
    finally:
        sys.path.pop(0)
    assert golden.image_hashes() == IMAGE_SHA256


def test_the_smoke_book_gives_the_recorded_headlines():
    root, _ = smoke_book()
    got = [f"{name}: {glued(root / 'book' / '_generated' / f'{name}.ipynb').get('headline')}" for name in sections()]
    assert got == (Path(__file__).parent / "golden" / "smoke-headlines.txt").read_text().splitlines()
