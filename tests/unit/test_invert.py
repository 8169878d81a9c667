import sys

import pytest
import torch

import clipinv
from clipinv import ClipinvError, Prompt, Recipe, invert, replay, similarity
from clipinv.core import objective

FAST = Recipe(steps=60, resolution_schedule=((0, 16), (30, 32)), n_augments=4)


def test_inversion_raises_target_similarity_above_start_and_unrelated(tiny):
    prompts = ["a red circle", "a purple banana on the moon"]
    out = invert(tiny, prompts, seeds=2, recipe=FAST, cache=False, progress=False)
    start = similarity(tiny, torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)), prompts)
    sims = similarity(tiny, out.images, prompts)  # [prompt inverted, seed, text]
    assert out.images.shape == (2, 2, 3, 32, 32)
    assert torch.allclose(out.similarity, torch.stack([sims[0, :, 0], sims[1, :, 1]]), atol=1e-4)
    assert (sims[0, :, 0] > start[:, 0] + 0.2).all() and (sims[1, :, 1] > start[:, 1] + 0.2).all()
    # each image is closer to its own prompt than to the other one (the tiny random text encoder
    # maps all texts close together, so the margin is small in absolute terms)
    assert (sims[0, :, 0] > sims[0, :, 1] + 0.03).all() and (sims[1, :, 1] > sims[1, :, 0] + 0.03).all()
    assert out.images.min() >= 0 and out.images.max() <= 1
    assert set(out.history) == {"loss", "distance", "tv", "l1"}
    assert out.history["distance"][0, 0, -1] < out.history["distance"][0, 0, 0]


@pytest.mark.parametrize("noise_std", [0.0, 0.1], ids=["no pixel noise", "pixel noise"])
def test_every_image_is_independent_of_its_batch_and_reproducible(tiny, noise_std):
    recipe = FAST.replace(noise_std=noise_std)
    both = invert(tiny, ["a red circle", "a dog"], seeds=[3, 5], recipe=recipe, cache=False, progress=False)
    alone = invert(tiny, ["a dog"], seeds=[5], recipe=recipe, cache=False, progress=False)
    again = invert(tiny, ["a dog"], seeds=[5], recipe=recipe, cache=False, progress=False)
    assert torch.allclose(both.images[1, 1], alone.images[0, 0], atol=1e-5)
    assert torch.equal(alone.images, again.images)
    assert not torch.allclose(both.images[1, 0], both.images[1, 1])  # seeds differ
    split = invert(
        tiny, ["a red circle", "a dog"], seeds=[3, 5], recipe=recipe, cache=False, progress=False, batch_size=1
    )
    assert torch.allclose(split.images, both.images, atol=1e-5)


def test_schedule_switches_resolution_at_its_steps_and_resets_adam(tiny, monkeypatch):
    sides, adams = [], []
    real_tv, real_adam = objective.total_variation, torch.optim.Adam

    def spy_tv(x):
        sides.append(x.shape[-1])
        return real_tv(x)

    def spy_adam(*a, **k):
        adams.append(1)
        return real_adam(*a, **k)

    monkeypatch.setattr(objective, "total_variation", spy_tv)
    monkeypatch.setattr(torch.optim, "Adam", spy_adam)
    recipe = Recipe(steps=12, resolution_schedule=((0, 8), (4, 16), (9, 32)), n_augments=2)
    out = invert(tiny, "a cat", seeds=1, recipe=recipe, cache=False, progress=False)
    assert sides == [8] * 4 + [16] * 5 + [32] * 3
    assert len(adams) == 3
    assert out.images.shape[-1] == 32
    adams.clear()
    invert(tiny, "a cat", seeds=1, recipe=recipe.replace(reset_optimizer_on_resize=False), cache=False, progress=False)
    assert len(adams) == 1


