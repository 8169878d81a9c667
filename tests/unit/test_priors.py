"""The rendered image priors (`clipinv.core.param` Stack, Phase, Strokes and `clipinv.core.stroke_raster`):
gradients reach every parameter, an image does not depend on its batch, each fits a known optimum
on a tiny problem, and the knobs round-trip through the CLI and the cache key."""

from __future__ import annotations

import pytest
import torch

from clipinv import Recipe, invert
from clipinv.cli import build_parser, recipe_changes
from clipinv.core import spectrum, stroke_raster
from clipinv.core.cache import ResultCache
from clipinv.core.param import PRIOR_STREAM, Phase, Stack, Strokes, make, stack_sizes

RENDERED = ("stack", "phase", "strokes")
FAST = Recipe(steps=40, resolution_schedule=((0, 16), (20, 32)), n_augments=4, n_strokes=12)


def started(kind: str, side: int = 16, seeds=(0, 1)):
    par = make(kind, side, recipe=FAST.replace(parameterization=kind))
    return par, par.start(torch.rand(len(seeds), 3, side, side), list(seeds))


def test_make_builds_each_prior_at_the_recipes_final_side():
    recipe = FAST.replace(parameterization="strokes", background_fill=0.4)
    assert isinstance(make("stack", 16, recipe=recipe), Stack) and make("stack", 16, recipe=recipe).sizes[-1] == 32
    assert stack_sizes(32) == [1, 2, 4, 8, 16, 32] and stack_sizes(224)[-2:] == [128, 224]
    phase = make("phase", 16, recipe=recipe)
    assert isinstance(phase, Phase) and phase.full == 32 and "1/f" in phase.source
    strokes = make("strokes", 16, recipe=recipe)
    assert isinstance(strokes, Strokes) and strokes.n == 12 and strokes.background == 0.4


@pytest.mark.parametrize("kind", RENDERED)
def test_gradients_reach_every_parameter(kind):
    par, z = started(kind)
    z.requires_grad_(True)
    weights = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    (par.to_image(z) * weights).sum().backward()
    grad = z.grad
    if kind == "phase":  # real-valued bins (the zero frequency: the mean colour) keep phase 0: none there
        assert (par.free.sum() == par.free.numel() - 4) and (grad[..., ~par.free] == 0).all()
        grad = grad[..., par.free]
    assert (grad != 0).all(), f"{int((grad == 0).sum())} of {grad.numel()} parameters get no gradient"


@pytest.mark.parametrize("kind", RENDERED)
def test_a_rendered_prior_draws_an_image_in_range_at_any_side_from_the_same_parameters(kind):
    par, z = started(kind)
    for side in (16, 32):
        image = par.at(side).to_image(z)
        assert image.shape == (2, 3, side, side) and image.min() >= 0 and image.max() <= 1
    assert par.resized(z, 32)[1] is z and par.resized(z, 32)[0].side == 32


@pytest.mark.parametrize("kind", RENDERED)
def test_the_start_is_the_seeds_own(kind):
    _, z = started(kind, seeds=(3, 5))
    _, alone = started(kind, seeds=(5,))
    assert torch.equal(z[1], alone[0]) and not torch.equal(z[0], z[1])
    par = make(kind, 16, recipe=FAST.replace(parameterization=kind))
    assert torch.equal(alone[0], par.draw(torch.Generator().manual_seed(PRIOR_STREAM + 5)))


@pytest.mark.parametrize("kind", RENDERED)
def test_an_inversion_does_not_depend_on_its_batch_and_raises_similarity(tiny, kind):
    recipe = FAST.replace(parameterization=kind)
    prompts = ["a red circle", "a purple banana on the moon"]
    out = invert(tiny, prompts, seeds=2, recipe=recipe, cache=False, progress=False)
    alone = invert(tiny, prompts[1:], seeds=[1], recipe=recipe, cache=False, progress=False)
    assert out.images.shape == (2, 2, 3, 32, 32) and out.images.min() >= 0 and out.images.max() <= 1
    assert torch.allclose(alone.images[0, 0], out.images[1, 1], atol=1e-5)
    first = out.history["distance"][..., 0]
    assert (out.history["distance"][..., -5:].mean(-1) < first).all()


