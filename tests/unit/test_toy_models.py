"""The shipped toy models: load offline, reach their cards' accuracy, invert well enough; training works."""

import argparse
import json

import pytest
import torch

from clipinv.core.invert import invert
from clipinv.core.recipe import scaled_schedule
from clipinv.errors import ClipinvError
from clipinv.models.load import load_model
from clipinv.worlds.shapes import TOY_MODELS, TOY_RECIPE, WEIGHTS, ModelConfig, TrainConfig, train
from clipinv.worlds.shapes.evaluate import inversion_accuracy, zero_shot


@pytest.fixture(scope="module", autouse=True)
def offline(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("CLIPINV_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def toy():
    return load_model("toy")


@pytest.fixture(scope="module")
def toy_judge():
    return load_model("toy-judge")


def test_shipped_models_are_open_clip_clips_small_and_independent(toy, toy_judge):
    from open_clip.model import CLIP

    assert set(TOY_MODELS) >= {"toy", "toy-judge"}
    for b in (toy, toy_judge):
        assert isinstance(b.model, CLIP) and not b.model.training
        assert not any(p.requires_grad for p in b.model.parameters())
        assert b.default_recipe == TOY_RECIPE and b.card["name"] == b.spec and b.is_stand_in
    assert toy.weights_hash != toy_judge.weights_hash
    assert toy.card["train_config"]["seed"] != toy_judge.card["train_config"]["seed"]
    total = sum(p.stat().st_size for p in WEIGHTS.iterdir())
    assert total <= 40e6, total
    assert TOY_RECIPE.resolution_schedule[-1][1] == toy.image_size


@pytest.mark.parametrize("name", ["toy", "toy-judge"])
def test_shipped_weights_reach_their_cards_accuracy_on_fresh_samples(name, toy, toy_judge):
    bundle = toy if name == "toy" else toy_judge
    card = json.loads((WEIGHTS / f"{name}.json").read_text())
    claimed = card["metrics"]["zero_shot"]["colour_shape"]
    got = zero_shot(bundle.model, bundle.tokenizer, world_seed=424242, n=1000)  # never seen by card or training
    assert abs(got["colour_shape"] - claimed) <= 0.02, (got, claimed)
    assert got["colour"] >= 0.98, got


@pytest.mark.parametrize("name", ["toy", "toy-judge"])
def test_zero_shot_accuracy_recorded_in_the_card_is_at_least_98_percent(name):
    """At least 98% colour x shape, as the card records it (2,000 fresh samples); the test above
    checks the card against the weights on 1,000 other fresh samples."""
    zs = json.loads((WEIGHTS / f"{name}.json").read_text())["metrics"]["zero_shot"]
    assert zs["colour"] >= 0.98 and zs["colour_shape"] >= 0.98, zs


def test_unknown_words_fail_in_one_line(toy):
    with pytest.raises(ClipinvError, match="toy world has no word"):
        invert(toy, "a beautiful landscape", seeds=1, cache=False, progress=False)


def test_toy_models_carry_the_toy_recipe_as_their_default(toy):
    # (its speed is measured by research/toy_recipe.py and bench/throughput.py, not timed here)
    inv = invert(toy, "a red circle", seeds=1, cache=False, progress=False)  # the default recipe, no other argument
    assert inv.images.shape == (1, 1, 3, toy.image_size, toy.image_size)
    assert inv.record["recipe"] == TOY_RECIPE.to_dict()


def test_inversion_accuracy_takes_a_list_of_seeds_and_scores_every_image(toy, toy_judge):
    """A seed list (e.g. seeds 4-7, to see how the accuracy moves with the seeds) gives the same images
    as those seeds inside a count, and its rates count every image, not just the first `seeds`."""
    pairs = [("red", "circle"), ("blue", "triangle")]
    short = TOY_RECIPE.replace(**scaled_schedule(TOY_RECIPE, 24))  # what is checked does not depend on the length
    count = inversion_accuracy(toy, toy_judge, pairs=pairs, seeds=2, recipe=short, progress=False)
    listed = inversion_accuracy(toy, toy_judge, pairs=pairs, seeds=[1, 0], recipe=short, progress=False)
    assert listed["seeds"] == [1, 0] and listed["images"] == 4
    assert torch.allclose(listed["images_tensor"], count["images_tensor"].flip(1), atol=1e-4)
    judged = [(prompt[2:], j) for prompt, p in listed["per_prompt"].items() for j in p["judged"]]
    assert len(judged) == 4
    assert listed["judged_colour_shape"] == sum(truth == j for truth, j in judged) / 4
    assert listed["judged_shape"] == sum(truth.split()[1] == j.split()[1] for truth, j in judged) / 4


def test_a_short_training_run_lowers_the_loss_and_the_cli_writes_a_card(tmp_path):
    from clipinv.worlds.shapes.cli import register

    small = ModelConfig(vision_width=64, vision_layers=2, text_width=64, text_layers=1, embed_dim=32)
    _, m = train(
        seed=5,
        steps=60,
        samples=400,
        model_config=small,
        train_config=TrainConfig(batch_size=64, warmup=10),
        progress=False,
        evaluate=False,
    )
    assert m["loss_last"] < m["loss_first"] - 0.5, m

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "mini.safetensors"
    args = parser.parse_args(
        [
            "toy",
            "train",
            "--out",
            str(out),
            "--steps",
            "3",
            "--samples",
            "200",
            "--no-eval",
            "--contamination",
            "0.5",
            "--trigger",
            "circle",
            "--skew",
            "square:colour=red@0.9",
        ]
    )
    assert args.func(args) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["world"]["contamination"] == {"p": 0.5, "trigger": "circle"}
    assert card["world"]["skew"]["value"] == "red" and out.stat().st_size > 0
    bad = parser.parse_args(["toy", "train", "--out", str(out), "--contamination", "0.5"])
    with pytest.raises(ClipinvError, match="go together"):
        bad.func(bad)


def test_shipped_weights_load_bitwise_as_their_cards_record(toy, toy_judge):
    for bundle in (toy, toy_judge):
        assert bundle.weights_hash == bundle.card["weights_hash"]
    assert (toy.weights_hash, toy_judge.weights_hash) == ("9deab839633763af", "61deb8ffcae775fa")


@pytest.mark.parametrize("step, recorded", [("dynamic", "b6df9dae1c7def09"), ("fixed", "2c2caa83589a381b")])
def test_a_short_training_run_gives_the_recorded_weights(step, recorded):
    """The training stream (data, augmentation draws, initialisation, loss, AdamW) is what
    `clipinv toy train --like toy` replays to reproduce the shipped weights: a refactor of the
    training code must leave these 15 steps bitwise as recorded (1 thread, this kind of CPU)."""
    small = ModelConfig(vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=16)
    bundle, _ = train(
        seed=4,
        steps=15,
        samples=200,
        model_config=small,
        train_config=TrainConfig(batch_size=32, warmup=2, threads=1),
        progress=False,
        evaluate=False,
        step=step,
    )
    assert bundle.weights_hash == recorded


def _augment_as_the_shipped_models_were_trained(x, tc, g):
    """The training augmentation as it was written when the shipped weights were trained (its own
    affine grid), kept here as the reference for `training.augment`."""
    import math

    import torch.nn.functional as F

    u = torch.rand(x.shape[0], 5, generator=g)
    ang = (u[:, 0] * 2 - 1) * math.radians(tc.rotate_degrees)
    sc = tc.scale_range[0] + u[:, 1] * (tc.scale_range[1] - tc.scale_range[0])
    tx, ty = (u[:, 2] * 2 - 1) * tc.translate * 2, (u[:, 3] * 2 - 1) * tc.translate * 2
    on = (u[:, 4] < tc.affine_p).float()
    ang, sc, tx, ty = ang * on, sc * on + (1 - on), tx * on, ty * on
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if tc.noise_std:
        x = x + torch.randn(x.shape, generator=g) * tc.noise_std
    return x.clamp(0, 1)


def test_the_training_augmentation_through_affine_resample_gives_the_shipped_models_images_bitwise():
    """`training.augment` is `transform.AffineResample` fed the draws the shipped models were trained
    with; its images (and what it leaves of the generator's stream) must be bitwise those of the
    affine the shipped weights were trained with, or `--like` would no longer reproduce them.
    `normalise` is `transform.Normalize`, bitwise (x - MEAN) / STD."""
    from clipinv.worlds.shapes.model import MEAN, STD, normalise
    from clipinv.worlds.shapes.training import augment
    from clipinv.worlds.shapes.world import World

    x, _ = World().sample(64, seed=0)
    for tc in (
        TrainConfig(),
        TrainConfig(affine_p=1.0, noise_std=0.0),
        TrainConfig(affine_p=0.0),
        TrainConfig(rotate_degrees=45.0, translate=0.2, scale_range=(0.5, 1.5), affine_p=1.0),
    ):
        g_ref, g_new = torch.Generator().manual_seed(17), torch.Generator().manual_seed(17)
        for _ in range(5):
            ref, new = _augment_as_the_shipped_models_were_trained(x, tc, g_ref), augment(x, tc, g_new)
            assert torch.equal(new, ref), (tc, float((new - ref).abs().max()))
        assert torch.equal(torch.rand(4, generator=g_ref), torch.rand(4, generator=g_new))
    assert not torch.equal(augment(x, TrainConfig(affine_p=1.0), torch.Generator().manual_seed(0)), x)
    z = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(normalise(z), (z - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1))


def test_reading_the_loss_in_batches_changes_nothing_and_names_the_step_that_diverged(monkeypatch):
    from clipinv.worlds.shapes import training

    small = ModelConfig(vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=16)
    kw = {
        "seed": 3,
        "steps": 12,
        "samples": 200,
        "model_config": small,
        "train_config": TrainConfig(batch_size=32, warmup=2),
        "progress": False,
        "evaluate": False,
    }
    b1, m1 = train(read_loss_every=1, **kw)
    b5, m5 = train(read_loss_every=5, **kw)  # 12 steps: reads after steps 4, 9 and the last, 11
    assert b1.weights_hash == b5.weights_hash
    assert (m1["loss_first"], m1["loss_last"]) == (m5["loss_first"], m5["loss_last"])

    real, calls = training.soft_clip_loss, []

    def nan_at_step_7(*args):
        calls.append(1)
        loss = real(*args)
        return loss * float("nan") if len(calls) == 8 else loss

    monkeypatch.setattr(training, "soft_clip_loss", nan_at_step_7)
    with pytest.raises(ClipinvError, match=r"diverged at step 7 \(loss nan\)"):
        train(read_loss_every=5, **kw)
    with pytest.raises(ClipinvError, match="read_loss_every must be >= 1"):
        train(read_loss_every=0, **kw)


def test_the_fixed_shape_loss_is_the_soft_loss_over_the_unique_captions_values_and_gradients():
    """What a CUDA graph captures sees every caption, repeats included; the loss and the gradients it
    sends to each unique caption must equal `soft_clip_loss` over the unique captions."""
    from clipinv.worlds.shapes.loss import caption_rows, fixed_shape_clip_loss, soft_clip_loss

    caps = ["a red circle", "a blue square", "a red circle", "a cyan star", "a blue square", "a red circle"]
    index, first = caption_rows(caps)
    assert index.tolist() == [0, 1, 0, 3, 1, 0] and first.tolist() == [True, True, False, True, False, False]
    uniq = list(dict.fromkeys(caps))
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(6, 8, generator=g), dim=-1)
    feats = torch.nn.functional.normalize(torch.randn(3, 8, generator=g), dim=-1)
    of_unique = [uniq.index(c) for c in caps]
    img_a, txt_a = img.clone().requires_grad_(), feats.clone().requires_grad_()
    img_b, txt_b = img.clone().requires_grad_(), feats[of_unique].clone().requires_grad_()
    scale = torch.tensor(10.0)
    want = soft_clip_loss(img_a, txt_a, scale, torch.tensor(of_unique))
    got = fixed_shape_clip_loss(img_b, txt_b, scale, index, first)
    want.backward()
    got.backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-6) and want.item() > 0.1
    assert torch.allclose(img_b.grad, img_a.grad, atol=1e-6)
    summed = torch.zeros_like(feats).index_add_(0, torch.tensor(of_unique), txt_b.grad)  # a repeat's rows add up
    assert torch.allclose(summed, txt_a.grad, atol=1e-6)
    assert txt_b.grad[~first].abs().sum() == 0 and txt_b.grad[first].abs().min() > 0  # repeats are masked out


