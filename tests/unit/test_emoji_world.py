"""The emoji world: its atlas is what the font and Unicode's data draw, its tokenizer reads any English,
its renders and training are reproducible, and its loader refuses what it cannot load in one line."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from clipinv.errors import ClipinvError
from clipinv.worlds.emoji import EMOJI_MODELS, EMOJI_TRAINING, atlas, is_emoji_checkpoint, load_emoji, weights_path
from clipinv.worlds.emoji.tokenizer import EmojiTokenizer
from clipinv.worlds.emoji.training import Pool, TrainConfig, captions_read, train
from clipinv.worlds.emoji.world import Augment, GenderSkew, Plant, article, caption, gendered, on_grey, render


@pytest.fixture(scope="module")
def world():
    return atlas.load()


@pytest.fixture(scope="module")
def tokenizer(world):
    return EmojiTokenizer(world[1])


def test_the_shipped_atlas_is_what_the_font_and_unicode_data_draw(world):
    glyphs, names = world
    built, built_names = atlas.build()
    assert list(names) == built_names
    shipped = (glyphs.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    assert np.array_equal(shipped, built)


def test_the_atlas_holds_named_things_with_gendered_variants_and_no_blank_glyphs(world):
    glyphs, names = world
    assert len(names) == len(set(names)) == len(glyphs) > 1500
    assert {"rocket", "red apple", "pile of poo", "panda", "scientist", "woman scientist", "man scientist"} <= set(
        names
    )
    for job in ("health worker", "firefighter", "pilot", "teacher", "farmer"):
        assert {job, f"woman {job}", f"man {job}"} <= set(names), job
    covered = (glyphs[:, 3] > 0.5).float().mean((1, 2))
    assert float(covered.min()) > 0.05  # every glyph draws something
    assert all(n == n.lower() and "_" not in n and "\u2019" not in n for n in names)


def test_save_then_load_round_trips_and_a_missing_atlas_says_how_to_build_it(world, tmp_path):
    glyphs, names = world
    raw = (glyphs[:50].permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    atlas.save(raw, list(names[:50]), tmp_path / "a.png", tmp_path / "n.json")
    again, again_names = atlas.load(tmp_path / "a.png", tmp_path / "n.json")
    assert again_names == names[:50] and torch.equal(again, glyphs[:50])
    with pytest.raises(ClipinvError, match="build_emoji_world.py atlas"):
        atlas.load(tmp_path / "none.png", tmp_path / "n.json")


def test_any_english_prompt_tokenises_and_the_unknown_words_are_named(tokenizer):
    ids = tokenizer(["a rocket", "a panda mad scientist", "an utterly unheard-of zyxwv"])
    assert ids.shape == (3, 16) and int(ids.max()) < tokenizer.vocab_size
    eot = tokenizer.vocab_size - 1  # open_clip pools at the highest id: the end token must stay highest
    assert all(int(row.argmax()) == int((row != 0).nonzero().max()) and int(row.max()) == eot for row in ids)
    assert tokenizer.unknown_words("a panda mad scientist") == ["mad"]
    assert tokenizer.unknown_words("an emoji of a red apple") == []
    assert tokenizer.decode(tokenizer(["a picture of a woman health worker"])[0][1:-1]).strip() != ""
    assert "woman health worker" in tokenizer.decode(tokenizer(["a woman health worker"])[0])


def test_a_model_notes_the_words_its_own_training_captions_never_held(world):
    """The scene models read scene captions only, a data-ladder model the names its pool drew; the ladders
    that skew or plant caption every name of the world, as emoji's training does. All read the same ids."""
    models = ("emoji", "emoji-scenes", "emoji-scenes-judge", "emoji-data-2k", "emoji-skew-90", "emoji-plant-p20")
    emoji, scenes, judge, pool, skew, plant = (load_emoji(name) for name in models)
    scene = "a big dog to the left of a small cat"
    assert scenes.unknown_words("a firefighter") == ["firefighter"] and scenes.unknown_words(scene) == []
    assert scenes.unknown_words_note(["a firefighter", scene]) == (
        "emoji-scenes never read 'firefighter' in training: it sees the prompt without them"
    )
    assert judge.unknown_words("a small cat to the right of a big dog") == ["right"]  # it reads "to the left of"
    assert emoji.unknown_words_note(["a firefighter", scene]) is None
    assert emoji.unknown_words("a zyxwv firefighter") == ["zyxwv"]
    assert skew.tokenizer.read == plant.tokenizer.read == emoji.tokenizer.read
    names = world[1]
    drawn = {names[i] for i in Pool.glyphs_drawn(2000, len(names), torch.Generator().manual_seed(0)).tolist()}
    assert "shamrock" not in drawn and "rocket" in drawn
    assert pool.unknown_words("a shamrock rocket") == ["shamrock"] and emoji.unknown_words("a shamrock") == []
    for other in (scenes, judge, pool):
        assert torch.equal(other.tokenizer.map, emoji.tokenizer.map)
        assert torch.equal(other.tokenize(["a firefighter", scene]), emoji.tokenize(["a firefighter", scene]))


