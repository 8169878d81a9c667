"""The emoji world's two-thing scenes (section 4): captions, swaps, pictures, the loss with wrong captions,
and a short training on them."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from clipinv.analyses import word_order as wo
from clipinv.analyses.prompts import SWAP_PAIRS
from clipinv.errors import ClipinvError
from clipinv.worlds.emoji import EMOJI_TRAINING, atlas
from clipinv.worlds.emoji.model import world_tokenizer
from clipinv.worlds.emoji.scenes import LEFT_OF, RELATIONS, THINGS, Scene, Scenes, compose, draw_scenes
from clipinv.worlds.emoji.training import TrainConfig, contrastive_loss, train


def test_a_scene_is_captioned_from_either_side_and_both_captions_name_the_same_scene():
    left = Scene("dog", "cat", True, "to the left of")
    right = Scene("dog", "cat", True, "to the right of")
    assert left.caption == "a big dog to the left of a small cat"
    assert right.caption == "a small cat to the right of a big dog"
    assert left.label() == right.label()
    assert left.phrases() == ("a big dog", "to the left of", "a small cat")


def test_swaps_exchange_the_sizes_or_the_roles_and_name_other_scenes():
    s = Scene("dog", "cat", True)
    assert s.swapped("sizes swapped").caption == "a small dog to the left of a big cat"
    assert s.swapped("roles swapped").caption == "a small cat to the left of a big dog"
    assert s.swapped("roles swapped").caption == wo.swap_roles(s.phrases())  # the text side's role swap
    labels = {s.label(), s.swapped("sizes swapped").label(), s.swapped("roles swapped").label()}
    assert len(labels) == 3
    r = Scene("dog", "cat", True, "to the right of")
    assert r.swapped("roles swapped").caption == "a big dog to the right of a small cat"
    with pytest.raises(ValueError, match="no swap"):
        s.swapped("colours swapped")


def test_every_scene_caption_fits_the_context_and_uses_words_the_models_read():
    tok = world_tokenizer()
    longest = max((Scene(a, b, True) for a in THINGS for b in THINGS if a != b), key=lambda s: len(s.caption))
    assert tok.unknown_words(longest.caption) == []
    assert len(tok.bpe.encode(longest.caption)) + 2 <= tok.context_length
    assert set(THINGS) <= set(atlas.load()[1])


def test_draw_scenes_pairs_two_different_things_and_repeats_for_the_seed():
    a, b = (draw_scenes(200, torch.Generator().manual_seed(4)) for _ in range(2))
    assert a == b and all(s.left != s.right for s in a)
    assert {s.relation for s in a} == {"to the left of"} and {s.left_big for s in a} == {True, False}
    both = draw_scenes(200, torch.Generator().manual_seed(4), relations=RELATIONS)
    assert {s.relation for s in both} == set(RELATIONS)


def test_scenes_kept_apart_never_show_the_same_two_things_twice_in_a_batch():
    g = torch.Generator().manual_seed(0)
    apart = draw_scenes(len(THINGS) * (len(THINGS) - 1) // 2, g, pairs_apart=True)
    assert len({frozenset((s.left, s.right)) for s in apart}) == len(apart)  # every pair once
    assert {s.left_big for s in apart} == {True, False} and len({s.left for s in apart}) == len(THINGS)
    mixed = draw_scenes(496, torch.Generator().manual_seed(0))
    assert len({frozenset((s.left, s.right)) for s in mixed}) < 496  # random draws repeat pairs
    with pytest.raises(ValueError, match="3 things make 3 pairs: too few for 4 scenes"):
        draw_scenes(4, g, things=("dog", "cat", "owl"), pairs_apart=True)


def test_each_thing_stays_in_its_half_and_the_big_one_covers_more():
    glyphs, names = atlas.load()
    scenes = [Scene("dog", "cat", True), Scene("dog", "cat", False)]
    alpha = compose(scenes, glyphs, names, torch.Generator().manual_seed(0))[:, 3]
    left, right = alpha[:, :, :24].sum((1, 2)), alpha[:, :, 24:].sum((1, 2))
    assert left[0] > 2 * right[0] and right[1] > 2 * left[1]
    only_left = compose([Scene("dog", "cat", True)], glyphs, names, torch.Generator().manual_seed(0))
    dog_alone = glyphs[[names.index("dog")]]
    assert dog_alone[:, 3].sum() > 0
    # the same draw with an empty right-hand glyph: nothing of the left one crosses the middle
    empty = glyphs.clone()
    empty[names.index("cat")] = 0
    alone = compose([Scene("dog", "cat", True)], empty, names, torch.Generator().manual_seed(0))
    assert alone[0, 3, :, 25:].sum() < 0.5 and torch.allclose(alone[0, 3, :, :24], only_left[0, 3, :, :24], atol=1e-5)


def _reference_clip_loss(v, t, scale, labels):
    same = (labels[:, None] == labels[None]).float()
    target = same / same.sum(1, keepdim=True)
    logits = scale * v @ t.T
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def test_the_loss_without_wrong_captions_is_clips_and_wrong_captions_punish_a_swap_reading():
    g = torch.Generator().manual_seed(0)
    v = F.normalize(torch.randn(6, 8, generator=g), dim=-1)
    t = F.normalize(torch.randn(6, 8, generator=g), dim=-1)
    labels = torch.tensor([0, 1, 1, 2, 3, 4])
    assert torch.allclose(contrastive_loss(v, t, 10.0, labels), _reference_clip_loss(v, t, 10.0, labels))
    # each picture sits on its own caption, or on its wrong one (labelled apart): the second costs more
    own, wrong = (
        F.normalize(torch.randn(4, 8, generator=g), dim=-1),
        F.normalize(torch.randn(4, 8, generator=g), dim=-1),
    )
    labels, wrong_labels = torch.arange(4), torch.arange(4) + 10
    texts = torch.cat([own, wrong])
    reads_order = contrastive_loss(own, texts, 10.0, labels, wrong_labels)
    reads_swaps = contrastive_loss(wrong, texts, 10.0, labels, wrong_labels)
    assert reads_order < reads_swaps
    assert contrastive_loss(own, own, 10.0, labels) < reads_order  # more choices, a larger loss


def test_a_short_training_on_scenes_writes_a_card_with_its_scene_reading(tmp_path):
    config = TrainConfig(steps=3, batch=8, warmup=1, width=64, scenes=Scenes(hard_negatives=True))
    card = train(config, tmp_path / "s.safetensors", progress=False)
    r = card["scene_reading"]
    assert r["scenes"] == 1024 and r["candidates"] == 32 * 31 * 2
    assert 0 <= r["sizes swapped"] <= 1024 and "retrieval" not in card
    assert card["model_config"]["width"] == 64 and card["train_config"]["scenes"]["hard_negatives"] is True
    with pytest.raises(ClipinvError, match="scenes"):
        train(dataclasses.replace(config, pool=10), tmp_path / "p.safetensors", progress=False)


def test_the_shipped_scene_pair_differs_in_seed_phrasing_and_wrong_captions_only():
    plain, judge = EMOJI_TRAINING["emoji-scenes"], EMOJI_TRAINING["emoji-scenes-judge"]
    assert not plain.scenes.hard_negatives and judge.scenes.hard_negatives and plain.seed != judge.seed
    assert plain.scenes.relations == RELATIONS and judge.scenes.relations == LEFT_OF  # the page's prompts: LEFT_OF
    assert plain.scenes.pairs_apart and judge.scenes.pairs_apart
    assert dataclasses.replace(judge, seed=plain.seed, scenes=plain.scenes) == plain
    assert all(pair[1] in LEFT_OF for pair in (wo.captions("emoji", 20, torch.Generator().manual_seed(0))))


def test_the_emoji_world_gives_section_4_scene_captions_images_and_swap_pairs():
    triples = wo.captions("emoji", 5, torch.Generator().manual_seed(0))
    assert len(triples) == 5 and all(t[1] in ("to the left of", "to the right of") for t in triples)
    images, true, alt = wo.emoji_choice(4)
    assert images.shape == (4, 3, 48, 48) and set(alt) == set(wo.CHOICES)
    for caption, size, role in zip(true, alt["attributes swapped"], alt["roles swapped"]):
        assert (
            sorted(caption.split()) == sorted(size.split()) == sorted(role.split()) and len({caption, size, role}) == 3
        )
    pairs = SWAP_PAIRS["emoji"]
    assert all(sorted(a.split()) == sorted(b.split()) and a != b for a, b in pairs)
    assert wo.wrap_caption("a big dog to the left of a small cat") == "a big dog\nto the left of\na small cat"
    assert wo.wrap_caption("a red circle left of a blue square") == "a red circle\nleft of\na blue square"
