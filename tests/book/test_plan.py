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
from clipinv.runs.planning import PlanningEngine

RESULTS = (REPO / "bench" / "RESULTS.md").read_text()


def test_every_figure_is_one_results_md_records():
    figures = costs.load_figures()
    assert figures["inversion"]
    for f in figures["inversion"]:
        value = f["seed_steps_per_s"]
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


def test_the_toy_figures_are_for_the_shipped_toys_size():
    from clipinv.worlds.shapes.model import ModelConfig

    assert costs.toy_config() == dataclasses.asdict(ModelConfig())
    assert costs.arch({"spec": "toy-skew-50", "model_config": dataclasses.asdict(ModelConfig())}) == "toy"
    narrow = dataclasses.asdict(ModelConfig(vision_width=64, vision_layers=2))
    assert costs.arch({"spec": "x", "model_config": narrow}) == "toy (width 64, 2 layers)"
    emoji = {"width": 128, "vision_layers": 4, "image_size": 48}
    assert costs.arch({"spec": "emoji", "model_config": emoji, "world": "emoji"}) == "emoji (width 128, 4 layers)"


def test_planning_returns_placeholders_writes_no_cache_and_counts_an_image_once(tiny, tmp_path):
    plan_file = tmp_path / "plan.jsonl"
    planned = PlanningEngine(plan_file, section="a page").stand_in(tiny)
    recipe = __import__("clipinv").Recipe(steps=5, resolution_schedule=((0, 16), (2, 32)), n_augments=2)
    t0 = time.perf_counter()
    out = invert(planned, ["a red circle", "a dog"], seeds=3, recipe=recipe, progress=False)
    assert time.perf_counter() - t0 < 5
    assert out.images.shape == (2, 3, 3, 32, 32) and out.similarity.shape == (2, 3)
    assert out.history["loss"].shape == (2, 3, 5) and out.record["engine"] == "plan"
    assert len(ResultCache(default_root())) == 0, "a plan writes nothing to the cache"
    invert(planned, ["a dog", "a cat"], seeds=3, recipe=recipe, progress=False)
    invert(planned, ["a cat"], seeds=3, recipe=recipe, progress=False, cache=False)
    rows = planning.rows(plan_file)
    assert [(r["images"], r["cached"], r["new"]) for r in rows] == [(6, 0, 6), (6, 3, 3), (3, 0, 3)]
    assert rows[0]["seed_steps"] == 30 and rows[0]["copies"] == 2 and rows[0]["section"] == "a page"
    a, b = planned.encode_text(["a dog", "a cat"]), planned.encode_text(["a dog"])
    assert (a[0] == b[0]).all() and not (a[0] == a[1]).all(), "one placeholder vector per distinct text"
    assert not (tiny.encode_text(["a dog"]) == b).all(), "the model itself still reads texts"
    assert tiny.engine is None and len(planning.rows(plan_file)) == 3, "the plan changed nothing outside it"
    invert(tiny, ["a dog"], seeds=1, recipe=recipe, progress=False)
    assert len(planning.rows(plan_file)) == 3 and len(ResultCache(default_root())) == 1


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
    ledger = tmp_path / "planning.jsonl"
    for name in names:
        run_section(root, name, "smoke", declared_overrides(root, name, overrides), log=lambda *_: None, ledger=ledger)
    ran = planning.rows(ledger)

    def counts(rows):
        return [(r["section"], r["kind"], r.get("images"), r["cached"], r.get("new")) for r in rows]

    # section 0: the figure, two stage snapshots and the scrubber; section 3: its models' inversions
    assert counts(first["rows"]) == counts(ran) and len(ran) > 4
    computed = sum(r["new"] for r in ran if r["kind"] == "inversion")
    assert computed == sum(r["new"] for r in first["rows"] if r["kind"] == "inversion")
    kept = sum(r["new"] for r in ran if r["kind"] == "inversion" and r["kept"])  # the scrubber's run keeps none
    assert kept < computed and inversion_entries(default_root()) == kept, (
        "every image the plan called new computed once"
    )
    assert {r["kind"] for r in first["rows"] + ran} == {"inversion"}
    table = first["sections"].set_index("section")
    assert table.loc["03_gender", "new"] > 0 and table.loc["00_method", "new"] > 0

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

    toy = {"spec": "toy", "model_config": dataclasses.asdict(ModelConfig())}
    rows = [
        {**_inversion("?", device="cpu", copies=4, new=3, steps=10), "models": [toy]},  # no toy figure at 4 copies
        {**_inversion("?", device="cpu", copies=2, new=1, steps=10), "models": [toy]},
    ]
    figures = costs.load_figures()
    figures["inversion"] = [f for f in figures["inversion"] if f["arch"] != "toy"]
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
    from clipinv.models.load import MissingWeights

    monkeypatch.setattr("clipinv.models.load._online", lambda host="huggingface.co": False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ClipinvError, match="weights for RN50:openai could not be loaded") as missing:
        load_model("RN50:openai")
    assert isinstance(missing.value, MissingWeights)
    plan_file = tmp_path / "plan.jsonl"
    bundle = PlanningEngine(plan_file).load("RN50:openai")
    assert bundle.spec == "RN50:openai" and bundle.image_size == 224 and isinstance(bundle.engine, PlanningEngine)
    (row,) = planning.rows(plan_file)
    n = sum(p.numel() for p in bundle.model.parameters())
    assert row["kind"] == "weights" and row["spec"] == "RN50:openai" and row["parameters"] == n > 10_000_000
    line = missing_weights_line({row["spec"]: row["parameters"]})
    assert f"RN50:openai ({n / 1e6:,.0f}M parameters, about {n * 4 / 1e9:.1f} GB)" in line


