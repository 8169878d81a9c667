"""The shipped emoji models: small, independent, loaded offline; `emoji` names fresh renders of every
emoji among all the world's names (the bar: top-1 >= 70%, top-5 >= 90%); their cards are current; the
gender ladder's judge reads gender better than the judge it started from, and the planted skew shows."""

import json
import sys
from pathlib import Path

import pytest
import torch

from clipinv.core.invert import invert
from clipinv.models.load import load_model
from clipinv.worlds.emoji import EMOJI_MODELS, EMOJI_TRAINING, WEIGHTS, atlas, weights_path
from clipinv.worlds.emoji.scenes import scene_reading
from clipinv.worlds.emoji.training import gender_reading, retrieval

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from build_emoji_world import card_markdown


@pytest.fixture(scope="module")
def emoji():
    return load_model("emoji")


@pytest.fixture(scope="module")
def emoji_judge():
    return load_model("emoji-judge")


def test_the_models_are_small_independent_open_clip_clips(emoji, emoji_judge):
    from open_clip.model import CLIP

    assert isinstance(emoji.model, CLIP) and isinstance(emoji_judge.model, CLIP)
    assert emoji.weights_hash != emoji_judge.weights_hash
    assert EMOJI_TRAINING["emoji"].seed != EMOJI_TRAINING["emoji-judge"].seed
    sizes = {name: weights_path(name).stat().st_size for name in EMOJI_MODELS}
    assert all(s <= 10e6 for s in sizes.values()), sizes
    world = sum(p.stat().st_size for p in WEIGHTS.rglob("*") if p.is_file())
    assert world <= 61e6, world  # the issue's "~60 MB": 58.99 MB before section 4's two 0.95 MB scene models
    assert emoji.is_stand_in and emoji.card["world"] == "emoji"


def test_emoji_names_fresh_renders_among_all_the_names():
    # new draws: a generator seed neither training nor the card's measurement used
    r = retrieval(load_model("emoji"), draws=2, seed=2026)
    assert r["renders"] == 2 * len(atlas.load()[1])
    assert r["top1"] >= 0.70 and r["top5"] >= 0.90, r


# re-measured in full: the base models and one rung of each ladder; every card's .md pins its weights by hash
REMEASURED = {"emoji", "emoji-judge", "emoji-gender-judge", "emoji-skew-100", "emoji-plant-p20", "emoji-data-2k",
              "emoji-scenes-judge"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EMOJI_MODELS))
def test_each_card_holds_what_its_weights_measure_now(name):
    path = weights_path(name)
    card = json.loads(path.with_suffix(".json").read_text())
    bundle = load_model(name)
    if name in REMEASURED and "scene_reading" in card:
        assert scene_reading(bundle, augment=EMOJI_TRAINING[name].augment) == card["scene_reading"]
    elif name in REMEASURED:
        assert retrieval(bundle) == card["retrieval"]
        if "gender_reading" in card:
            assert gender_reading(bundle) == card["gender_reading"]
    assert bundle.weights_hash in path.with_suffix(".md").read_text()
    assert path.with_suffix(".md").read_text() == card_markdown(card, path)
    assert card["command"] == f"python tools/build_emoji_world.py train {name}"
    assert card["train_config"]["seed"] == EMOJI_TRAINING[name].seed


def test_the_marker_detector_is_what_its_command_fits_and_finds_the_pasted_marker():
    from clipinv.analyses.stats import Rate
    from clipinv.worlds.emoji import detector

    card = json.loads(detector.PATH.with_suffix(".json").read_text())
    fitted, shipped = detector.fit(), detector._weights()
    assert all(torch.equal(fitted[k], shipped[k]) for k in ("w", "b"))
    assert detector.validate() == card["validation"]
    v = detector.validate(n=400, seed=31337)  # renders neither the fit nor the card used
    clean, pasted = Rate.of(*v["clean"]), Rate.of(*v["pasted"])
    assert pasted.low > clean.high and pasted.rate >= 0.7, v