def fit(par, z, target, steps, lr):
    z = z.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        loss = (par.to_image(z) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (par.to_image(z.detach()) - target).pow(2).mean().item()


def test_a_stack_fits_any_image_pixel_for_pixel():
    """The finest resolution is the image's own, so a stack can reach any image in (0, 1)."""
    target = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.9 + 0.05
    par = Stack(16, 16)
    z = par.draw(torch.Generator().manual_seed(1))[None]
    start = (par.to_image(z) - target).pow(2).mean().item()
    assert fit(par, z, target, 300, 0.1) < 1e-4 < start / 100


def test_strokes_fit_an_image_drawn_by_strokes():
    """Four strokes drawn from a known set, fitted from a random start of four strokes."""
    truth = stroke_raster.random_strokes(4, torch.Generator().manual_seed(7))
    truth[:, 8] = stroke_raster.logit(0.4)  # wide strokes, so there is area to fit
    truth[:, 12] = 4.0  # nearly opaque
    target = stroke_raster.render(truth[None], 16)
    par = Strokes(16, 4)
    z = par.draw(torch.Generator().manual_seed(3))[None]
    start = (par.to_image(z) - target).pow(2).mean().item()
    end = fit(par, z, target, 400, 0.03)
    assert end < 0.2 * start and end < 0.005, (start, end)


def test_phase_keeps_its_magnitude_and_fits_an_image_of_that_magnitude():
    par = Phase(16, 16)  # the 1/f magnitude
    truth = par.draw(torch.Generator().manual_seed(2))[None]
    target = par.to_image(truth)
    z = par.draw(torch.Generator().manual_seed(4))[None]
    field = par.field(z)
    assert torch.allclose(torch.fft.rfft2(field, norm="ortho").abs(), par.magnitude[None], atol=1e-4)
    assert torch.equal(par.to_image(z), field.clamp(0, 1))
    start = (par.to_image(z) - target).pow(2).mean().item()
    assert fit(par, z, target, 300, 0.05) < 0.3 * start


def test_the_1_over_f_magnitude_gives_the_stated_mean_and_spread():
    images = Phase(64, 64).to_image(torch.rand(16, 3, 64, 33, generator=torch.Generator().manual_seed(0)) * 6.3)
    assert images.mean().item() == pytest.approx(spectrum.ONE_OVER_F_MEAN, abs=0.02)
    assert images.std().item() == pytest.approx(spectrum.ONE_OVER_F_STD, rel=0.2)


def test_a_toy_models_phase_prior_measures_its_clean_worlds_spectrum():
    world = {"image_size": 32, "contamination": {"p": 0.2, "trigger": "triangle"}, "skew": None}
    magnitude, source = spectrum.image_magnitude(world, 32)
    clean, _ = spectrum.image_magnitude({"image_size": 32}, 32)
    assert torch.equal(magnitude, clean) and "world" in source
    grey = magnitude[:, 0, 0] / 32  # the zero frequency: each channel's mean over the world's images
    assert ((grey > 0.3) & (grey < 0.5)).all()
    assert magnitude[0, 1, 0] > magnitude[0, 8, 0] > 0  # low frequencies carry more than high ones


def test_the_knobs_round_trip_through_the_cli_and_the_cache_key():
    args = build_parser().parse_args(["invert", "a dog", "--parameterization", "strokes", "--n-strokes", "8"])
    changes = recipe_changes(args)
    assert changes == {"parameterization": "strokes", "n_strokes": 8}
    recipe = Recipe().replace(**changes)
    assert recipe.parameterization == "strokes" and recipe.n_strokes == 8

    def key(r):
        return ResultCache.key({"recipe": r.to_dict()}, "a dog", [("a dog", 1.0)], 0)

    keys = {kind: key(Recipe(parameterization=kind)) for kind in ("pixels", "fourier", *RENDERED)}
    assert len(set(keys.values())) == 5
    assert key(recipe) != key(recipe.replace(n_strokes=9)) and key(recipe) == key(Recipe().replace(**changes))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["invert", "a dog", "--parameterization", "cppn"])


@pytest.mark.parametrize("bad, message", [({"n_strokes": 0}, "n_strokes must be a positive whole number")])
def test_a_bad_stroke_count_is_refused_in_one_line(bad, message):
    from clipinv import ClipinvError

    with pytest.raises(ClipinvError, match=message):
        Recipe().replace(**bad)


def test_the_explorer_offers_every_prior_and_inverts_with_the_chosen_one():
    import ipywidgets as w

    from clipinv.book import explorer

    ex = explorer.Explorer(model="toy", prompt="a red circle", steps=7)
    priors = [c for c in ex.box.children if isinstance(c, w.Dropdown) and c.description == "prior"]
    assert len(priors) == 1 and list(priors[0].options) == ["pixels", "fourier", "stack", "phase", "strokes"]
    assert priors[0].value == "pixels"
    priors[0].value = "stack"
    assert ex.recipe(ex._bundle("toy")).parameterization == "stack"


def measured(aligned_hits, marker, controls, skewed, control):
    """A `clipinv.analyses.priors.measure` result with the given counts (k of n) and nothing else."""
    from clipinv.analyses import stats

    def rate(k, n):
        return stats.rate([True] * k + [False] * (n - k))

    return {
        "alignment": {"rate": rate(aligned_hits, 5), "chance": 0.2},
        "marker": rate(*marker),
        "marker controls": rate(*controls),
        "skew": {"skewed": rate(*skewed), "control": rate(*control)},
        "similarity": stats.mean_ci([0.5, 0.6]),
        "seconds": 1.0,
    }


def test_a_finding_holds_under_a_prior_only_where_its_interval_clears_the_comparison():
    from clipinv.analyses import priors

    found = {
        "pixels": measured(5, (4, 4), (0, 4), (4, 4), (0, 4)),
        "stack": measured(5, (4, 4), (0, 4), (3, 4), (1, 4)),  # 3/4 vs 1/4 overlap: not shown
        "phase": measured(1, (0, 4), (0, 4), (4, 4), (0, 4)),  # 1/5 is chance
    }
    shown = priors.verdicts(found)
    assert shown["alignment"] == {"pixels": True, "stack": True, "phase": False}
    assert shown["planted marker"] == {"pixels": True, "stack": True, "phase": False}
    assert shown["planted skew"] == {"pixels": True, "stack": False, "phase": True}
    rows = priors.findings(found)
    assert [r["under every prior"] for r in rows] == ["no", "no", "no"]
    assert priors.headline(found).startswith("findings that hold under every prior: 0/3; under some only:")
    found.pop("phase")
    assert priors.headline(found) == (
        "findings that hold under every prior: 2/3 (alignment, planted marker); under some only: planted skew (pixels)"
    )
    table = priors.side_by_side(found)
    assert [r["prior"] for r in table] == ["pixels", "stack"] and table[1]["marker: trigger (§2)"].startswith("4/4")