def test_a_sections_engine_stays_with_its_models_and_changes_nothing_else(tmp_path):
    """A page built with a plan plans every inversion of the models it loads, and only those: a model
    loaded outside it, in the same process, still computes."""
    from clipinv import load_model
    from clipinv.book.section import Section, engine_for
    from clipinv.runs.planning import Ledger
    from clipinv.runs.ray_cluster import RayEngine

    assert engine_for(None) is None and engine_for({"section": "00_method"}) is None
    ledger = engine_for({"ray": "auto", "ledger": str(tmp_path / "ledger.jsonl"), "section": "s"})
    assert isinstance(ledger, Ledger) and isinstance(ledger.engine, RayEngine) and ledger.section == "s"

    plan_file = tmp_path / "plan.jsonl"
    sec = Section(model="toy", judge="toy-judge", steps=4, note=False, run={"plan": str(plan_file), "section": "s"})
    assert isinstance(sec.engine, PlanningEngine) and sec.judge.engine is sec.engine
    ladder = sec.load_model("toy-clean")
    out = invert(ladder, ["a red circle"], seeds=2, recipe=sec.recipe, progress=False)
    assert out.record["engine"] == "plan" and len(ResultCache(default_root())) == 0
    sec.invert(["a blue square"], 1)
    assert [(r["section"], r["models"][0]["spec"], r["new"]) for r in planning.rows(plan_file)] == [
        ("s", "toy-clean", 2),
        ("s", "toy", 1),
    ]
    plain = load_model("toy")
    assert plain.engine is None
    assert invert(plain, ["a red circle"], seeds=1, recipe=sec.recipe, progress=False).record["engine"] == "in process"
    assert len(planning.rows(plan_file)) == 2 and len(ResultCache(default_root())) == 1


def test_a_profile_or_p_cannot_set_the_runners_run(tmp_path):
    from clipinv import ClipinvError
    from clipinv.book.runner import section_parameters

    root = copy_sources(tmp_path, REPO)
    with pytest.raises(ClipinvError, match="`run` is set by the runner"):
        section_parameters(root, "00_method", "smoke", {"run": {"plan": "x"}})
