"""`--plan`: the counts a plan prints are what the run then computes, its costs are the figures
bench/RESULTS.md records, and planning computes nothing."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest
from book_helpers import REPO

from clipinv.book.plan import declared_overrides, plan
from clipinv.book.runner import copy_sources, run_section
from clipinv.cli import main
from clipinv.core.cache import ResultCache, default_root
from clipinv.core.invert import invert
from clipinv.runs import costs, planning

RESULTS = (REPO / "bench" / "RESULTS.md").read_text()


def test_every_figure_is_one_results_md_records():
    figures = costs.load_figures()
    assert figures["inversion"] and figures["training"]
    for f in figures["inversion"] + figures["training"]:
        value = f.get("seed_steps_per_s", f.get("ms_per_step"))
        assert f"{value:g}" in RESULTS, f"{f} is not a number RESULTS.md reports"
        (date,) = re.findall(r"\d{4}-\d{2}-\d{2}", f["source"])
        assert date in RESULTS, f"{f}: RESULTS.md has no run of {date}"


def _inversion(arch, device="cuda", precision="fp32", copies=13, new=100, steps=3400, spec=None):
    return {
        "kind": "inversion",
        "models": [{"spec": spec or f"{arch}:openai", "weights": "w", "model_config": None}],
        "device": device,
        "precision": precision,
        "copies": copies,
        "images": new,
        "cached": 0,
        "new": new,
        "seed_steps": new * steps,
    }


def test_an_inversion_costs_its_seed_steps_at_the_largest_batch_it_fills_scaled_by_copies():
    figures = costs.load_figures()
    seconds, what = costs.row_seconds(_inversion("ViT-B-16"), figures)
    assert seconds == pytest.approx(100 * 3400 / 91.7) and "64 per batch" in what
    seconds, what = costs.row_seconds(_inversion("ViT-B-16", new=10), figures)  # 10 images: batches of 8
    assert seconds == pytest.approx(10 * 3400 / 84.4)
    seconds, _ = costs.row_seconds(_inversion("ViT-B-16", copies=26), figures)
    assert seconds == pytest.approx(100 * 3400 / (91.7 / 2))
    seconds, what = costs.row_seconds(_inversion("ViT-B-32"), figures)
    assert seconds is None and what.startswith(costs.NO_FIGURE)
    ensemble = _inversion("ViT-B-16", new=1)
    ensemble["models"] *= 2
    assert costs.row_seconds(ensemble, figures)[0] == pytest.approx(2 * 3400 / 25.9)


def test_a_training_costs_its_new_steps_at_the_slowest_recorded_run():
    from clipinv.worlds.shapes.model import ModelConfig

    row = planning.training_row("k", "toy-x", 2000, 96, dataclasses.asdict(ModelConfig()), "cuda", cached=False)
    seconds, what = costs.row_seconds(row, costs.load_figures())
    assert seconds == pytest.approx(2000 * 27.0 / 1000) and "slowest of 2" in what
    cached = {**row, "cached": True, "new_steps": 0}
    assert costs.row_seconds(cached, costs.load_figures()) == (0.0, "cached")


def test_planning_returns_placeholders_writes_no_cache_and_counts_an_image_once(tiny, tmp_path, monkeypatch):
    plan_file = tmp_path / "plan.jsonl"
    monkeypatch.setenv(planning.PLAN, str(plan_file))
    recipe = __import__("clipinv").Recipe(steps=5, resolution_schedule=((0, 16), (2, 32)), n_augments=2)
    t0 = time.perf_counter()
    out = invert(tiny, ["a red circle", "a dog"], seeds=3, recipe=recipe, progress=False)
    assert time.perf_counter() - t0 < 5
    assert out.images.shape == (2, 3, 3, 32, 32) and out.similarity.shape == (2, 3)
    assert out.history["loss"].shape == (2, 3, 5)
    assert len(ResultCache(default_root())) == 0, "a plan writes nothing to the cache"
    invert(tiny, ["a dog", "a cat"], seeds=3, recipe=recipe, progress=False)
    invert(tiny, ["a cat"], seeds=3, recipe=recipe, progress=False, cache=False)
    rows = planning.rows(plan_file)
    assert [(r["images"], r["cached"], r["new"]) for r in rows] == [(6, 0, 6), (6, 3, 3), (3, 0, 3)]
    assert rows[0]["seed_steps"] == 30 and rows[0]["copies"] == 2
    a, b = tiny.encode_text(["a dog", "a cat"]), tiny.encode_text(["a dog"])
    assert (a[0] == b[0]).all() and not (a[0] == a[1]).all(), "one placeholder vector per distinct text"


def inversion_entries(root) -> int:
    """The cache's inversion entries (the pages also cache their readings of images back into words)."""
    cache = ResultCache(root)
    return sum(1 for p in cache.root.glob("??/*.safetensors") if "image" in (cache.load(p.stem) or {}))