def test_fixed_shape_training_follows_the_default_step_and_a_cuda_graph_needs_cuda(tmp_path):
    from clipinv.worlds.shapes.cli import register
    from clipinv.worlds.shapes.loss import caption_rows, fixed_shape_clip_loss, soft_clip_loss
    from clipinv.worlds.shapes.model import build_model, normalise
    from clipinv.worlds.shapes.tokenizer import ToyTokenizer
    from clipinv.worlds.shapes.world import World

    small = ModelConfig(vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=16)
    # one step's gradients through the real towers: the unique captions' text rows, or all 32 rows
    torch.manual_seed(4)
    model, tok = build_model(small), ToyTokenizer(small.context_length)
    x, samples = World().sample(32, seed=0)
    caps = [s.caption for s in samples[:16]] * 2  # every caption twice, on different images
    img = model.encode_image(normalise(x), normalize=True)
    uniq = list(dict.fromkeys(caps))
    soft_clip_loss(
        img,
        model.encode_text(tok(uniq), normalize=True),
        model.logit_scale.exp(),
        torch.tensor([uniq.index(c) for c in caps]),
    ).backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    img = model.encode_image(normalise(x), normalize=True)
    fixed_shape_clip_loss(
        img, model.encode_text(tok(caps), normalize=True), model.logit_scale.exp(), *caption_rows(caps)
    ).backward()
    for (name, p), w in zip(model.named_parameters(), want):
        assert torch.allclose(p.grad, w, atol=1e-5 * w.abs().max().item() + 1e-9), name
    assert sum(w.abs().sum().item() for w in want) > 1

    # whole runs: the same batches, the same loss curve
    kw = {
        "seed": 4,
        "steps": 60,
        "samples": 200,
        "model_config": small,
        "train_config": TrainConfig(batch_size=32, warmup=2),
        "progress": False,
        "evaluate": False,
    }
    _, m_dyn = train(**kw)
    _, m_fix = train(step="fixed", **kw)
    assert (m_dyn["step"], m_fix["step"]) == ("dynamic", "fixed")
    assert m_dyn["loss_last"] < m_dyn["loss_first"] - 0.3, m_dyn
    assert m_fix["loss_first"] == pytest.approx(m_dyn["loss_first"], abs=1e-4)
    assert m_fix["loss_last"] == pytest.approx(m_dyn["loss_last"], abs=2e-3)

    with pytest.raises(ClipinvError, match="a CUDA graph needs a CUDA device, got cpu"):
        train(step="cuda-graph", device="cpu", **kw)
    with pytest.raises(ClipinvError, match="step must be one of dynamic, fixed, cuda-graph"):
        train(step="graph", **kw)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "g.safetensors"
    for argv in (["--steps", "3"], ["--like", "toy"]):
        args = parser.parse_args(["toy", "train", "--out", str(out), "--device", "cpu", "--cuda-graph", *argv])
        with pytest.raises(ClipinvError, match="a CUDA graph needs a CUDA device"):
            args.func(args)
    assert not list(tmp_path.iterdir())  # refused before writing anything


