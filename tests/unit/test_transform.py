import math

import pytest
import torch

from clipinv.core.transform import (
    AffineResample,
    ColorJitter,
    ColorShift,
    GaussianBlur,
    GaussianNoise,
    OntoBackground,
    over,
)


def _dot(side=16, row=8, col=8):
    x = torch.zeros(1, 3, side, side)
    x[..., row, col] = 1.0
    return x


def test_affine_is_identity_at_zero_strength():
    x = torch.rand(4, 3, 16, 16)
    aug = AffineResample(16, degrees=0, translate=0, scale=(1, 1), p=1.0)
    out = aug(x, torch.rand(4, AffineResample.n_draws))
    assert torch.allclose(out, x, atol=1e-5)


def test_affine_with_p_zero_only_resizes():
    x = torch.rand(2, 3, 16, 16)
    out = AffineResample(16, p=0.0)(x, torch.rand(2, AffineResample.n_draws))
    assert torch.allclose(out, x, atol=1e-5)


def test_translation_moves_content_right_by_a_tenth_of_the_side():
    u = torch.tensor([[0.0, 0.5, 1.0, 0.5, 0.5 / 1.0, 0.5, 0.5]])  # apply; no rotation; tx = +0.1; ty = 0
    aug = AffineResample(20, degrees=30, translate=0.1, scale=(1.0, 1.0), p=0.5, mode="bilinear")
    out = aug(_dot(20, 10, 10), u)
    r, c = divmod(int(out[0, 0].argmax()), 20)
    assert (r, c) == (10, 12)  # 0.1 x 20 px = 2 px to the right


def test_rotation_by_90_degrees_maps_a_dot_around_the_centre():
    aug = AffineResample(21, degrees=90, translate=0.0, scale=(1.0, 1.0), p=1.0, mode="bilinear")
    u = torch.tensor([[0.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]])  # +90 degrees
    out = aug(_dot(21, 10, 16), u)  # dot right of the centre
    r, c = divmod(int(out[0, 0].argmax()), 21)
    assert (r, c) in {(4, 10), (16, 10)}  # a quarter turn puts it straight above or below the centre
    assert math.hypot(r - 10, c - 10) == 6


def test_scale_above_one_enlarges_content():
    x = torch.zeros(1, 3, 32, 32)
    x[..., 12:20, 12:20] = 1.0
    aug = AffineResample(32, degrees=0, translate=0.0, scale=(1.2, 1.2), p=1.0, mode="bilinear")
    out = aug(x, torch.tensor([[0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]]))
    assert (out[0, 0] > 0.5).sum() > (x[0, 0] > 0.5).sum()


def test_copies_are_independent_and_draws_replay():
    x = torch.rand(1, 3, 16, 16).repeat(6, 1, 1, 1)
    aug = AffineResample(24, p=1.0)
    u = torch.rand(6, AffineResample.n_draws)
    out = aug(x, u)
    assert out.shape == (6, 3, 24, 24)
    for i in range(6):
        for j in range(i + 1, 6):
            assert not torch.allclose(out[i], out[j])
    assert torch.equal(aug(x, u), out)  # the same draw gives the same output
    same = aug(x, u[:1].repeat(6, 1))
    assert all(torch.allclose(same[0], same[i]) for i in range(6))


def test_roll_jitter_wraps_like_torch_roll():
    x = torch.rand(1, 3, 8, 8)
    aug = AffineResample(8, degrees=0, translate=0, scale=(1, 1), p=0.0, jitter=2, mode="nearest")
    u = torch.tensor([[0.9, 0.5, 0.5, 0.5, 0.5, 1.0, 0.5]])  # jitter x = +2 px, y = 0
    assert torch.allclose(aug(x, u), torch.roll(x, shifts=2, dims=3), atol=1e-6)


def test_elementwise_augmentations_are_identity_at_zero_strength_and_act_otherwise():
    x = torch.rand(5, 3, 8, 8)
    u = torch.rand(5, 6)
    assert torch.equal(ColorShift(0, 0)(x, u), x)
    assert torch.equal(ColorJitter(0)(x, u[:, :3]), x)
    assert torch.equal(GaussianNoise(0)(x), x)
    assert not torch.allclose(ColorShift(0.2, 0.2)(x, u), x)
    assert not torch.allclose(ColorJitter(0.4)(x, u[:, :3]), x)
    shifted = ColorShift(0.2, 0.0)(x, u)
    mu = (2 * u[:, :3] - 1) * 0.2
    assert torch.allclose(shifted, x - mu[:, :, None, None])


def test_gaussian_blur_is_identity_at_zero_keeps_flat_images_and_the_mean_and_removes_pixel_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    assert torch.equal(GaussianBlur(0)(x), x)
    flat = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(GaussianBlur(1.0)(flat), flat)
    y = GaussianBlur(0.75)(x)
    assert y.shape == x.shape
    assert abs(y.mean() - x.mean()) < 0.01
    # white noise of std 1/sqrt(12) ~ 0.29: a sigma 0.75 px blur leaves about a third of it
    assert 0.25 < y.std() / x.std() < 0.45
    assert GaussianBlur(1.5)(x).std() < y.std()
    # a bright dot spreads to its neighbours, symmetric, with its total kept
    dot = torch.zeros(1, 1, 15, 15)
    dot[..., 7, 7] = 1.0
    d = GaussianBlur(1.0)(dot)
    assert torch.isclose(d.sum(), torch.tensor(1.0), atol=1e-4) and d[..., 7, 7] < 0.2
    assert torch.isclose(d[..., 7, 6], d[..., 7, 8]) and torch.isclose(d[..., 6, 7], d[..., 7, 6])