def test_a_plan_counts_what_the_run_then_computes(tmp_path, monkeypatch, capsys):
    """Smoke sections 0 and 3 (3 inverts the shipped skew ladder, training nothing): a plan, then the
    run (its ledger: what each invert found cached and what it computed), then a plan again."""
    root = copy_sources(tmp_path, REPO)
    names, overrides = ["00_method", "03_gender"], {}
    first = plan(root, names, "smoke", overrides, book_wide=True, log=lambda *_: None)
    monkeypatch.setenv(planning.LEDGER, str(tmp_path / "planning.jsonl"))
    for name in names:
        run_section(root, name, "smoke", declared_overrides(root, name, overrides), log=lambda *_: None)
    ran = planning.rows(tmp_path / "planning.jsonl")

    def counts(rows):
        return [(r["section"], r["kind"], r.get("images"), r["cached"], r.get("new"), r.get("new_steps")) for r in rows]

    # section 0: the figure, two stage snapshots and the scrubber; section 3: its models' inversions
    assert counts(first["rows"]) == counts(ran) and len(ran) > 4
    computed = sum(r["new"] for r in ran if r["kind"] == "inversion")
    assert computed == sum(r["new"] for r in first["rows"] if r["kind"] == "inversion")
    kept = sum(r["new"] for r in ran if r["kind"] == "inversion" and r["kept"])  # the scrubber's run keeps none
    assert kept < computed and inversion_entries(default_root()) == kept, (
        "every image the plan called new computed once"
    )
    assert not [r for r in first["rows"] + ran if r["kind"] == "training"], "the book trains nothing"
    table = first["sections"].set_index("section")
    assert table.loc["03_gender", "new"] > 0 and table.loc["00_method", "new"] > 0

    monkeypatch.delenv(planning.LEDGER)
    args = ["section", "03_gender", "--profile", "smoke", "--plan", "--root", str(root)]
    assert main(args) == 0
    shown = capsys.readouterr().out
    assert "0 new" in shown, shown
    assert "03_gender" in shown and "seed-steps" in shown


def test_the_paper_profile_plans_its_full_size_on_this_cpu_without_computing_it(tmp_path):
    """Section 3 at the paper's size (30 wordings x 100 seeds x 3,400 steps, 13 copies) with stand-in
    models: days of CPU work planned in seconds, costed at the H100 figure for ViT-B-16."""
    root = copy_sources(tmp_path, REPO)
    stand_ins = {"model": "ViT-B-16:random", "judge": "ViT-S-32:random"}
    t0 = time.perf_counter()
    result = plan(root, ["03_gender"], "paper", stand_ins, log=lambda *_: None)
    assert time.perf_counter() - t0 < 240
    (row,) = result["rows"]
    assert (row["images"], row["new"], row["copies"], row["device"]) == (3000, 3000, 13, "cuda")
    assert row["seed_steps"] == 3000 * 3400
    assert row["seconds"] == pytest.approx(3000 * 3400 / 91.7)
    assert f"{3000 * 3400 / 91.7 / 3600:.2f} GPU-hours" in result["total"] and "on cuda" in result["total"]


def test_probe_times_what_no_figure_covers():
    from clipinv.worlds.shapes.model import ModelConfig
    from clipinv.worlds.shapes.on_demand import SMALL_CONFIG

    cfg = dataclasses.asdict(ModelConfig(**SMALL_CONFIG))
    rows = [
        planning.training_row("k", "toy-x", 300, 32, cfg, "cpu", cached=False),
        {**_inversion("?", device="cpu", copies=4, new=3, steps=10), "models": [{"spec": "x", "model_config": cfg}]},
    ]
    figures = costs.load_figures()
    assert all(costs.row_seconds(r, figures)[0] is None for r in rows)
    probed = costs.probe(rows, figures, "cpu", log=lambda *_: None)
    for r in rows:
        seconds, what = costs.row_seconds(r, probed)
        assert seconds > 0 and "probe on this machine" in what


def test_plan_of_an_unknown_section_is_one_line(tmp_path, capsys):
    root = copy_sources(tmp_path, REPO)
    assert main(["section", "99_nothing", "--profile", "smoke", "--plan", "--root", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no section '99_nothing' to plan" in err and len(err.splitlines()) == 1
    assert main(["book", "--profile", "smoke", "-p", "seeds", "1", "--root", str(root)]) == 2
    assert "only with --plan" in capsys.readouterr().err


def test_a_plan_stands_in_random_weights_for_pretrained_ones_not_on_this_machine(tmp_path, monkeypatch):
    """Offline, without the weights: a plan still loads the spec (its architecture, random weights) and
    writes down what the run must download; outside a plan the same spec is a one-line error."""
    from clipinv import ClipinvError, load_model
    from clipinv.book.plan import missing_weights_line

    monkeypatch.setattr("clipinv.models.load._online", lambda host="huggingface.co": False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ClipinvError, match="weights for RN50:openai could not be loaded"):
        load_model("RN50:openai")
    plan_file = tmp_path / "plan.jsonl"
    monkeypatch.setenv(planning.PLAN, str(plan_file))
    bundle = load_model("RN50:openai")
    assert bundle.spec == "RN50:openai" and bundle.image_size == 224
    (row,) = planning.rows(plan_file)
    n = sum(p.numel() for p in bundle.model.parameters())
    assert row["kind"] == "weights" and row["spec"] == "RN50:openai" and row["parameters"] == n > 10_000_000
    line = missing_weights_line({row["spec"]: row["parameters"]})
    assert f"RN50:openai ({n / 1e6:,.0f}M parameters, about {n * 4 / 1e9:.1f} GB)" in line