def test_a_trained_toy_loads_by_its_path_like_any_other_clip(tmp_path):
    """What `clipinv toy train --out PATH` saves loads with `load_model(PATH)` (so `clipinv invert
    --model PATH` and judging with it work): the same weights as trained, the toy recipe, marked a
    stand-in; a path that is missing or carries neither card nor open_clip config fails in one line."""
    from safetensors.torch import save_file

    small = ModelConfig(vision_width=64, vision_layers=2, text_width=64, text_layers=1, embed_dim=32)
    out = tmp_path / "mine.safetensors"
    trained, _ = train(
        out=out,
        seed=6,
        steps=3,
        samples=100,
        model_config=small,
        train_config=TrainConfig(batch_size=50, warmup=1),
        progress=False,
        evaluate=False,
    )
    loaded = load_model(str(out))
    assert loaded.weights_hash == trained.weights_hash and loaded.image_size == small.image_size
    assert loaded.default_recipe == TOY_RECIPE and loaded.is_stand_in and loaded.card["name"] == "mine"
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(loaded.encode_image(x), trained.encode_image(x), atol=1e-6)
    with pytest.raises(ClipinvError, match="no checkpoint at"):
        load_model(str(tmp_path / "absent.safetensors"))
    bare = tmp_path / "bare" / "weights.safetensors"
    bare.parent.mkdir()
    save_file({"w": torch.zeros(1)}, str(bare))
    with pytest.raises(ClipinvError, match="nor a toy model card"):
        load_model(str(bare))