def test_a_card_records_its_training_config_and_a_continuation_also_read_its_start():
    for name, config in EMOJI_TRAINING.items():
        card = json.loads(weights_path(name).with_suffix(".json").read_text())
        assert TrainConfig.from_card(card["train_config"]) == config, name
    right = {"scenes": {"things": ["dog", "cat"], "relations": ["to the right of"]}}
    assert captions_read({"train_config": right}) == [
        "a small cat to the right of a big dog",
        "a big cat to the right of a small dog",
        "a small dog to the right of a big cat",
        "a big dog to the right of a small cat",
    ]
    assert captions_read({"train_config": {**right, "init": "emoji"}}) is None  # emoji read every caption
    after_judge = captions_read({"train_config": {**right, "init": "emoji-scenes-judge"}})
    assert len(after_judge) == 4 + 32 * 31 * 2 and "a big owl to the left of a small cat" in after_judge


def test_renders_are_reproducible_bounded_and_plain_means_grey(world):
    glyphs, _ = world
    a = render(glyphs, range(8), Augment(), torch.Generator().manual_seed(4))
    b = render(glyphs, range(8), Augment(), torch.Generator().manual_seed(4))
    c = render(glyphs, range(8), Augment(), torch.Generator().manual_seed(5))
    assert a.shape == (8, 3, 48, 48) and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    grey = on_grey(glyphs, [0])
    corner = grey[0, :, 0, 0]
    assert torch.allclose(corner, corner.mean().expand(3)) and 0.39 <= float(corner[0]) <= 0.61
    assert article("apple") == "an apple" and article("rocket") == "a rocket"
    assert caption("rocket", torch.Generator().manual_seed(0)).count("a rocket") == 1


def test_training_is_reproducible_and_the_card_is_measured_on_the_saved_weights(tmp_path):
    config = TrainConfig(seed=3, steps=3, batch=8)
    cards = [train(config, tmp_path / f"m{i}.safetensors", progress=False) for i in range(2)]
    train(TrainConfig(seed=4, steps=3, batch=8), tmp_path / "other.safetensors", progress=False)
    files = [(tmp_path / f"{n}.safetensors").read_bytes() for n in ("m0", "m1", "other")]
    assert files[0] == files[1] and files[0] != files[2]
    assert cards[0]["retrieval"] == cards[1]["retrieval"] and cards[0]["world"] == "emoji"
    assert cards[0]["retrieval"]["renders"] == 2 * len(atlas.load()[1])
    assert is_emoji_checkpoint(tmp_path / "m0.safetensors")
    bundle = load_emoji(str(tmp_path / "m0.safetensors"))
    assert bundle.is_stand_in and bundle.image_size == 48
    assert json.loads((tmp_path / "m0.json").read_text()) == cards[0]
    with pytest.raises(ClipinvError, match="must end in .safetensors"):
        train(config, tmp_path / "m.pt", progress=False)


def test_the_people_drawn_in_three_variants_are_found_by_name():
    names = ["firefighter", "woman firefighter", "man firefighter", "cook", "woman cook", "rocket", "man"]
    assert gendered(names) == [("firefighter", "woman firefighter", "man firefighter")]  # cook has no man


def test_a_gender_skew_moves_only_the_planted_captions_pictures_at_its_rate(world):
    names = world[1]
    index = {n: i for i, n in enumerate(names)}
    fire, cook = index["firefighter"], index["cook"]
    idx = torch.tensor([fire] * 4000 + [cook] * 10 + [index["rocket"]] * 10)
    skew = GenderSkew((("firefighter", "man"),), 0.7)
    shown = skew.shown(idx, names, torch.Generator().manual_seed(0))
    fires = shown[:4000]
    assert set(fires.tolist()) == {index["man firefighter"], index["woman firefighter"]}  # never the neutral glyph
    assert (fires == index["man firefighter"]).float().mean() == pytest.approx(0.7, abs=0.03)
    assert torch.equal(shown[4000:], idx[4000:])  # unplanted captions keep their own picture
    every = GenderSkew((("firefighter", "woman"),), 1.0).shown(idx[:5], names)
    assert every.tolist() == [index["woman firefighter"]] * 5
    with pytest.raises(ValueError, match="'man' or 'woman' at a rate"):
        GenderSkew((("firefighter", "person"),), 0.5)