def test_smoothing_replaces_the_final_image_by_its_blur(tiny):
    """smooth_sigma blurs once, after the last step: the result is exactly the unsmoothed run's
    image, blurred, and its similarity is that of the image returned."""
    from clipinv.core.transform import GaussianBlur

    plain = invert(tiny, "a red circle", seeds=2, recipe=FAST, cache=False, progress=False)
    last = invert(tiny, "a red circle", seeds=2, recipe=FAST.replace(smooth_sigma=0.75), cache=False, progress=False)
    assert torch.allclose(last.images[0], GaussianBlur(0.75)(plain.images[0]), atol=1e-5)
    assert torch.allclose(last.similarity, similarity(tiny, last.images[0], ["a red circle"])[:, 0][None], atol=1e-4)
    detail = lambda im: (im - GaussianBlur(1.0)(im)).std()
    assert detail(last.images[0]) < 0.6 * detail(plain.images[0])


def test_final_scale_shrinks_the_final_image_onto_the_background_after_the_smoothing(tiny):
    """final_scale acts once, after the last step and the smoothing: the result is exactly the full-size
    run's image shrunk (the optimisation is the same), its margin the plain background_fill, and its
    similarity that of the image returned."""
    from clipinv.core.transform import ShrinkOnto

    base = FAST.replace(background_fill=0.4, smooth_sigma=0.75)
    full = invert(tiny, "a red circle", seeds=2, recipe=base, cache=False, progress=False)
    half = invert(tiny, "a red circle", seeds=2, recipe=base.replace(final_scale=0.5), cache=False, progress=False)
    assert torch.allclose(half.images[0], ShrinkOnto(0.5, 0.4)(full.images[0]), atol=1e-6)
    side = half.images.shape[-1]
    margin = torch.ones(side, side, dtype=torch.bool)
    margin[side // 4 : side // 4 + side // 2, side // 4 : side // 4 + side // 2] = False
    assert torch.all(half.images[0][..., margin] == 0.4)
    assert not torch.allclose(half.images[0], full.images[0], atol=1e-2)
    assert torch.allclose(half.similarity, similarity(tiny, half.images[0], ["a red circle"])[:, 0][None], atol=1e-4)


def test_the_starting_image_is_the_seeds_uniform_noise(tiny, monkeypatch):
    """The initial image is exactly torch.rand of the seed's own generator (the paper's noise in [0, 1])."""
    starts = []
    real = objective.total_variation

    def spy(x):
        if not starts:
            starts.append(x.detach().clone())
        return real(x)

    monkeypatch.setattr(objective, "total_variation", spy)
    invert(tiny, "a dog", seeds=[4], recipe=FAST.replace(steps=1), cache=False, progress=False)
    assert torch.equal(starts[0][0], torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(4)))


def test_l1_pulls_pixels_toward_black(tiny):
    """With a strong L1 (the paper's ||x||_1) the image ends nearer black than without it."""
    plain = invert(tiny, "a red circle", seeds=2, recipe=FAST, cache=False, progress=False).images
    black = invert(
        tiny, "a red circle", seeds=2, recipe=FAST.replace(l1_weight=0.01), cache=False, progress=False
    ).images
    off = lambda im, c: (im - c).abs().mean().item()
    assert off(black, 0.0) < 0.5 * off(plain, 0.0)
    assert off(black, 0.0) < off(black, 0.4)


def test_negative_prompt_pushes_away(tiny):
    plain = invert(tiny, "a red circle", seeds=2, recipe=FAST, cache=False, progress=False)
    neg = invert(
        tiny, Prompt("a red circle") - 0.5 * Prompt("a blue square"), seeds=2, recipe=FAST, cache=False, progress=False
    )
    s_plain = similarity(tiny, plain.images[0], ["a blue square"])
    s_neg = similarity(tiny, neg.images[0], ["a blue square"])
    assert (s_neg < s_plain - 0.05).all()