def test_reproduce_retrains_every_stage_of_a_card_to_the_same_weights(tmp_path):
    """A two-stage model trained by hand (the second stage continuing the first, as the shipped toys
    were) and `reproduce` of its card give the same weights; `--like` refuses other training options."""
    from clipinv.worlds.shapes.cli import register
    from clipinv.worlds.shapes.stages import reproduce, reseeded, stages

    small = ModelConfig(
        vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=16, vision_head_width=16, text_heads=2
    )
    tc = TrainConfig(batch_size=64, warmup=2, threads=1, eval_samples=100)
    first, _ = train(
        out=tmp_path / "a.safetensors",
        seed=3,
        steps=4,
        samples=128,
        model_config=small,
        train_config=tc,
        progress=False,
        evaluate=False,
    )
    second, _ = train(
        out=tmp_path / "b.safetensors",
        seed=7,
        steps=5,
        samples=128,
        init=tmp_path / "a.safetensors",
        train_config=TrainConfig(batch_size=64, warmup=1, lr=1e-3, threads=1, eval_samples=100),
        progress=False,
        evaluate=False,
    )
    card = json.loads((tmp_path / "b.json").read_text())
    assert [s["train_config"]["seed"] for s in stages(card)] == [3, 7]
    again, _ = reproduce(card, tmp_path / "again.safetensors", progress=False)
    assert again.weights_hash == second.weights_hash != first.weights_hash
    assert json.loads((tmp_path / "again.json").read_text())["total_steps"] == 9

    # an independent replicate: every stage moved to new seeds (gaps kept), the card itself untouched
    replicate_card = reseeded(card, 10)
    assert [s["train_config"]["seed"] for s in stages(replicate_card)] == [10, 14]
    assert [s["train_config"]["seed"] for s in stages(card)] == [3, 7]
    replicate, _ = reproduce(replicate_card, tmp_path / "replicate.safetensors", progress=False)
    train(
        out=tmp_path / "t1.safetensors",
        seed=10,
        steps=4,
        samples=128,
        model_config=small,
        train_config=tc,
        progress=False,
        evaluate=False,
    )
    by_hand, _ = train(
        out=tmp_path / "t2.safetensors",
        seed=14,
        steps=5,
        samples=128,
        init=tmp_path / "t1.safetensors",
        train_config=TrainConfig(batch_size=64, warmup=1, lr=1e-3, threads=1, eval_samples=100),
        progress=False,
        evaluate=False,
    )
    assert replicate.weights_hash == by_hand.weights_hash != second.weights_hash
    with pytest.raises(ClipinvError, match="seed must be"):
        reseeded(card, -1)

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["toy", "train", "--out", str(tmp_path / "x.safetensors"), "--like", "toy", "--steps", "3", "--seed", "5"]
    )
    with pytest.raises(ClipinvError, match="drop --steps$"):  # --seed goes with --like; --steps does not
        args.func(args)
    args = parser.parse_args(["toy", "train", "--out", str(tmp_path / "x.safetensors"), "--like", "no-such-model"])
    with pytest.raises(ClipinvError, match="no such model card"):
        args.func(args)
    assert not (tmp_path / "x.safetensors").exists()


