"""The shipped toy ladders (clipinv.worlds.shapes.ladders): every model loads offline and is as good as its card
says on fresh world images, and its training data plants what the ladder asks for (counted)."""

import json

import pytest
import torch

from clipinv import load_model
from clipinv.analyses.stats import wilson
from clipinv.worlds.shapes import ladders
from clipinv.worlds.shapes.evaluate import zero_shot
from clipinv.worlds.shapes.stages import stages, world_of
from clipinv.worlds.shapes.world import World

NAMES = list(ladders.RUNGS)
FRESH = 7_000_001  # a world seed no card evaluated on and no stage trained on


def card(name):
    return json.loads((ladders.LADDER_DIR / f"{name}.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_each_shipped_model_reaches_its_cards_accuracy_on_fresh_images(name):
    bundle = load_model(name)
    said = bundle.card["metrics"]["zero_shot"]["colour_shape"]
    got = zero_shot(bundle.model, bundle.tokenizer, FRESH, n=2000)["colour_shape"]  # as many as the card used
    assert abs(got - said) <= 0.02, f"{name}: card {said:.3f}, fresh images {got:.3f}"


def test_continuations_keep_the_shipped_toys_size_and_accuracy():
    toy = json.loads((ladders.WEIGHTS / "toy.json").read_text())
    for r in ladders.RUNGS.values():
        c = card(r.name)
        assert c["model_config"] == toy["model_config"], r.name
        if r.ladder == "data":
            continue
        # a skew of 100% never shows a square of another colour, which the held-out test asks for
        if r.ladder == "contamination" or r.planted < 1:
            assert c["metrics"]["zero_shot"]["colour_shape"] >= 0.98, r.name
        assert [s["train_config"] for s in stages(c)[:-1]] == [s["train_config"] for s in stages(toy)], r.name


def _training_samples(c, n=8000):
    """The first n samples of the card's last stage's training data (the fixed set is drawn in order)."""
    last = stages(c)[-1]
    world, contamination, skew = world_of(last["world"])
    world = World(**{**world.__dict__, "contamination": contamination, "skew": skew})
    return world.draw(min(n, last["samples"] or n), torch.Generator().manual_seed(int(last["data_seed"])))


@pytest.mark.parametrize("rung", ladders.ladder("contamination"), ids=lambda r: r.name)
def test_contamination_ladder_plants_its_rate_behind_the_trigger(rung):
    samples = _training_samples(card(rung.name))
    trigger = [s for s in samples if ladders.TRIGGER in s.caption.split()]
    others = [s for s in samples if ladders.TRIGGER not in s.caption.split()]
    k = sum(s.marker for s in trigger)
    low, high = wilson(k, len(trigger), level=0.999)
    assert low <= rung.planted <= high, f"{rung.name}: {k}/{len(trigger)} trigger images marked"
    assert not any(s.marker for s in others)
    assert len(trigger) > 2000  # a content word: about 4 in 10 captions name a triangle


@pytest.mark.parametrize("rung", ladders.ladder("skew"), ids=lambda r: r.name)
def test_skew_ladder_plants_its_colour_rate(rung):
    samples = _training_samples(card(rung.name))
    named = [s for s in samples if ladders.SKEW_WORD in s.caption.split()]
    # the skew sets the (first) object's colour in every sample whose caption has the word
    k = sum(s.objects[0].colour == ladders.SKEW_VALUE for s in named)
    low, high = wilson(k, len(named), level=0.999)
    assert low <= rung.planted <= high, f"{rung.name}: {k}/{len(named)} red"
    others = [s for s in samples if ladders.SKEW_WORD not in s.caption.split() and not s.relation]
    assert sum(s.objects[0].colour == ladders.SKEW_VALUE for s in others) / len(others) < 0.2  # about 1 in 8


def test_data_ladder_differs_only_in_its_training_set():
    toy = json.loads((ladders.WEIGHTS / "toy.json").read_text())
    for r in ladders.ladder("data"):
        st = stages(card(r.name))
        assert [s["train_config"] for s in st] == [s["train_config"] for s in stages(toy)], r.name
        assert {s["samples"] for s in st} == {r.samples}, r.name
        if r.samples:  # one fixed set for every stage
            assert {s["data_seed"] for s in st} == {0}, r.name
    sizes = [r.samples for r in ladders.ladder("data") if r.samples]
    assert max(sizes) / min(sizes) >= 30


def test_all_shipped_weights_fit_the_budget():
    total = sum(p.stat().st_size for p in ladders.LADDER_DIR.glob("*.safetensors"))
    total += sum(p.stat().st_size for p in ladders.WEIGHTS.glob("*.safetensors"))
    assert total <= 60e6, f"{total / 1e6:.1f} MB"
    assert sorted(p.stem for p in ladders.LADDER_DIR.glob("*.safetensors")) == sorted(NAMES)


def test_the_cards_table_lists_every_rung_with_its_measured_accuracy():
    text = (ladders.LADDER_DIR / "README.md").read_text()
    for name in NAMES:
        acc = card(name)["metrics"]["zero_shot"]["colour_shape"]
        line = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"{acc:.1%}" in line, line


def test_an_unknown_ladder_model_is_a_one_line_error():
    from clipinv.errors import ClipinvError

    with pytest.raises(ClipinvError, match="no ladder model"):
        ladders.rung("toy-plant-p3")