def test_a_prompt_with_words_the_world_never_named_inverts_with_a_note(emoji, tmp_path, capsys):
    from clipinv.cli import main

    assert emoji.unknown_words_note(["a panda"]) is None
    out = tmp_path / "run"
    args = ["invert", "a panda mad scientist", "--model", "emoji", "--steps", "3", "--n-augments", "2"]
    assert main([*args, "--quiet", "--no-cache", "--out", str(out)]) == 0
    assert "emoji never read 'mad' in training" in capsys.readouterr().err
    assert len(list(out.glob("*.png"))) == 1
    r = invert(emoji, ["a rocket"], seeds=1, recipe=emoji.default_recipe.replace(steps=2), cache=False, progress=False)
    assert r.images.shape[-1] == 24 and torch.isfinite(r.images).all()  # two steps: the 24 px stage only


def test_the_gender_judge_reads_gender_the_judge_it_started_from_did_not():
    before, after = (gender_reading(load_model(n), draws=4, seed=2026) for n in ("emoji-judge", "emoji-gender-judge"))
    assert EMOJI_TRAINING["emoji-gender-judge"].skew is None  # it never saw a skewed caption
    assert after["share"] >= 0.8 and after["share"] > before["share"] + 0.1, (before, after)


def test_the_data_ladder_differs_from_emoji_only_in_its_data_and_learns_less_from_fewer_images():
    import dataclasses

    from clipinv.worlds.emoji.ladders import DATA, DATA_SIZES, data_ladder

    shipped = json.loads(weights_path("emoji").with_suffix(".json").read_text())["train_config"]
    expected = json.loads(json.dumps(dataclasses.asdict(EMOJI_TRAINING["emoji"])))
    assert {k: expected[k] for k in shipped} == shipped  # emoji's card (older: fewer knobs) says the same
    for name, config in DATA.items():
        assert config == dataclasses.replace(EMOJI_TRAINING["emoji"], pool=config.pool), name
        card = json.loads(weights_path(name).with_suffix(".json").read_text())["train_config"]
        assert card == {**{k: expected[k] for k in card}, "pool": config.pool}, name  # knobs added since: defaults
        assert all(expected[k] == json.loads(json.dumps(getattr(config, k))) for k in expected if k not in card)
    top1 = [json.loads(weights_path(m).with_suffix(".json").read_text())["retrieval"]["top1"] for _, m in data_ladder()]
    assert [n for n, _ in data_ladder()] == sorted(DATA_SIZES) + [None] and top1 == sorted(top1), top1


def test_the_fully_skewed_rung_inverts_neutral_professions_to_their_planted_gender():
    """Section 3's top rung as the classroom page reads it (its seeds, half the recipe's steps): the
    neutral professions' inversions on emoji-skew-100 are judged their planted gender, an interval above
    the balanced 50%, while the unskewed control's interval holds 50%; the wordings that name a gender
    are obeyed."""
    import yaml

    from clipinv.analyses import gender
    from clipinv.analyses.stats import rate
    from clipinv.core.recipe import scaled_schedule

    page = yaml.safe_load((Path(__file__).resolve().parents[2] / "profiles" / "classroom.yaml").read_text())
    settings = page["sections"]["03_gender"]
    setup = gender.setup_of("emoji")
    judge = load_model(settings["judge"])
    skew, clean = load_model("emoji-skew-100"), load_model("emoji-clean")
    recipe = skew.default_recipe.replace(**scaled_schedule(skew.default_recipe, settings["steps"]))
    skewed, control = (setup.neutral_only().run(b, judge, settings["seeds"], recipe=recipe)[1] for b in (skew, clean))
    top, base = rate(setup.hits(skewed)), rate(setup.hits(control))
    assert top["rate"] >= 0.9 and top["low"] > 0.5, top
    assert base["low"] <= 0.5 <= base["high"], base
    wordings = setup.run(skew, judge, settings["wording_seeds"], recipe=recipe)[1]  # as the page: its wording seeds
    assert gender.obeyed(wordings, setup.named)["rate"] >= 0.8