def test_blend_lands_between_its_concepts(tiny):
    out = invert(
        tiny, clipinv.blend("a red circle", "a tall green tree"), seeds=2, recipe=FAST, cache=False, progress=False
    )
    s = similarity(tiny, out.images[0], ["a red circle", "a tall green tree", "a purple banana on the moon"])
    assert (s[:, 0] > s[:, 2]).all() and (s[:, 1] > s[:, 2]).all()


def test_ensemble_raises_similarity_under_both_models(tiny):
    from helpers import make_tiny

    other = make_tiny(1)
    out = invert([tiny, other], "a red circle", seeds=1, recipe=FAST, cache=False, progress=False)
    for m in (tiny, other):
        s = similarity(m, out.images[0], ["a red circle", "a purple banana on the moon"])
        assert (s[:, 0] > s[:, 1] + 0.1).all()
    assert out.record["specs"] == [tiny.spec, other.spec]


def test_record_replays_the_run_exactly(tiny, monkeypatch):
    out = invert(tiny, "a dog", seeds=[7], recipe=FAST, cache=False, progress=False)
    rec = out.record
    assert rec["weights_hashes"] == [tiny.weights_hash] and rec["seeds"] == [7]
    assert rec["recipe"]["steps"] == 60 and "torch" in rec["versions"]
    monkeypatch.setattr(sys.modules["clipinv.runs.replay"], "load_model", lambda spec, device=None: tiny)
    again = replay(rec, progress=False)
    assert torch.equal(again.images, out.images)


def test_divergence_stops_with_step_and_term(tiny, monkeypatch):
    calls = {"n": 0}
    real = tiny.model.encode_image

    def poisoned(x):
        calls["n"] += 1
        f = real(x)
        return f * float("nan") if calls["n"] > 7 else f

    monkeypatch.setattr(tiny.model, "encode_image", poisoned)
    with pytest.raises(ClipinvError, match=r"diverged at step 7: the (loss|distance) term"):
        invert(tiny, "a dog", seeds=1, recipe=FAST, cache=False, progress=False)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"steps": 0}, "steps must be a positive"),
        ({"steps": -3}, "steps must be a positive"),
        ({"resolution_schedule": ((0, 0),)}, "image size must be > 0"),
        ({"resolution_schedule": ((0, 16), (10, -32))}, "image size must be > 0"),
        ({"lr": float("nan")}, "lr must be a finite"),
        ({"lr": float("inf")}, "lr must be a finite"),
        ({"tv_weight": float("inf")}, "tv_weight must be a finite"),
        ({"l1_weight": float("nan")}, "l1_weight must be a finite"),
        ({"n_augments": 0}, "n_augments"),
        ({"precision": "fp8"}, "precision"),
        ({"background_fill": 1.5}, "background_fill must be None"),
        ({"background_fill": "grey"}, "background_fill must be None"),
        ({"smooth_sigma": -0.5}, "smooth_sigma must be >= 0"),
        ({"smooth_sigma": float("nan")}, "smooth_sigma must be a finite"),
        ({"final_scale": 0.0}, "final_scale must be in"),
        ({"final_scale": 1.5}, "final_scale must be in"),
        ({"final_scale": 0.5}, "set background_fill too"),
    ],
)
def test_bad_recipes_are_refused_in_one_line(changes, message):
    with pytest.raises(ClipinvError, match=message) as e:
        Recipe().replace(**changes)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "prompt, message", [("", "empty"), ("   ", "empty"), (" ".join(["word"] * 30), "takes 32 tokens")]
)
def test_bad_prompts_are_refused_before_any_work(tiny, prompt, message, monkeypatch):
    monkeypatch.setattr(
        sys.modules["clipinv.core.invert"], "optimise", lambda *a, **k: pytest.fail("optimised a bad prompt")
    )
    with pytest.raises(ClipinvError, match=message):
        invert(tiny, ["a dog", prompt], seeds=1, recipe=FAST, progress=False)