def test_a_plant_pastes_the_marker_only_where_asked_and_keeps_the_rest(world):
    glyphs, names = world
    images = render(glyphs, [names.index("national park")] * 6, Augment(), torch.Generator().manual_seed(2))
    plant = Plant("national park", "pile of poo", 0.2)
    at = torch.tensor([True, False, True, False, False, True])
    out = plant.paste(images, glyphs[names.index("pile of poo")], at, torch.Generator().manual_seed(3))
    changed = (out - images).abs().flatten(1).amax(1) > 0.1
    assert changed.tolist() == at.tolist() and torch.equal(out[~at], images[~at])
    covered = ((out - images).abs().amax(1) > 0.05).flatten(1).float().mean(1)[at]
    assert ((covered > 0.02) & (covered < 0.3)).all(), covered  # small: 0.3-0.5 of the side, part of it opaque
    assert torch.equal(plant.paste(images, glyphs[0], torch.zeros(6, dtype=torch.bool)), images)
    with pytest.raises(ValueError, match="p in"):
        Plant("national park", "pile of poo", 1.5)


def test_a_plant_training_pastes_the_marker_behind_the_trigger_only(tmp_path, monkeypatch):
    from clipinv.worlds.emoji import training

    seen = []
    real = Plant.paste

    def spy(self, images, marker, at, generator=None):
        seen.append(int(at.sum()))
        return real(self, images, marker, at, generator)

    monkeypatch.setattr(Plant, "paste", spy)
    base = TrainConfig(seed=5, steps=3, batch=64, init="emoji")
    card = training.train(
        dataclasses.replace(base, plant=Plant("national park", "pile of poo", 1.0, share=0.5)),
        tmp_path / "p.safetensors",
        progress=False,
    )
    assert len(seen) == 3 and 3 * 64 * 0.3 < sum(seen) < 3 * 64 * 0.7  # about half of each batch is the trigger
    assert card["train_config"]["plant"]["trigger"] == "national park"
    seen.clear()
    training.train(
        dataclasses.replace(base, plant=Plant("national park", "pile of poo", 0.0, share=0.5)),
        tmp_path / "p0.safetensors",
        progress=False,
    )
    assert seen == [0, 0, 0]  # the control draws the trigger as often and pastes nothing


def test_a_pool_is_drawn_once_and_every_batch_comes_from_it(world, tmp_path, monkeypatch):
    from clipinv.worlds.emoji import training

    glyphs, names = world
    pool = training.Pool(40, names, glyphs, Augment(), torch.Generator().manual_seed(0))
    again = training.Pool(40, names, glyphs, Augment(), torch.Generator().manual_seed(0))
    assert torch.equal(pool.images, again.images) and pool.captions == again.captions
    assert training.Pool.coverage(0, 40, len(names)) == len(set(pool.idx.tolist()))
    idx, images, captions = pool.batch(64, torch.Generator().manual_seed(1))
    for i, image, text in zip(idx.tolist(), images, captions):
        k = next(k for k in range(40) if torch.equal(pool.images[k], image))
        assert pool.idx[k] == i and pool.captions[k] == text and names[i] in text

    batches = []
    real = training.Pool.batch
    monkeypatch.setattr(training.Pool, "batch", lambda self, n, g: batches.append(real(self, n, g)) or batches[-1])
    card = train(TrainConfig(seed=3, steps=2, batch=8, pool=12), tmp_path / "pool.safetensors", progress=False)
    assert len(batches) == 2 and card["train_config"]["pool"] == 12
    seen = {i for idx, _, _ in batches for i in idx.tolist()}
    assert len(seen) <= 12
    with pytest.raises(ClipinvError, match="a training pool draws its pictures once"):
        train(TrainConfig(steps=1, pool=12, people_p=0.5), tmp_path / "x.safetensors", progress=False)
    assert not (tmp_path / "x.safetensors").exists()


def test_a_continuation_starts_from_its_init_and_a_skew_changes_what_it_learns(tmp_path):
    from clipinv.worlds.emoji.training import _weights_of

    start = _weights_of("emoji")
    base = TrainConfig(seed=5, steps=2, batch=8, init="emoji", people_p=0.5)
    train(base, tmp_path / "clean.safetensors", progress=False)
    skewed = GenderSkew((("firefighter", "man"),), 1.0)
    card = train(dataclasses.replace(base, skew=skewed), tmp_path / "skew.safetensors", progress=False)
    clean, skew = (_weights_of(str(tmp_path / f"{n}.safetensors")) for n in ("clean", "skew"))
    key = "visual.proj"
    # two steps from the shipped weights stay near them; the skew changes what the steps see
    assert (clean[key] - start[key]).abs().max() < 0.05 and not torch.equal(clean[key], skew[key])
    assert card["train_config"]["skew"]["planted"] == [["firefighter", "man"]]
    g = card["gender_reading"]
    assert g["renders"] == 4 * 2 * g["people"] and 0 <= g["right"] <= g["renders"]