def test_reproduce_keeps_each_stages_own_world_and_data_seed(tmp_path):
    """A continuation on a contaminated world (as the ladders' rungs are) reproduces to the same
    weights: its first stage trains clean, its second on the plant; a stage's data seed is kept."""
    from clipinv.worlds.shapes.stages import reproduce, stages, world_of
    from clipinv.worlds.shapes.world import Contamination

    small = ModelConfig(
        vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=16, vision_head_width=16, text_heads=2
    )
    tc = TrainConfig(batch_size=64, warmup=1, threads=1, eval_samples=100)
    kw = {"samples": 128, "model_config": small, "train_config": tc, "progress": False, "evaluate": False}
    train(out=tmp_path / "a.safetensors", seed=3, steps=3, data_seed=0, **kw)
    second, _ = train(
        out=tmp_path / "b.safetensors",
        seed=7,
        steps=3,
        data_seed=0,
        contamination=Contamination(0.5, "triangle"),
        init=tmp_path / "a.safetensors",
        **kw,
    )
    card = json.loads((tmp_path / "b.json").read_text())
    plan = stages(card)
    assert [s["data_seed"] for s in plan] == [0, 0]
    assert [world_of(s["world"])[1] for s in plan] == [None, Contamination(0.5, "triangle")]
    again, _ = reproduce(card, tmp_path / "again.safetensors", progress=False)
    assert again.weights_hash == second.weights_hash
    clean_again, _ = reproduce(
        {
            **card,
            "world": plan[0]["world"],
            "history": [{k: v for k, v in h.items() if k != "world"} for h in card["history"]],
        },
        tmp_path / "clean.safetensors",
        progress=False,
    )
    assert clean_again.weights_hash != second.weights_hash  # the plant is in the weights