def test_fill_pads_a_shrunk_copy_with_plain_grey_and_border_padding_repeats_the_edge():
    x = torch.zeros(1, 3, 16, 16)
    x[..., :, :] = 0.9  # a canvas filled with one colour
    u = torch.tensor([[0.0, 0.5, 0.5, 0.5, 0.0, 0.5, 0.5]])  # affine on, no rotation/translation, smallest scale
    shrunk = AffineResample(16, scale=(0.5, 0.5), p=1.0, mode="bilinear", fill=0.4)(x, u)
    assert torch.allclose(shrunk[..., 0, 0], torch.tensor(0.4)) and torch.allclose(shrunk[..., 8, 8], torch.tensor(0.9))
    border = AffineResample(16, scale=(0.5, 0.5), p=1.0, mode="bilinear")(x, u)  # the paper's border padding
    assert torch.allclose(border, torch.full_like(border, 0.9))


def test_pixel_noise_draws_each_images_rows_from_its_own_generator():
    x = torch.zeros(6, 3, 4, 4)  # 2 images x 3 copies, image-major
    gens = lambda: [torch.Generator().manual_seed(s) for s in (7, 8)]
    both = GaussianNoise(0.5)(x, gens())
    alone = GaussianNoise(0.5)(x[3:], [torch.Generator().manual_seed(8)])
    assert torch.equal(both[3:], alone)  # image 2's noise is the same with or without image 1
    assert not torch.allclose(both[:3], both[3:])
    assert abs(both.std().item() - 0.5) < 0.1  # std as asked (96 x 3 draws)
    with pytest.raises(ValueError, match="cannot be split"):
        GaussianNoise(0.5)(torch.zeros(5, 3, 4, 4), gens())


def test_shrink_onto_is_identity_at_one_and_draws_the_image_small_in_the_centre_on_plain_fill():
    from clipinv.core.transform import ShrinkOnto

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    assert torch.equal(ShrinkOnto(1.0, 0.4)(x), x)
    # a red canvas becomes a 16 px red square in the middle of grey 0.4, nothing else
    red = torch.zeros(1, 3, 32, 32)
    red[:, 0] = 1.0
    y = ShrinkOnto(0.5, 0.4)(red)
    inside = torch.zeros(32, 32, dtype=torch.bool)
    inside[8:24, 8:24] = True
    assert torch.allclose(y[0][:, inside], torch.tensor([1.0, 0.0, 0.0]).view(3, 1))
    assert torch.all(y[0][:, ~inside] == 0.4)
    # the small copy is the image averaged down: a left/right split stays split, its mean kept
    half = torch.zeros(1, 1, 32, 32)
    half[..., 16:] = 1.0
    z = ShrinkOnto(0.5, 0.0)(half)[0, 0, 8:24, 8:24]
    assert torch.all(z[:, :7] < 0.05) and torch.all(z[:, 9:] > 0.95)
    assert abs(float(z.mean()) - 0.5) < 1e-4
    # odd sizes and scales keep the side and centre the copy
    w = ShrinkOnto(0.3, 0.2)(torch.ones(1, 3, 25, 25))
    assert w.shape == (1, 3, 25, 25)
    drawn = ((w[0, 0] - 1.0).abs() < 1e-5).nonzero()
    assert (
        len(drawn) == 8 * 8 and drawn.min().item() == 8 and drawn.max().item() == 15
    )  # round(7.5) = 8 px, at (25 - 8) // 2
    assert torch.all(w[0, 0][((w[0, 0] - 1.0).abs() >= 1e-5)] == 0.2)
    with pytest.raises(ValueError, match="needs a fill"):
        ShrinkOnto(0.5, None)


def test_onto_background_draws_opaque_colour_as_is_and_transparent_canvas_as_the_drawn_background():
    x = torch.zeros(3, 4, 2, 2)
    x[:, :3] = torch.tensor([0.9, 0.1, 0.2])[:, None, None]
    x[0, 3], x[1, 3], x[2, 3] = 1.0, 0.0, 0.0  # opaque; transparent; transparent
    x[2, 3, 0, 0] = 0.5  # one half-opaque pixel
    # draws: red, green, blue, dark?, plain?, grey level
    u = torch.tensor(
        [
            [0.5, 0.5, 0.5, 0.9, 0.9, 0.0],  # a dark colour (not plain)
            [0.2, 0.4, 0.6, 0.1, 0.9, 0.0],  # a bright colour: (0.2, 0.4, 0.6)
            [0.2, 0.4, 0.6, 0.1, 0.1, 0.5],  # plain grey 0.4 + 0.2 * 0.5 = 0.5
        ]
    )
    out = OntoBackground(plain_p=0.5)(x, u)
    assert out.shape == (3, 3, 2, 2)
    assert torch.allclose(out[0], x[0, :3])
    assert torch.allclose(out[1], torch.tensor([0.2, 0.4, 0.6])[:, None, None].expand(3, 2, 2))
    assert torch.allclose(out[2, :, 1, 1], torch.full((3,), 0.5))
    assert torch.allclose(out[2, :, 0, 0], 0.5 * torch.tensor([0.9, 0.1, 0.2]) + 0.5 * 0.5)
    dark = OntoBackground()(torch.zeros(1, 4, 1, 1), torch.tensor([[1.0, 1.0, 1.0, 0.9, 0.9, 0.0]]))
    assert torch.allclose(dark, torch.full((1, 3, 1, 1), 0.3))
    assert torch.allclose(over(x, 0.4)[1], torch.full((3, 2, 2), 0.4))
