import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import open_clip
import pytest
from PIL import Image

from clipinv.cli import main
from clipinv.errors import ClipinvError

HERE = Path(__file__).parent
open_clip.add_model_config(HERE / "data" / "clipinv-tiny-test.json")
TINY = "clipinv-tiny-test:random"
FAST = ["--steps", "12", "--resolution-schedule", "0:16,6:32", "--n-augments", "2", "--quiet"]


def test_invert_round_trip_writes_pngs_and_a_replayable_record(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["invert", "a red circle", "a dog", "--model", TINY, "--seeds", "2", "--out", str(out), *FAST]) == 0
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 4
    assert Image.open(pngs[0]).size == (32, 32)
    record = json.loads((out / "run.json").read_text())
    assert record["specs"] == [TINY] and record["seeds"] == [0, 1]
    assert record["recipe"]["steps"] == 12 and record["recipe"]["resolution_schedule"] == [[0, 16], [6, 32]]
    assert {i["file"] for i in record["images"]} == {p.name for p in pngs}
    assert all(i["nsfw_blurred"] is False for i in record["images"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary folder left
    # the same command again comes from the cache, into a new folder: the first run stays as it was
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["invert", "a red circle", "a dog", "--model", TINY, "--seeds", "2", "--out", str(out), *FAST]) == 0
    assert f"{out} holds an earlier run: this one goes to {out}-2" in capsys.readouterr().err
    assert json.loads((tmp_path / "out-2" / "run.json").read_text())["cached"] == 4
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_no_cache_flag_bypasses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPINV_CACHE", str(tmp_path / "cache"))
    assert main(["invert", "a dog", "--model", TINY, "--out", str(tmp_path / "o"), "--no-cache", *FAST]) == 0
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["   "], "empty"),
        (["a dog", "--steps", "0"], "steps must be a positive"),
        (["a dog", "--lr", "nan"], "lr must be a finite"),
        (["a dog", "--tv-weight", "inf"], "tv_weight must be a finite"),
        (["a dog", "--resolution-schedule", "0:0"], "image size must be > 0"),
        (["a dog", "--model", "ViT-B-16:opnai"], "did you mean"),
        ([" ".join(["word"] * 40)], "tokens"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    model = [] if "--model" in args else ["--model", TINY]
    assert main(["invert", *model, "--out", str(out), *FAST, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_unwritable_output_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    assert main(["invert", "a dog", "--model", TINY, "--out", str(tmp_path / "file.txt" / "sub"), *FAST]) == 2
    assert "inside a file" in capsys.readouterr().err


def test_help_lists_every_knob_with_the_papers_default():
    text = subprocess.run(
        [sys.executable, "-m", "clipinv.cli", "invert", "--help"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    # the paper's public code (../shared/paper-facts.md), written out independently of Recipe()
    for flag, paper in [
        ("--steps", "3400"),
        ("--lr", "0.1"),
        ("--n-augments", "13"),
        ("--tv-weight", "0.005"),
        ("--l1-weight", "0.0"),
        ("--affine-p", "0.5"),
        ("--rotate-degrees", "30.0"),
        ("--translate", "0.1"),
        ("--grad-clip", "1.0"),
        ("--precision", "fp32"),
        ("--resolution-schedule", "0:64,900:128,1800:224"),
    ]:
        assert flag in text
        assert f"(paper: {paper})" in text, flag


def test_the_book_runs_sections_side_by_side_longest_first_and_stops_at_a_failure(monkeypatch, capsys):
    import threading
    import time as clock

    from clipinv.cli import book

    started, lock = [], threading.Lock()

    def fake(r, name, profile, ray=None, threads=None):
        with lock:
            started.append((name, threads))
        clock.sleep(0.05)
        if name == "05_data_scale":
            raise ClipinvError("section 05_data_scale failed in cell 3")
        return {"seconds": 1.0}

    monkeypatch.setattr(book, "run_section", fake)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    args = SimpleNamespace(jobs=2, profile="classroom", ray=None)
    names = ["00_method", "03_gender", "08_image_prior", "04_bag_of_words"]
    assert book._run_sections(None, names, args) == [1.0] * 4
    assert [n for n, _ in started] == ["08_image_prior", "03_gender", "00_method", "04_bag_of_words"]
    assert {t for _, t in started} == {1}  # two kernels share the two cores
    started.clear()
    with pytest.raises(ClipinvError, match="05_data_scale failed"):
        book._run_sections(
            None, ["08_image_prior", "05_data_scale", "00_method", "01_concepts", "04_bag_of_words"], args
        )
    assert len(started) < 5  # what had not started when the failure came never starts
    assert main(["book", "--jobs", "0"]) == 2
    assert "--jobs 0: run at least one section" in capsys.readouterr().err
