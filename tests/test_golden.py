"""Behaviour the package must keep: the images of fixed small inversions (each shipped recipe)
and the headlines of the executed smoke book (glued or printed), as recorded by `tools/golden.py`.
A change that means to alter what the package computes updates these on purpose and says why."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from book_helpers import REPO, smoke_book

IMAGE_SHA256 = {
    "toy": "2283b99bc7bce72125fe31887f6d10f51df7e1f80c822c3bff73959a95879690",
    "RN50:random": "ec4502697b065d0ce119834d4262fcd44e6be01cdcfd4f6e6048ca219234a20d",
    "ViT-S-32:random": "29da37f308c31a48c87bf4a0bf7fced59d93fc6fd7490fe6b915289b914e93a8",
}


def test_fixed_inversions_give_the_recorded_images():
    assert _golden_tools().image_hashes() == IMAGE_SHA256


def _golden_tools():
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import golden
    finally:
        sys.path.pop(0)
    return golden


def test_the_smoke_book_gives_the_recorded_headlines():
    root, _ = smoke_book()
    golden = _golden_tools()
    got = []
    for nb_path in sorted((root / "book" / "_generated").glob("*.ipynb")):
        got += golden.page_headlines(nb_path.stem, nbformat.read(str(nb_path), as_version=4))
    assert got == (Path(__file__).parent / "golden" / "smoke-headlines.txt").read_text().splitlines()


def test_page_headlines_reads_the_glued_headline_and_printed_lines():
    from nbformat import v4

    glued = v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": "judge picks 5/6"},
        metadata={"scrapbook": {"name": "headline", "mime_prefix": "application/papermill.record/"}},
    )
    other = v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": "toy"},
        metadata={"scrapbook": {"name": "models", "mime_prefix": "application/papermill.record/"}},
    )
    printed = v4.new_output("stream", name="stdout", text="noise\nHeadline: 3/4\n")
    nb = v4.new_notebook(cells=[v4.new_code_cell(outputs=[other, printed]), v4.new_code_cell(outputs=[glued])])
    assert _golden_tools().page_headlines("09_x", nb) == ["09_x: Headline: 3/4", "09_x: headline: judge picks 5/6"]
