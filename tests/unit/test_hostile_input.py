"""What a clumsy user or a careless script can type: each gets one line (no traceback), exit 2, and
every file that existed before the command is byte-identical after it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from clipinv.cli import main
from clipinv.worlds.shapes import WEIGHTS


def snapshot(folder: Path) -> dict:
    """Every file under `folder` and the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def book_root(tmp_path):
    """A book with one section and one profile, and a user's own notebook beside it."""
    root = tmp_path / "book"
    (root / "notebooks").mkdir(parents=True)
    (root / "profiles").mkdir()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("seeds = 1")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(seeds)")]
    nbformat.write(nb, str(root / "notebooks" / "00_method.ipynb"))
    (root / "profiles" / "classroom.yaml").write_text("defaults:\n  seeds: 1\nsections: {}\n")
    analysis = tmp_path / "home" / "analysis.ipynb"
    analysis.parent.mkdir()
    nb.cells.append(nbformat.v4.new_markdown_cell("my own notes"))
    nbformat.write(nb, str(analysis))
    return root, analysis


@pytest.mark.parametrize("command", ["section", "book"])
def test_a_path_as_a_section_name_is_refused_and_the_notebook_kept(book_root, tmp_path, capsys, command):
    root, analysis = book_root
    before = snapshot(tmp_path)
    name = str(analysis.with_suffix(""))
    args = [command, name] if command == "section" else [command, "--only", "00_method", name]
    assert main([*args, "--root", str(root), "--no-build"]) == 2
    err = one_line_error(capsys)
    assert f"no section {name!r}" in err and "00_method" in err
    assert snapshot(tmp_path) == before
    assert not (root / "book").exists()  # 00_method, named first, did not run either


@pytest.mark.parametrize(
    "text, message",
    [
        ("defaults: {seeds: 1\nsections: {}\n", "is not plain YAML"),
        ("defaults: !!python/object/apply:os.system [echo hi]\n", "is not plain YAML"),
        ("- a\n- b\n", "must be a mapping"),
    ],
)
def test_a_broken_profile_is_one_line(book_root, tmp_path, capsys, text, message):
    root, _ = book_root
    profile = tmp_path / "mine.yaml"
    profile.write_text(text)
    before = snapshot(tmp_path)
    assert main(["section", "00_method", "--root", str(root), "--no-build", "--profile", str(profile)]) == 2
    assert message in one_line_error(capsys)
    assert snapshot(tmp_path) == before


def test_a_parameter_that_is_not_yaml_is_refused_not_passed_as_text(book_root, capsys):
    root, _ = book_root
    assert main(["section", "00_method", "--root", str(root), "--no-build", "-p", "seeds", "[1, 2"]) == 2
    assert "-p value '[1, 2' is not plain YAML" in one_line_error(capsys)
    assert not (root / "book").exists()


# ---------------------------------------------------------------- models and their files
TOY_WEIGHTS = WEIGHTS
TOY_TRAIN = ["--steps", "1", "--samples", "0", "--no-eval", "--device", "cpu"]


def test_toy_train_never_replaces_a_card_it_did_not_write(tmp_path, capsys):
    (tmp_path / "notes.json").write_text('{"my": "notes"}\n')
    before = snapshot(tmp_path)
    assert main(["toy", "train", "--out", str(tmp_path / "notes.safetensors"), *TOY_TRAIN]) == 2
    err = one_line_error(capsys)
    assert "notes.json exists and is not a toy model clipinv saved: choose another --out" in err
    assert snapshot(tmp_path) == before


def test_toy_train_replaces_its_own_earlier_model_whole(tmp_path, capsys):
    out = tmp_path / "mine.safetensors"
    assert main(["toy", "train", "--out", str(out), *TOY_TRAIN]) == 0
    first = snapshot(tmp_path)
    assert main(["toy", "train", "--out", str(out), "--seed", "3", *TOY_TRAIN]) == 0
    after = snapshot(tmp_path)
    assert set(after) == {"mine.safetensors", "mine.json"} and after != first  # no temporary file left


