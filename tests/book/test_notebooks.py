"""The book's notebooks: clean sources with a parameters cell, valid profiles, and every section
executing with the smoke profile and with the paper profile on ARCH:random stand-ins."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml
from book_helpers import PAPER_SECTION_EXTRA, PAPER_STAND_IN, REPO, STAND_IN, sections

from clipinv.book.runner import (
    COMMON,
    SECTIONS,
    check_world,
    copy_sources,
    load_profile,
    run_section,
    section_parameters,
    supported_worlds,
)
from clipinv.errors import ClipinvError

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert {"00_method", "01_concepts", "04_bag_of_words"} <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_has_no_outputs_and_one_parameters_cell(path):
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: committed outputs in a code cell"
            assert cell.execution_count is None, f"{path.name}: committed execution count"
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{path.name}: needs exactly one cell tagged `parameters`"
    names = {
        line.split("=")[0].strip() for line in params[0].source.splitlines() if "=" in line and not line.startswith("#")
    }
    assert set(COMMON) | {"profile"} <= names, f"{path.name}: parameters cell lacks {set(COMMON) | {'profile'} - names}"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "prose (a title) comes first"


@pytest.mark.parametrize("profile", ["smoke", "classroom", "paper"])
def test_profiles_are_valid_for_every_section(profile):
    prof = load_profile(REPO, profile)
    assert set(COMMON) <= set(prof["defaults"]), f"{profile}: defaults lack {set(COMMON) - set(prof['defaults'])}"
    assert set(prof["sections"]) <= set(SECTIONS), (
        f"{profile}: unknown sections {set(prof['sections']) - set(SECTIONS)}"
    )
    for name in sections():
        params = section_parameters(REPO, name, profile)  # raises on a key the notebook does not declare
        assert params["profile"] == profile


def test_a_section_declares_its_worlds_and_the_runner_refuses_the_others_in_one_line():
    assert supported_worlds(REPO, "07_contamination_audit") == ("toy", "emoji")
    assert supported_worlds(REPO, "03_gender") == ("paper", "toy", "emoji")
    assert supported_worlds(REPO, "02_nsfw") == ("paper", "toy", "emoji")
    paper_block = section_parameters(REPO, "07_contamination_audit", "paper")  # it names an emoji model
    check_world(REPO, "07_contamination_audit", paper_block)
    check_world(REPO, "03_gender", {"model": "ViT-B-16:openai"})
    with pytest.raises(
        ClipinvError, match="07_contamination_audit runs only on the toy or emoji world, not on the paper"
    ) as e:
        check_world(REPO, "07_contamination_audit", {"model": "ViT-B-16:openai"})
    assert "\n" not in str(e.value) and "-p model toy -p judge toy-judge" in str(e.value)


def test_unknown_parameter_is_one_line_error():
    with pytest.raises(ClipinvError, match="has no parameter"):
        section_parameters(REPO, "00_method", "smoke", {"no_such_knob": 1})


def test_every_section_has_a_notebook():
    assert sections() == list(SECTIONS)


@pytest.mark.parametrize("name", SECTIONS)
def test_smoke_profile_executes(name, smoke_book):
    root, _seconds = smoke_book
    out = root / "book" / "_generated" / f"{name}.ipynb"
    nb = nbformat.read(str(out), as_version=4)
    assert nb.metadata["clipinv"]["profile"] == "smoke"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    pngs = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert pngs >= 1, f"{name}: no figure"
    text = json.dumps(nb.cells)
    assert "clipinv-caption" in text and "profile smoke" in text, "captions must name the profile"
    assert "Stand-in models" in text, "a toy page must say so"


@pytest.fixture(scope="module")
def paper_root(tmp_path_factory):
    return copy_sources(tmp_path_factory.mktemp("paper-book"), REPO)


@pytest.mark.parametrize("name", SECTIONS)
def test_paper_profile_executes_with_random_stand_ins(name, paper_root):
    overrides = {**PAPER_STAND_IN, **PAPER_SECTION_EXTRA.get(name, {})}
    if "paper" not in supported_worlds(paper_root, name):  # declared toy-only: refused before a kernel starts
        with pytest.raises(
            ClipinvError, match=rf"^section {name} runs only on the toy.* world, not on the paper.*-p model toy"
        ) as e:
            run_section(paper_root, name, "paper", overrides, log=lambda *_: None)
        assert "\n" not in str(e.value) and STAND_IN in str(e.value)
        assert not (paper_root / "book" / "_generated" / f"{name}.ipynb").exists()
        return
    res = run_section(paper_root, name, "paper", overrides, log=lambda *_: None)
    nb = nbformat.read(str(res["output"]), as_version=4)
    text = json.dumps(nb.cells)
    assert "random weights" in text, "an ARCH:random page must say so"
    assert "profile paper" in text


@pytest.fixture(scope="module")
def emoji_root(tmp_path_factory):
    return copy_sources(tmp_path_factory.mktemp("emoji-book"), REPO)


EMOJI_SMOKE = {
    "05_data_scale": {"samples": [2000, None]},  # the emoji data ladder's smallest rung and its stream
    "04_bag_of_words": {"model": "emoji-scenes", "judge": "emoji-scenes-judge"},  # the world's scene models
}


@pytest.mark.parametrize("name", SECTIONS)
def test_the_sections_that_serve_the_emoji_world_execute_on_it_and_the_others_refuse_it(name, emoji_root):
    overrides = {"model": "emoji", "judge": "emoji-judge", **EMOJI_SMOKE.get(name, {})}
    if "emoji" not in supported_worlds(emoji_root, name):
        with pytest.raises(ClipinvError, match=rf"^section {name} runs only on the .* world, not on the emoji world"):
            run_section(emoji_root, name, "smoke", overrides, log=lambda *_: None)
        assert not (emoji_root / "book" / "_generated" / f"{name}.ipynb").exists()
        return
    res = run_section(emoji_root, name, "smoke", overrides, log=lambda *_: None)
    text = json.dumps(nbformat.read(str(res["output"]), as_version=4).cells)
    assert "the emoji world's models" in text and overrides["judge"] in text, "the page names its world and models"
    assert "profile smoke" in text
    inverted = {
        "02_nsfw": "emoji-plant-p20",
        "03_gender": "the gender ladder",
        "07_contamination_audit": "the contamination ladder (emoji-plant-p0",
        "05_data_scale": "the data ladder (emoji-data-2k",
    }
    if name in inverted:
        assert f"The page inverts {inverted[name]}" in text, "a ladder page names the ladder it inverts"


def test_failing_section_names_section_cell_and_error_and_keeps_output(tmp_path):
    root = copy_sources(tmp_path, REPO)
    with pytest.raises(ClipinvError) as e:
        run_section(root, "00_method", "smoke", {"model": "no-such-arch:random"}, log=lambda *_: None)
    msg = str(e.value)
    assert "section 00_method failed in cell" in msg and "ClipinvError" in msg and "\n" not in msg
    assert (root / "book" / "_generated" / "failed" / "00_method.ipynb").is_file()


def test_committed_toc_lists_all_sections_in_order():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [c["file"] for p in toc["parts"] for c in p["chapters"]]
    gen = [Path(f).name for f in files if f.startswith("book/_generated/")]
    assert gen == list(SECTIONS)
    assert toc["root"] == "book/intro" and "book/bibliography" in files


def test_a_failed_rerun_keeps_the_page_built_before_and_says_where_its_partial_notebook_is(tmp_path):
    root = copy_sources(tmp_path, REPO)
    run_section(root, "00_method", "smoke", log=lambda *_: None)
    page = root / "book" / "_generated" / "00_method.ipynb"
    before = page.read_bytes()
    with pytest.raises(ClipinvError, match="failed in cell") as e:
        run_section(root, "00_method", "smoke", {"model": "no-such-model"}, log=lambda *_: None)
    failed = root / "book" / "_generated" / "failed" / "00_method.ipynb"
    assert str(failed) in str(e.value) and "\n" not in str(e.value)
    assert page.read_bytes() == before
    assert "no-such-model" in failed.read_text()
    run_section(root, "00_method", "smoke", log=lambda *_: None)  # a later success supersedes the failure
    assert not failed.exists() and page.exists()


def test_an_executed_page_folds_its_code_and_says_how_it_was_built(tmp_path):
    root = copy_sources(tmp_path, REPO)
    run_section(root, "00_method", "smoke", {"seeds": 1}, log=lambda *_: None)
    nb = nbformat.read(str(root / "book" / "_generated" / "00_method.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert len(params) == 2 and all("remove-cell" in c.metadata["tags"] for c in params)
    assert all(
        "hide-input" in c.metadata["tags"] or "remove-input" in c.metadata["tags"] for c in code if c not in params
    )
    box = next(c for c in nb.cells if "clipinv-run" in c.metadata.get("tags", []))
    assert nb.cells.index(box) == 1 and nb.cells[0].source.startswith("# ")
    assert "clipinv section 00_method --profile smoke -p seeds 1" in box.source and "seeds = 1" in box.source
    assert nb.metadata["clipinv"]["overrides"] == {"seeds": 1}


def test_a_dead_kernel_is_one_line_that_names_memory():
    from clipinv.book.runner import _could_not_run

    class DeadKernelError(RuntimeError):
        pass

    line = _could_not_run("03_gender", Path("book/_generated/failed/03_gender.ipynb"), DeadKernelError("Kernel died"))
    assert "\n" not in line and "out of memory" in line and "-p seeds" in line and "failed/03_gender.ipynb" in line
    other = _could_not_run("03_gender", Path("x.ipynb"), TimeoutError("cell timed out"))
    assert "memory" not in other and "TimeoutError: cell timed out" in other
