"""Ghost networks (`residual_jitter`): the inverted ViT with each residual branch of each copy scaled
by its own random factor, new every step."""

import pytest
import torch

from clipinv.core.invert import invert
from clipinv.core.recipe import Recipe
from clipinv.core.residual_jitter import ResidualJitter, residual_branches
from clipinv.errors import ClipinvError
from clipinv.models.load import load_model
from clipinv.worlds.shapes import TOY_RECIPE


@pytest.fixture(scope="module")
def toy():
    return load_model("toy")


def test_factors_of_one_change_nothing_others_change_the_features_and_no_hook_stays(toy):
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    model = toy.model
    with torch.no_grad():
        plain = model.encode_image(x)
        ghost = ResidualJitter(model, 0.4)
        assert ghost.n_draws == 2 * len(model.visual.transformer.resblocks)
        with ghost(torch.full((3, ghost.n_draws), 0.5)):  # factor 1 + 0.4 * (2 * 0.5 - 1) = 1
            same = model.encode_image(x)
        u = torch.full((3, ghost.n_draws), 0.5)
        u[1] = 1.0  # only row 1 gets factors 1.4
        with ghost(u):
            moved = model.encode_image(x)
        after = model.encode_image(x)
    assert torch.allclose(same, plain, atol=1e-6)
    assert torch.allclose(moved[[0, 2]], plain[[0, 2]], atol=1e-6)
    assert (moved[1] - plain[1]).abs().max() > 1e-3
    assert torch.equal(after, plain)
    with pytest.raises(RuntimeError, match="boom"), ghost(u):
        raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in residual_branches(model))
    with pytest.raises(ValueError, match=r"draws \[rows, 6\]"):
        ghost(torch.rand(3, 2))


def test_a_model_without_residual_vit_blocks_is_refused_in_one_line():
    with pytest.raises(ClipinvError, match="residual_jitter .* this model has none: set residual_jitter=0"):
        ResidualJitter(torch.nn.Linear(2, 2), 0.3)


def test_the_ghost_changes_the_inversion_but_not_its_independence_of_the_batch(toy):
    quick = TOY_RECIPE.replace(steps=6, resolution_schedule=((0, 32),), n_augments=3)
    plain = invert(
        toy, "a red circle", seeds=[1], recipe=quick.replace(residual_jitter=0.0), cache=False, progress=False
    )
    alone = invert(
        toy, "a red circle", seeds=[1], recipe=quick.replace(residual_jitter=0.4), cache=False, progress=False
    )
    both = invert(
        toy,
        ["a blue square", "a red circle"],
        seeds=[0, 1],
        recipe=quick.replace(residual_jitter=0.4),
        cache=False,
        progress=False,
    )
    assert (plain.images - alone.images).abs().max() > 1e-3
    assert torch.allclose(alone.images[0, 0], both.images[1, 1], atol=1e-6)
    assert all(not m._forward_hooks for m in residual_branches(toy.model))


@pytest.mark.parametrize(
    "value,message", [(-0.1, "residual_jitter must be >= 0"), (1.0, r"residual_jitter must be in \[0, 1\)")]
)
def test_bad_strengths_are_refused_in_one_line(value, message):
    with pytest.raises(ClipinvError, match=message):
        Recipe(residual_jitter=value)