def toy_pair(tmp_path, change) -> Path:
    """The shipped toy's weights beside a copy of its card that `change` edits."""
    import json
    import shutil

    out = tmp_path / "edited.safetensors"
    shutil.copy(TOY_WEIGHTS / "toy.safetensors", out)
    card = json.loads((TOY_WEIGHTS / "toy.json").read_text())
    change(card)
    out.with_suffix(".json").write_text(json.dumps(card))
    return out


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["model_config"].update(vision_width=64),
            "do not fit together (size mismatch",
        ),  # tensors of another shape
        (lambda c: c["model_config"].update(depth=3), "do not fit together"),  # an unknown field
        (lambda c: c.pop("mean"), "do not fit together (no field 'mean')"),
        (lambda c: c.update(std="wide"), "do not fit together"),
        (lambda c: c.pop("model_config"), "edited.json beside"),  # then it is no toy card at all
    ],
)
def test_a_toy_card_that_does_not_fit_its_weights_is_one_line(tmp_path, capsys, change, message):
    path = toy_pair(tmp_path, change)
    before = snapshot(tmp_path)
    assert main(["invert", "a red circle", "--model", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert message in one_line_error(capsys)
    assert snapshot(tmp_path) == before


def test_a_checkpoint_of_another_shape_is_one_line(tmp_path, capsys):
    import open_clip
    from safetensors.torch import save_file

    from clipinv import load_model

    open_clip.add_model_config(Path(__file__).parent / "data" / "clipinv-tiny-test.json")
    state = dict(load_model("clipinv-tiny-test:random").model.state_dict())
    state["positional_embedding"] = state["positional_embedding"][:8].contiguous()
    path = tmp_path / "short.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    spec = f"clipinv-tiny-test:{path}"
    assert main(["invert", "a dog", "--model", spec, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert f"checkpoint {path} does not fit clipinv-tiny-test: 1 tensor(s) of another shape" in err


# ---------------------------------------------------------------- an inversion's output
TINY = ["--model", "clipinv-tiny-test:random", "--steps", "4", "--resolution-schedule", "0:16", "--quiet"]


@pytest.fixture
def tiny_model():
    import open_clip

    open_clip.add_model_config(Path(__file__).parent / "data" / "clipinv-tiny-test.json")


def test_run_json_as_a_folder_sends_the_run_to_a_new_folder(tmp_path, tiny_model, capsys):
    out = tmp_path / "out"
    (out / "run.json").mkdir(parents=True)
    (out / "run.json" / "mine.txt").write_text("mine")
    before = snapshot(out)
    assert main(["invert", "a dog", *TINY, "--out", str(out)]) == 0
    assert f"this one goes to {out}-2" in capsys.readouterr().err
    assert (tmp_path / "out-2" / "run.json").is_file()
    assert snapshot(out) == before


def test_a_full_disk_under_out_writes_nothing_there_and_keeps_the_images_in_the_cache(
    tmp_path, tiny_model, capsys, monkeypatch
):
    import errno

    from PIL import Image

    from clipinv.core.cache import ResultCache

    monkeypatch.setenv("CLIPINV_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    assert main(["invert", "a dog", "a cat", *TINY, "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert f"could not write the run into {out} (No space left on device): nothing was written there" in err
    assert "2 image(s) are in the results cache" in err
    assert not out.exists()
    assert len(ResultCache(tmp_path / "cache")) == 2


def test_a_run_of_a_hundred_million_images_is_refused_at_once(tmp_path, capsys):
    import time

    t = time.perf_counter()
    assert main(["invert", "a red circle", "--model", "toy", "--seeds", "100000000", "--out", str(tmp_path / "o")]) == 2
    assert time.perf_counter() - t < 10
    assert "100,000,000 images is more than one run holds (1,000,000)" in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_a_run_longer_than_a_day_is_refused_with_its_cost_unless_confirmed(tmp_path, capsys, monkeypatch):
    assert main(["invert", "a red circle", "--model", "toy", "--seeds", "200000", "--out", str(tmp_path / "o")]) == 2
    err = one_line_error(capsys)
    assert "200,000 images of" in err and "hours on cpu" in err and "more than a day: pass --large" in err
    assert not (tmp_path / "o").exists()
    # --large lets it through to the inversion itself (stopped here before it computes anything)
    import importlib

    inversion = importlib.import_module("clipinv.core.invert")

    def stop(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(inversion, "optimise", stop)
    args = ["invert", "a red circle", "--model", "toy", "--seeds", "200000", "--large", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "o"), "--no-cache"]) == 130


def test_invert_refuses_more_images_than_it_can_hold_before_listing_them(tiny):
    from clipinv import ClipinvError, invert

    with pytest.raises(ClipinvError, match="100,000,000 images in one call is more than invert holds at once"):
        invert(tiny, ["a dog", "a cat"], seeds=50_000_000, progress=False)


@pytest.mark.parametrize("seed", [2**64, -1, 2**63])
def test_a_seed_out_of_range_is_one_line(tiny, seed):
    from clipinv import ClipinvError, invert

    with pytest.raises(ClipinvError, match="whole numbers from 0 to 2\\*\\*62"):
        invert(tiny, "a dog", seeds=[0, seed], progress=False)


def test_a_device_torch_does_not_know_is_one_line():
    from clipinv import ClipinvError, load_model

    with pytest.raises(ClipinvError, match="device 'gpu' is not one torch knows: give cpu, cuda or cuda:N"):
        load_model("toy", device="gpu")


@pytest.mark.parametrize("damage, message", [("int", "integer tensor(s)"), ("nan", "NaN or infinite values")])
def test_integer_or_nan_weights_are_refused_when_loaded(tmp_path, tiny_model, capsys, damage, message):
    import torch
    from safetensors.torch import save_file

    from clipinv import load_model

    state = dict(load_model("clipinv-tiny-test:random").model.state_dict())
    name = "visual.proj"
    state[name] = state[name].round().long() if damage == "int" else state[name].clone().fill_(float("nan"))
    path = tmp_path / "bad.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    assert torch.is_tensor(state[name])
    args = ["invert", "a dog", "--model", f"clipinv-tiny-test:{path}", "--out", str(tmp_path / "o"), "--quiet"]
    assert main(args) == 2
    err = one_line_error(capsys)
    assert message in err and f"(e.g. {name}" in err and "diverged" not in err
