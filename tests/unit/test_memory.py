"""Batch sizes from a probe: what autograd keeps per copy, against the memory free on the device."""

from __future__ import annotations

import pytest
import torch

from clipinv import ClipinvError, Recipe, invert
from clipinv.core import batching

FAST = Recipe(steps=4, resolution_schedule=((0, 16), (2, 32)), n_augments=3)


def test_copy_bytes_is_what_the_encoder_keeps_for_backward_and_grows_with_the_input(tiny):
    batching._PROBED.clear()
    per_copy = batching.copy_bytes(tiny, "fp32", torch.device("cpu"))
    # at least the input copy itself (3 x 32 x 32 fp32) and the patch embeddings' activations
    assert per_copy > 3 * 32 * 32 * 4
    weights = sum(p.numel() * p.element_size() for p in tiny.model.parameters())
    assert per_copy < weights  # the weights, shared by every image, are not counted
    from helpers import make_tiny

    bigger = make_tiny(0, image_size=64)
    assert batching.copy_bytes(bigger, "fp32", torch.device("cpu")) > 3 * per_copy  # 4x the patches


def test_image_bytes_scales_with_copies_and_models(tiny):
    one = batching.image_bytes([tiny], FAST, torch.device("cpu"))
    more = batching.image_bytes([tiny], FAST.replace(n_augments=6), torch.device("cpu"))
    two = batching.image_bytes([tiny, tiny], FAST, torch.device("cpu"))
    pixels = 4 * 3 * 32 * 32 * 4
    assert more - pixels == pytest.approx(2 * (one - pixels))
    assert two - pixels == pytest.approx(2 * (one - pixels))


def test_batch_size_divides_the_free_memory_and_is_at_least_one(tiny):
    per_image = batching.image_bytes([tiny], FAST, torch.device("cpu"))
    room = batching.BACKWARD_FACTOR * per_image / batching.USABLE
    assert batching.batch_size([tiny], FAST, torch.device("cpu"), free=int(10 * room) + 1) == 10
    assert batching.batch_size([tiny], FAST, torch.device("cpu"), free=1) == 1


def test_invert_splits_a_grid_that_does_not_fit_and_gets_the_same_images(tiny, monkeypatch):
    whole = invert(tiny, ["a dog", "a cat"], seeds=3, recipe=FAST, cache=False, progress=False)
    per_image = batching.image_bytes([tiny], FAST, torch.device("cpu"))
    monkeypatch.setattr(
        batching, "free_bytes", lambda device: int(2.5 * batching.BACKWARD_FACTOR * per_image / batching.USABLE)
    )
    sizes = []
    real = __import__("sys").modules["clipinv.core.invert"].optimise

    def spy(bundles, prompts, *a, **k):
        sizes.append(len(prompts))
        return real(bundles, prompts, *a, **k)

    monkeypatch.setattr(__import__("sys").modules["clipinv.core.invert"], "optimise", spy)
    split = invert(tiny, ["a dog", "a cat"], seeds=3, recipe=FAST, cache=False, progress=False)
    assert sizes == [2, 2, 2]
    assert torch.allclose(split.images, whole.images, atol=1e-4)  # float rounding of batched matmuls only


def test_a_bad_batch_size_is_refused(tiny):
    with pytest.raises(ClipinvError, match="batch_size must be a whole number"):
        invert(tiny, "a dog", recipe=FAST, cache=False, progress=False, batch_size=0)