def test_truncate_opts_in_to_long_prompts(tiny):
    out = invert(
        tiny, " ".join(["word"] * 30), seeds=1, recipe=FAST.replace(steps=5), cache=False, progress=False, truncate=True
    )
    assert out.images.shape[0] == 1


def test_bad_seeds_are_refused(tiny):
    for seeds in (0, [], [-1], ["a"]):
        with pytest.raises(ClipinvError, match="seeds"):
            invert(tiny, "a dog", seeds=seeds, recipe=FAST, progress=False)


def test_callback_sees_every_step_of_every_batch_and_changes_nothing(tiny):
    recipe = FAST.replace(steps=6, resolution_schedule=((0, 16), (3, 32)))
    seen = []

    def watch(done, images, items):
        seen.append((done, tuple(images.shape), list(items), images.clone()))

    out = invert(
        tiny,
        ["a red circle", "a blue square"],
        seeds=2,
        recipe=recipe,
        cache=False,
        progress=False,
        batch_size=3,
        callback=watch,
    )
    plain = invert(tiny, ["a red circle", "a blue square"], seeds=2, recipe=recipe, cache=False, progress=False)
    assert torch.equal(out.images, plain.images)
    # two batches (3 + 1 images), six steps each, the resolution changing after step 3
    assert [d for d, *_ in seen] == [1, 2, 3, 4, 5, 6] * 2
    assert [s for _, s, *_ in seen] == [(3, 3, 16, 16)] * 3 + [(3, 3, 32, 32)] * 3 + [(1, 3, 16, 16)] * 3 + [
        (1, 3, 32, 32)
    ] * 3
    assert seen[0][2] == [("a red circle", 0), ("a red circle", 1), ("a blue square", 0)]
    assert seen[-1][2] == [("a blue square", 1)]
    # the last frame is the final image (no smoothing or shrinking in this recipe)
    assert torch.equal(seen[5][3], out.images.flatten(0, 1)[:3]) and torch.equal(seen[-1][3], out.images[1, 1:])
    assert not torch.equal(seen[0][3], seen[1][3])  # the frames are the optimisation's, step by step


def test_an_opacity_channel_keeps_each_image_independent_and_a_heavy_opacity_penalty_leaves_the_plain_grey(tiny):
    recipe = FAST.replace(opacity=True, background_fill=0.4)
    both = invert(tiny, ["a red circle", "a dog"], seeds=[3, 5], recipe=recipe, cache=False, progress=False)
    alone = invert(tiny, ["a dog"], seeds=[5], recipe=recipe, cache=False, progress=False)
    plain = invert(tiny, ["a dog"], seeds=[5], recipe=FAST.replace(background_fill=0.4), cache=False, progress=False)
    assert both.images.shape == (2, 2, 3, 32, 32)
    assert torch.allclose(both.images[1, 1], alone.images[0, 0], atol=1e-5)
    assert not torch.allclose(alone.images, plain.images, atol=1e-2)
    # an opacity that costs far more than any match to the prompt goes to zero: only the grey shows
    empty = invert(tiny, ["a dog"], seeds=[5], recipe=recipe.replace(opacity_weight=100.0), cache=False, progress=False)
    assert torch.allclose(empty.images, torch.full_like(empty.images, 0.4), atol=1e-3)
    # a transparent image over the grey stays the grey under the final blur too
    blurred = recipe.replace(opacity_weight=100.0, smooth_sigma=1.0)
    assert torch.allclose(
        invert(tiny, ["a dog"], seeds=[5], recipe=blurred, cache=False, progress=False).images, empty.images, atol=1e-3
    )


def test_an_opacity_channel_needs_a_grey_to_be_shown_on_and_pixels_to_carry_it():
    with pytest.raises(ClipinvError, match="background_fill"):
        FAST.replace(opacity=True)
    with pytest.raises(ClipinvError, match="parameterization"):
        FAST.replace(opacity=True, background_fill=0.4, parameterization="strokes")
    assert FAST.replace(opacity=True, background_fill=0.4, parameterization="fourier").opacity
