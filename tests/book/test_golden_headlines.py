"""Behaviour the book must keep: the headlines the executed smoke book glues into its pages, as
recorded by `tools/golden.py --book` (tests/book/golden/smoke-headlines.txt). A change that means to
alter what a page finds updates them on purpose and says why."""

from __future__ import annotations

from pathlib import Path

from helpers import golden_tools


def test_the_smoke_book_gives_the_recorded_headlines(smoke_book):
    root, _ = smoke_book
    golden = golden_tools()
    got = []
    for nb_path in sorted((root / "book" / "_generated").glob("*.ipynb")):
        got += golden.page_headlines(nb_path.stem, nb_path)
    assert got == (Path(__file__).parent / "golden" / "smoke-headlines.txt").read_text().splitlines()
