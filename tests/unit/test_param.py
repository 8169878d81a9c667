import pytest
import torch

from clipinv import ClipinvError, Recipe, invert, similarity
from clipinv.core.param import Fourier, Pixels, make
from clipinv.core.transform import GaussianBlur

FAST = Recipe(steps=60, resolution_schedule=((0, 16), (30, 32)), n_augments=4)


@pytest.mark.parametrize("side", [16, 32, 15])
def test_an_image_maps_to_parameters_and_back_unchanged(side):
    x = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(side))
    for par in (Pixels(side), Fourier(side), Fourier(side, decay=0.5)):
        assert torch.allclose(par.to_image(par.to_params(x)), x, atol=1e-5)
    assert Fourier(side).to_params(x).shape == (2, 3, side, side // 2 + 1, 2)


def test_fourier_scale_has_mean_one_and_falls_with_frequency_so_random_parameters_make_smooth_images():
    par = Fourier(32)
    assert par.scale.mean().item() == pytest.approx(1.0, rel=1e-5)
    assert par.scale[0, 0] > par.scale[0, 4] > par.scale[0, 16]
    assert torch.allclose(Fourier(32, decay=0.0).scale, torch.ones(32, 17))
    z = torch.randn(64, 3, 32, 17, 2, generator=torch.Generator().manual_seed(0))
    img = par.to_image(z)
    white = Pixels(32).to_image(torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    detail = lambda im: ((im - GaussianBlur(1.0)(im)).std() / im.std()).item()
    assert detail(img) < 0.7 * detail(white)  # measured 0.52 against 0.87


def test_fourier_inversion_raises_similarity_stays_in_range_and_is_reproducible(tiny):
    recipe = FAST.replace(parameterization="fourier")
    prompts = ["a red circle", "a purple banana on the moon"]
    out = invert(tiny, prompts, seeds=2, recipe=recipe, cache=False, progress=False)
    again = invert(tiny, prompts[1:], seeds=[1], recipe=recipe, cache=False, progress=False)
    pixels = invert(tiny, prompts, seeds=2, recipe=FAST, cache=False, progress=False)
    start = similarity(tiny, torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)), prompts)
    sims = similarity(tiny, out.images, prompts)
    assert out.images.shape == (2, 2, 3, 32, 32) and out.images.min() >= 0 and out.images.max() <= 1
    assert (sims[0, :, 0] > start[:, 0] + 0.2).all() and (sims[1, :, 1] > start[:, 1] + 0.2).all()
    assert torch.allclose(again.images[0, 0], out.images[1, 1], atol=1e-5)
    assert not torch.allclose(out.images, pixels.images, atol=1e-2)


def test_fourier_starts_from_the_same_noise_as_pixels(tiny, monkeypatch):
    """The parameterisation changes what Adam moves, not the start: step 0 sees the seed's noise."""
    from clipinv.core import objective

    starts, real = [], objective.total_variation

    def spy(x):
        starts.append(x.detach().clone())
        return real(x)

    monkeypatch.setattr(objective, "total_variation", spy)
    invert(
        tiny, "a dog", seeds=[2], recipe=FAST.replace(steps=1, parameterization="fourier"), cache=False, progress=False
    )
    assert torch.allclose(starts[0][0], torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(2)), atol=1e-5)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"parameterization": "fft"}, "parameterization must be one of pixels, fourier"),
        ({"parameterization": "fourier", "reset_optimizer_on_resize": False}, "set reset_optimizer_on_resize=True"),
        ({"fourier_decay": -1.0}, "fourier_decay must be >= 0"),
    ],
)
def test_bad_parameterizations_are_refused_in_one_line(changes, message):
    with pytest.raises(ClipinvError, match=message) as e:
        Recipe().replace(**changes)
    assert "\n" not in str(e.value)


def test_make_builds_the_named_parameterisation():
    assert isinstance(make("pixels", 8), Pixels) and isinstance(make("fourier", 8, 0.5), Fourier)
