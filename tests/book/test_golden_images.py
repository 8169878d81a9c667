"""Behaviour the package must keep: the images of fixed small inversions (each shipped recipe), as
recorded by `tools/golden.py` (the smoke book's headlines are test_golden_headlines.py beside it).
A change that means to alter what the package computes updates these on purpose and says why."""

from __future__ import annotations

import nbformat
from helpers import golden_tools

from clipinv.book.runner import glued

IMAGE_SHA256 = {
    "toy": "2283b99bc7bce72125fe31887f6d10f51df7e1f80c822c3bff73959a95879690",
    "RN50:random": "ec4502697b065d0ce119834d4262fcd44e6be01cdcfd4f6e6048ca219234a20d",
    "ViT-S-32:random": "29da37f308c31a48c87bf4a0bf7fced59d93fc6fd7490fe6b915289b914e93a8",
}


def test_fixed_inversions_give_the_recorded_images():
    assert golden_tools().image_hashes() == IMAGE_SHA256


def test_glued_reads_the_values_a_page_hands_to_its_prose(tmp_path):
    from nbformat import v4

    def glue(name, text):
        return v4.new_output(
            "display_data",
            data={"application/papermill.record/text/plain": text},
            metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
        )

    printed = v4.new_output("stream", name="stdout", text="noise\n")
    nb = v4.new_notebook(
        cells=[
            v4.new_code_cell(outputs=[glue("models", "toy"), printed]),
            v4.new_code_cell(outputs=[glue("headline", "5/6")]),
        ]
    )
    path = tmp_path / "09_x.ipynb"
    nbformat.write(nb, str(path))
    assert glued(path) == {"models": "toy", "headline": "5/6"}
    assert golden_tools().page_headlines("09_x", path) == ["09_x: headline: 5/6"]
