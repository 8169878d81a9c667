"""The emoji world: its atlas is what the font and Unicode's data draw, its tokenizer reads any English,
its renders and training are reproducible, and its loader refuses what it cannot load in one line."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from clipinv.errors import ClipinvError
from clipinv.worlds.emoji import EMOJI_MODELS, atlas, is_emoji_checkpoint, load_emoji
from clipinv.worlds.emoji.tokenizer import EmojiTokenizer
from clipinv.worlds.emoji.training import TrainConfig, train
from clipinv.worlds.emoji.world import Augment, article, caption, on_grey, render


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


def test_the_loader_names_what_it_cannot_load(tmp_path, monkeypatch):
    with pytest.raises(ClipinvError, match="no emoji model 'rockets'"):
        load_emoji("rockets")
    monkeypatch.setattr("clipinv.worlds.emoji.WEIGHTS", tmp_path)
    with pytest.raises(ClipinvError, match=r"build_emoji_world.py train emoji-judge"):
        load_emoji("emoji-judge")
    assert set(EMOJI_MODELS) == {"emoji", "emoji-judge"}
    assert not is_emoji_checkpoint(Path(__file__))