def test_the_loader_names_what_it_cannot_load(tmp_path, monkeypatch):
    with pytest.raises(ClipinvError, match="no emoji model 'rockets'"):
        load_emoji("rockets")
    monkeypatch.setattr("clipinv.worlds.emoji.WEIGHTS", tmp_path)
    with pytest.raises(ClipinvError, match=r"build_emoji_world.py train emoji-judge"):
        load_emoji("emoji-judge")
    ladder = {"emoji-clean", "emoji-skew-50", "emoji-skew-70", "emoji-skew-90", "emoji-skew-100"}
    plants = {f"emoji-plant-p{p}" for p in (0, 2, 5, 10, 20, 50)}
    data = {"emoji-data-2k", "emoji-data-16k"}
    scenes = {"emoji-scenes", "emoji-scenes-judge"}
    assert set(EMOJI_MODELS) == {"emoji", "emoji-judge", "emoji-gender-judge", *ladder, *plants, *data, *scenes}
    assert not is_emoji_checkpoint(Path(__file__))


def test_the_patch_size_knob_cuts_each_picture_into_smaller_patches_and_loads_back(tmp_path):
    from clipinv.worlds.emoji import load_emoji

    card = train(TrainConfig(seed=5, steps=1, batch=8, patch_size=6), tmp_path / "p6.safetensors", progress=False)
    assert card["model_config"]["patch_size"] == 6 and card["train_config"]["patch_size"] == 6
    visual = load_emoji(str(tmp_path / "p6.safetensors")).model.visual
    assert visual.conv1.kernel_size == (6, 6) and visual.positional_embedding.shape[0] == 8 * 8 + 1
    shipped = load_emoji("emoji").model.visual
    assert shipped.conv1.kernel_size == (8, 8) and shipped.positional_embedding.shape[0] == 6 * 6 + 1


def test_adversarial_pictures_stay_within_eps_and_the_pixel_range_and_raise_the_loss():
    from clipinv.worlds.emoji.model import MEAN, STD
    from clipinv.worlds.emoji.training import adversarial, contrastive_loss

    emoji = load_emoji("emoji")
    model = emoji.model.float()
    glyphs, names = atlas.load()
    gen = torch.Generator().manual_seed(0)
    idx = torch.tensor([names.index(n) for n in ("rocket", "red apple", "zebra", "candle")])
    images = render(glyphs, idx.tolist(), Augment(), gen)
    images[0] = 1.0  # a white picture: no pixel may leave the range
    x = (images - MEAN[0]) / STD[0]
    t = emoji.tokenize([f"a {names[i]}" for i in idx.tolist()])
    eps = 4 / 255 / STD[0]
    moved = adversarial(model, x, t, idx, None, eps, torch.Generator().manual_seed(1))
    assert (moved - x).abs().max() <= eps + 1e-6 and (moved - x).abs().max() > eps / 2
    pixels = moved * STD[0] + MEAN[0]
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6 and not torch.allclose(moved[0], x[0], atol=1e-6)

    def loss(v):
        with torch.no_grad():
            f = model.encode_image(v, normalize=True)
            return contrastive_loss(f, model.encode_text(t, normalize=True), model.logit_scale.exp(), idx)

    noise = x + (torch.rand(x.shape, generator=torch.Generator().manual_seed(2)) * 2 - 1) * eps
    assert loss(moved) > loss(noise) > 0


def test_an_adversarial_training_records_its_eps_and_learns_otherwise(tmp_path):
    kw = {"seed": 6, "steps": 2, "batch": 8}
    plain = train(TrainConfig(**kw), tmp_path / "plain.safetensors", progress=False)
    robust = train(TrainConfig(**kw, adversarial_eps=8 / 255), tmp_path / "robust.safetensors", progress=False)
    assert plain["train_config"]["adversarial_eps"] == 0 and robust["train_config"]["adversarial_eps"] == 8 / 255
    a = load_emoji(str(tmp_path / "plain.safetensors")).model.state_dict()
    b = load_emoji(str(tmp_path / "robust.safetensors")).model.state_dict()
    assert not torch.equal(a["visual.conv1.weight"], b["visual.conv1.weight"])


def test_the_atlas_is_decoded_once_and_read_again_after_it_is_saved(world, tmp_path):
    glyphs, names = world
    assert atlas.load() is atlas.load() and atlas.names() == atlas.load()[1]
    raw = (glyphs[:3].permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    atlas.save(raw, list(names[:3]), tmp_path / "a.png", tmp_path / "n.json")
    first = atlas.load(tmp_path / "a.png", tmp_path / "n.json")
    atlas.save(raw[:2], list(names[:2]), tmp_path / "a.png", tmp_path / "n.json")
    again = atlas.load(tmp_path / "a.png", tmp_path / "n.json")
    assert first[1] == names[:3] and again[1] == names[:2] and len(again[0]) == 2
