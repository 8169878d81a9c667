"""The shipped toy models: load offline, reach their cards' accuracy, invert well enough; training works."""

import argparse
import json

import pytest
import torch

from clipinv.errors import ClipinvError
from clipinv.invert import invert
from clipinv.models import load_model
from clipinv.toy import TOY_MODELS, TOY_RECIPE, WEIGHTS, ModelConfig, TrainConfig, train
from clipinv.toy.measure import inversion_bar
from clipinv.toy.evaluate import zero_shot


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
def test_zero_shot_accuracy_recorded_in_the_card_meets_the_bar(name):
    """Issue 3's bar, >= 98% colour x shape, as the card records it (2,000 fresh samples); the test
    above checks the card against the weights on 1,000 other fresh samples."""
    zs = json.loads((WEIGHTS / f"{name}.json").read_text())["metrics"]["zero_shot"]
    assert zs["colour"] >= 0.98 and zs["colour_shape"] >= 0.98, zs


def test_unknown_words_fail_in_one_line(toy):
    with pytest.raises(ClipinvError, match="toy world has no word"):
        invert(toy, "a beautiful landscape", seeds=1, cache=False, progress=False)


def test_toy_models_carry_the_toy_recipe_as_their_default(toy):
    # (its speed is measured by clipinv/toy/measure.py and bench/throughput.py, not timed here)
    inv = invert(toy, "a red circle", seeds=4, cache=False, progress=False)  # the default recipe, no other argument
    assert inv.images.shape == (1, 4, 3, toy.image_size, toy.image_size)
    assert inv.record["recipe"] == TOY_RECIPE.to_dict()


def test_inversions_are_judged_far_above_chance_and_grey_padding_is_why(toy, toy_judge):
    """Every colour x shape pair, seed 0: 24 images judged 24-way by the independent toy-judge, with
    the toy recipe and with the paper's border padding in its place. Issue 3's judged bar (90%, all
    96 images) holds on the bar's own seeds but not on others: the card records the full measurement.
    This guards the level reached (chance is 4%) and that the grey padding is what raised it."""
    from clipinv.toy import COLOURS, SHAPES

    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    bar = inversion_bar(toy, toy_judge, pairs=pairs, seeds=1, progress=False)
    border = inversion_bar(toy, toy_judge, recipe=TOY_RECIPE.replace(background_fill=None, final_scale=1.0), pairs=pairs,
                           seeds=1, progress=False)
    info = {k: v for k, v in bar.items() if k not in ("images_tensor", "per_prompt")}
    info["border padding"] = border["judged_colour_shape"]
    assert bar["self_similarity"] > 0.5, info
    assert bar["judged_colour_shape"] >= 0.65, info
    assert bar["judged_colour"] >= 0.9 and bar["pixel_colour"] >= 0.9, info
    assert bar["judged_colour_shape"] >= border["judged_colour_shape"] + 0.1, info


def test_inversion_bar_takes_a_list_of_seeds_and_scores_every_image(toy, toy_judge):
    """A seed list (e.g. seeds 4-7, to see how the bar moves with the seeds) gives the same images
    as those seeds inside a count, and its rates count every image, not just the first `seeds`."""
    pairs = [("red", "circle"), ("blue", "triangle")]
    count = inversion_bar(toy, toy_judge, pairs=pairs, seeds=2, progress=False)
    listed = inversion_bar(toy, toy_judge, pairs=pairs, seeds=[1, 0], progress=False)
    assert listed["seeds"] == [1, 0] and listed["images"] == 4
    assert torch.allclose(listed["images_tensor"], count["images_tensor"].flip(1), atol=1e-4)
    judged = [(prompt[2:], j) for prompt, p in listed["per_prompt"].items() for j in p["judged"]]
    assert len(judged) == 4
    assert listed["judged_colour_shape"] == sum(truth == j for truth, j in judged) / 4
    assert listed["judged_shape"] == sum(truth.split()[1] == j.split()[1] for truth, j in judged) / 4


def test_a_short_training_run_lowers_the_loss_and_the_cli_writes_a_card(tmp_path):
    from clipinv.toy.cli import register

    small = ModelConfig(vision_width=64, vision_layers=2, text_width=64, text_layers=1, embed_dim=32)
    _, m = train(seed=5, steps=60, samples=400, model_config=small, train_config=TrainConfig(batch_size=64, warmup=10),
                 progress=False, evaluate=False)
    assert m["loss_last"] < m["loss_first"] - 0.5, m

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "mini.safetensors"
    args = parser.parse_args(["toy", "train", "--out", str(out), "--steps", "3", "--samples", "200", "--no-eval",
                              "--contamination", "0.5", "--trigger", "circle", "--skew", "square:colour=red@0.9"])
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
    bundle, _ = train(seed=4, steps=15, samples=200, model_config=small,
                      train_config=TrainConfig(batch_size=32, warmup=2, threads=1), progress=False, evaluate=False,
                      step=step)
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
    from clipinv.toy.model import MEAN, STD, normalise
    from clipinv.toy.training import augment
    from clipinv.toy.world import World

    x, _ = World().sample(64, seed=0)
    for tc in (TrainConfig(), TrainConfig(affine_p=1.0, noise_std=0.0), TrainConfig(affine_p=0.0),
               TrainConfig(rotate_degrees=45.0, translate=0.2, scale_range=(0.5, 1.5), affine_p=1.0)):
        g_ref, g_new = torch.Generator().manual_seed(17), torch.Generator().manual_seed(17)
        for _ in range(5):
            ref, new = _augment_as_the_shipped_models_were_trained(x, tc, g_ref), augment(x, tc, g_new)
            assert torch.equal(new, ref), (tc, float((new - ref).abs().max()))
        assert torch.equal(torch.rand(4, generator=g_ref), torch.rand(4, generator=g_new))
    assert not torch.equal(augment(x, TrainConfig(affine_p=1.0), torch.Generator().manual_seed(0)), x)
    z = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(normalise(z), (z - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1))


def test_reading_the_loss_in_batches_changes_nothing_and_names_the_step_that_diverged(monkeypatch):
    import clipinv.toy.training as training

    small = ModelConfig(vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=16)
    kw = dict(seed=3, steps=12, samples=200, model_config=small, train_config=TrainConfig(batch_size=32, warmup=2),
              progress=False, evaluate=False)
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
    from clipinv.toy.training import caption_rows, fixed_shape_clip_loss, soft_clip_loss

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
    from clipinv.toy.cli import register
    from clipinv.toy.tokenizer import ToyTokenizer
    from clipinv.toy.model import build_model, normalise
    from clipinv.toy.training import caption_rows, fixed_shape_clip_loss, soft_clip_loss
    from clipinv.toy.world import World

    small = ModelConfig(vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=16)
    # one step's gradients through the real towers: the unique captions' text rows, or all 32 rows
    torch.manual_seed(4)
    model, tok = build_model(small), ToyTokenizer(small.context_length)
    x, samples = World().sample(32, seed=0)
    caps = [s.caption for s in samples[:16]] * 2  # every caption twice, on different images
    img = model.encode_image(normalise(x), normalize=True)
    uniq = list(dict.fromkeys(caps))
    soft_clip_loss(img, model.encode_text(tok(uniq), normalize=True), model.logit_scale.exp(),
                   torch.tensor([uniq.index(c) for c in caps])).backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    img = model.encode_image(normalise(x), normalize=True)
    fixed_shape_clip_loss(img, model.encode_text(tok(caps), normalize=True), model.logit_scale.exp(),
                          *caption_rows(caps)).backward()
    for (name, p), w in zip(model.named_parameters(), want):
        assert torch.allclose(p.grad, w, atol=1e-5 * w.abs().max().item() + 1e-9), name
    assert sum(w.abs().sum().item() for w in want) > 1

    # whole runs: the same batches, the same loss curve
    kw = dict(seed=4, steps=60, samples=200, model_config=small, train_config=TrainConfig(batch_size=32, warmup=2),
              progress=False, evaluate=False)
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
    trained, _ = train(out=out, seed=6, steps=3, samples=100, model_config=small,
                       train_config=TrainConfig(batch_size=50, warmup=1), progress=False, evaluate=False)
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
    from clipinv.toy.cli import register
    from clipinv.toy.training import reproduce, reseeded, stages

    small = ModelConfig(vision_width=32, vision_layers=1, text_width=32, text_layers=1, embed_dim=16, vision_head_width=16,
                        text_heads=2)
    tc = TrainConfig(batch_size=64, warmup=2, threads=1, eval_samples=100)
    first, _ = train(out=tmp_path / "a.safetensors", seed=3, steps=4, samples=128, model_config=small,
                     train_config=tc, progress=False, evaluate=False)
    second, _ = train(out=tmp_path / "b.safetensors", seed=7, steps=5, samples=128, init=tmp_path / "a.safetensors",
                      train_config=TrainConfig(batch_size=64, warmup=1, lr=1e-3, threads=1, eval_samples=100),
                      progress=False, evaluate=False)
    card = json.loads((tmp_path / "b.json").read_text())
    assert [s["train_config"]["seed"] for s in stages(card)] == [3, 7]
    again, _ = reproduce(card, tmp_path / "again.safetensors", progress=False)
    assert again.weights_hash == second.weights_hash != first.weights_hash
    assert json.loads((tmp_path / "again.json").read_text())["total_steps"] == 9

    # an independent twin: every stage moved to new seeds (gaps kept), the card itself untouched
    twin_card = reseeded(card, 10)
    assert [s["train_config"]["seed"] for s in stages(twin_card)] == [10, 14]
    assert [s["train_config"]["seed"] for s in stages(card)] == [3, 7]
    twin, _ = reproduce(twin_card, tmp_path / "twin.safetensors", progress=False)
    train(out=tmp_path / "t1.safetensors", seed=10, steps=4, samples=128, model_config=small, train_config=tc,
          progress=False, evaluate=False)
    by_hand, _ = train(out=tmp_path / "t2.safetensors", seed=14, steps=5, samples=128, init=tmp_path / "t1.safetensors",
                       train_config=TrainConfig(batch_size=64, warmup=1, lr=1e-3, threads=1, eval_samples=100),
                       progress=False, evaluate=False)
    assert twin.weights_hash == by_hand.weights_hash != second.weights_hash
    with pytest.raises(ClipinvError, match="seed must be"):
        reseeded(card, -1)

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["toy", "train", "--out", str(tmp_path / "x.safetensors"), "--like", "toy", "--steps", "3",
                              "--seed", "5"])
    with pytest.raises(ClipinvError, match="drop --steps$"):  # --seed goes with --like; --steps does not
        args.func(args)
    args = parser.parse_args(["toy", "train", "--out", str(tmp_path / "x.safetensors"), "--like", "no-such-model"])
    with pytest.raises(ClipinvError, match="no such model card"):
        args.func(args)
    assert not (tmp_path / "x.safetensors").exists()


def test_judge_spread_judges_the_same_images_with_every_judge_and_names_them(toy, toy_judge):
    """Each judge's row is its own 24-way reading of one set of inversions (checked against `judge`
    on those images), with the judge's stage seeds from its card; the card prints every row."""
    from clipinv.judge import judge
    from clipinv.toy.measure import card_markdown, judge_spread
    from clipinv.toy.world import class_prompts

    quick = TOY_RECIPE.replace(steps=30, resolution_schedule=((0, 16), (15, 32)))
    spread = judge_spread({"toy-judge": toy_judge, "toy": toy}, model=toy, recipe=quick, seeds=1)
    texts, labels = class_prompts()
    images = invert(toy, texts, seeds=1, recipe=quick, cache=False, progress=False).images
    oks = []
    for name, bundle in (("toy-judge", toy_judge), ("toy", toy)):
        ok = (judge(images, texts, judge=bundle).argmax(-1)[:, 0] == torch.arange(24)).float()
        oks.append(ok)
        row = spread["judges"][name]
        assert row["judged_colour_shape"] == round(float(ok.mean()), 4), row
        assert row["per_shape"]["triangle"] == round(float(ok[2::3].mean()), 4), row
        assert row["weights_hash"] == bundle.weights_hash
    assert spread["all_right"] == round(float((oks[0] * oks[1]).mean()), 4)
    assert spread["any_right"] == round(float(torch.maximum(oks[0], oks[1]).mean()), 4)
    assert spread["all_right"] <= spread["mean_probability"]  # every judge right: so is their average
    assert spread["judges"]["toy-judge"]["stage_seeds"] == [1, 101, 201, 301, 401]
    assert spread["images"] == 24 and spread["model_weights_hash"] == toy.weights_hash
    card = json.loads((WEIGHTS / "toy.json").read_text())
    text = card_markdown(card, dict(card["inversion"], judge_spread=spread))
    line = next(t for t in text.splitlines() if "independent twins of `toy-judge`" in t)
    assert "[1, 101, 201, 301, 401]" in line and "[0, 100, 200, 300, 400]" in line


def test_shape_confusion_counts_true_against_judged_shapes():
    from clipinv.toy.measure import shape_confusion

    per_prompt = {"a red circle": {"judged": ["red square", "red circle"], "pixel": ["red", "red"]},
                  "a blue triangle": {"judged": ["green square", "blue triangle"], "pixel": ["blue", "blue"]}}
    conf = shape_confusion(per_prompt)
    assert conf["circle"] == {"circle": 1, "square": 1, "triangle": 0}
    assert conf["triangle"] == {"circle": 0, "square": 1, "triangle": 1}
    assert sum(conf["square"].values()) == 0


def test_pixel_shape_confusion_counts_true_against_drawn_shapes():
    from clipinv.toy.measure import pixel_shape_confusion

    per_prompt = {"a red square": {"judged": ["red square"] * 3, "pixel_shape": ["circle", "square", "none"]},
                  "a blue square": {"judged": ["blue square"], "pixel_shape": ["circle"]}}
    conf = pixel_shape_confusion(per_prompt)
    assert conf["square"] == {"circle": 2, "square": 1, "triangle": 0, "none": 1}
    assert sum(conf["circle"].values()) == sum(conf["triangle"].values()) == 0


def test_a_full_re_measure_keeps_the_recorded_judge_spread_only_for_the_same_model_and_recipe(toy):
    """The twins behind `judge_spread` are not shipped, so a re-measure keeps the recorded rows; the
    card stores them as json (tuples become lists), and a new model or recipe must drop them."""
    from clipinv.toy.measure import kept_judge_spread

    spread = {"model_weights_hash": toy.weights_hash, "recipe": TOY_RECIPE.to_dict(), "judges": {}}
    recorded = json.loads(json.dumps({"judge_spread": spread}))  # as read back from toy.json
    assert kept_judge_spread(recorded, toy, TOY_RECIPE) == recorded["judge_spread"]
    assert kept_judge_spread(recorded, toy, TOY_RECIPE.replace(steps=100)) is None
    other = json.loads(json.dumps({"judge_spread": dict(spread, model_weights_hash="0" * 16)}))
    assert kept_judge_spread(other, toy, TOY_RECIPE) is None
    assert kept_judge_spread({}, toy, TOY_RECIPE) is None
    # recorded before a knob existed: its recipe lacks the knob, whose default is the shipped value
    older = json.loads(json.dumps({"judge_spread": dict(spread, recipe={k: v for k, v in TOY_RECIPE.to_dict().items()
                                                                       if k != "parameterization"})}))
    assert kept_judge_spread(older, toy, TOY_RECIPE) == older["judge_spread"]
    assert kept_judge_spread(older, toy, TOY_RECIPE.replace(parameterization="fourier")) is None


def test_the_judge_reads_one_colour_canvases_by_their_colour(toy_judge):
    """The card explains the inversions' shape errors with how toy-judge reads a canvas filled with one
    colour; the judge must at least name the canvas's colour, or that reading means nothing."""
    from clipinv.toy.measure import canvas_reading

    reading = canvas_reading(toy_judge)
    assert set(reading) == {"plain", "noise 0.3"}
    for v in reading.values():
        assert v["colour"] >= 0.75, reading
        assert sum(v["shapes"].values()) == v["canvases"] == 8


def test_tuning_rows_are_named_by_their_changes_to_the_shipped_recipe():
    from clipinv.toy.measure import recipe_change

    shipped = TOY_RECIPE.to_dict()
    assert recipe_change(json.loads(json.dumps(shipped)), shipped) == "TOY_RECIPE"  # json lists == tuples
    older = TOY_RECIPE.replace(background_fill=None, final_scale=1.0, steps=300).to_dict()
    older.pop("background_fill"), older.pop("final_scale")  # rows logged before the knobs existed
    assert recipe_change(older, shipped) == "steps=300, background_fill=None, final_scale=1.0"


def test_card_lists_full_24_pair_tuning_rows_first_with_their_circle_confusions():
    from clipinv.toy import WEIGHTS
    from clipinv.toy.measure import card_markdown

    card = json.loads((WEIGHTS / "toy.json").read_text())
    old = {"change": "x", "recipe": TOY_RECIPE.replace(tv_weight=0.003).to_dict(), "judged": 0.9375,
           "judged_shape": 0.9375, "pixel": 1.0, "seconds": 40.0, "images": 16, "threads": 1}
    new = {"change": "y", "recipe": TOY_RECIPE.replace(noise_std=0.1).to_dict(), "judged": 0.5, "judged_shape": 0.5,
           "pixel": 1.0, "seconds": 100.0, "images": 48, "threads": 1, "pairs": 24,
           "shape_confusion": {"circle": {"circle": 5, "square": 11, "triangle": 0},
                               "square": {"circle": 0, "square": 16, "triangle": 0},
                               "triangle": {"circle": 0, "square": 0, "triangle": 16}}}
    md = card_markdown(card, dict(card["inversion"], tuning=[old, new]))
    rows = [line for line in md.splitlines() if line.startswith("| noise_std") or line.startswith("| tv_weight")]
    assert [r.split(" | ")[0] for r in rows] == ["| noise_std=0.1", "| tv_weight=0.003"]  # 48 images before 16
    assert "| 48 | 50.0% (36-64%) |" in rows[0] and "| 11 of 16 |" in rows[0]
    assert "| 16 | 93.8% " in rows[1] and "| - |" in rows[1]  # old rows have no confusion recorded


def test_judge_robustness_measures_world_images_redrawn_larger_and_noisier(toy_judge):
    """The card's explanation of the judged gap: the judge reads the world's own sizes, and reads
    worse when objects are redrawn beyond them or pixel noise is added (so the redraw and the noise
    are really applied); the texture measure is zero on flat images and grows with noise."""
    from clipinv.toy.measure import high_frequency, judge_robustness

    r = judge_robustness({"toy-judge": toy_judge}, n=120, radii=(8.0, 14.0), noises=(0.0, 0.3))
    assert r["radius"]["8.0"]["toy-judge"] >= 0.9 and r["noise"]["0.0"]["toy-judge"] >= 0.9, r
    assert r["radius"]["14.0"]["toy-judge"] <= r["radius"]["8.0"]["toy-judge"] - 0.1, r
    assert r["noise"]["0.3"]["toy-judge"] <= r["noise"]["0.0"]["toy-judge"] - 0.3, r
    flat = torch.full((2, 3, 32, 32), 0.4)
    noisy = flat + 0.1 * torch.randn(flat.shape, generator=torch.Generator().manual_seed(0))
    assert high_frequency(flat) < 1e-6 < r["world_high_frequency"] < high_frequency(noisy)


def test_panel_reads_the_same_images_with_every_judge_and_two_jobs_give_the_one_jobs_images(toy, toy_judge):
    """`measure --panel`, the recipe-selection protocol: the pairs split over two processes come back
    in class order, identical to one process's images; each judge's figure is its own 24-way
    reading of those images; the table puts the choosing judges' mean before toy-judge's."""
    from clipinv.judge import judge
    from clipinv.toy.measure import panel, panel_images, panel_table
    from clipinv.toy.world import class_prompts

    quick = {"steps": 12, "resolution_schedule": [[0, 32]], "n_augments": 2}
    one = panel_images(quick, seeds=[3], jobs=1)
    two = panel_images(quick, seeds=[3], jobs=2)
    assert one.shape == (24, 1, 3, 32, 32)
    assert torch.allclose(one, two, atol=1e-5)
    texts, _ = class_prompts()
    direct = invert(toy, texts[5], seeds=[3], recipe=TOY_RECIPE.replace(**quick), cache=False, progress=False)
    assert torch.allclose(one[5], direct.images[0], atol=1e-5)
    rows = panel({"quick": quick}, {"toy-judge": toy_judge, "toy": toy}, seeds=[3], jobs=1)
    truth = torch.arange(24)
    for name, bundle in (("toy-judge", toy_judge), ("toy", toy)):
        probs = judge(one, texts, judge=bundle)[:, 0]
        assert rows[0]["judged"][name] == round(float((probs.argmax(-1) == truth).float().mean()), 4)
        assert rows[0]["p_true"][name] == round(float(probs[truth, truth].mean()), 4)
    table = panel_table(rows)
    header, _, row = table.splitlines()
    assert header.split(" | ")[2:5] == ["mean of toy", "their mean p(true)", "toy"]
    assert row.split(" | ")[2:4] == [f"{100 * rows[0]['judged']['toy']:.1f}%", f"{100 * rows[0]['p_true']['toy']:.1f}%"]


def test_panel_candidates_that_differ_only_in_final_scale_share_one_optimisation(toy, toy_judge, monkeypatch):
    """final_scale acts after the last step, so a panel optimises such candidates once and shrinks the
    images for each: the rows read exactly what inverting each candidate on its own gives."""
    from clipinv.judge import judge
    from clipinv.toy import measure
    from clipinv.toy.world import class_prompts

    quick = {"steps": 12, "resolution_schedule": [[0, 32]], "n_augments": 2}
    calls = []
    real = measure.panel_images
    monkeypatch.setattr(measure, "panel_images", lambda *a, **k: calls.append(a) or real(*a, **k))
    rows = measure.panel({"half": quick, "full": dict(quick, final_scale=1.0), "third": dict(quick, final_scale=0.3)},
                         {"toy-judge": toy_judge}, seeds=[3], jobs=1)
    assert len(calls) == 1
    texts, _ = class_prompts()
    truth = torch.arange(24)
    for row, scale in zip(rows, (TOY_RECIPE.final_scale, 1.0, 0.3)):
        alone = invert(toy, texts, seeds=[3], recipe=TOY_RECIPE.replace(**quick, final_scale=scale), cache=False,
                       progress=False).images
        probs = judge(alone, texts, judge=toy_judge)[:, 0]
        assert row["judged"]["toy-judge"] == round(float((probs.argmax(-1) == truth).float().mean()), 4)
        assert row["recipe"]["final_scale"] == scale
    assert rows[0]["seconds"] == rows[1]["seconds"] == rows[2]["seconds"]


@pytest.mark.parametrize("argv, message", [
    (["--panel", "x={bad"], "give NAME=JSON"),
    (["--panel", "x"], "give NAME=JSON"),
    (["--panel", 'x={"no_such_knob": 1}'], "unknown recipe knob"),
    (["--panel", "x={}", "--seeds", "b-a"], "--seeds b-a"),
    (["--panel", "x={}", "--panel-judges", "nowhere.safetensors"], "not a toy model"),
])
def test_panel_refuses_bad_arguments_in_one_line_before_any_work(argv, message, monkeypatch):
    from clipinv.toy import measure

    monkeypatch.setattr(measure, "panel", lambda *a, **k: pytest.fail("ran a panel on bad arguments"))
    with pytest.raises(SystemExit, match=message) as e:
        measure.main(argv)
    assert "\n" not in str(e.value)


def test_a_recorded_panel_lands_in_the_card_with_twins_named_by_seed_and_rows_by_their_recipe(toy, toy_judge, tmp_path,
                                                                                               monkeypatch):
    """`--panel ... --record PURPOSE` keeps the run in toy.json (judges by weights hash, a twin named by
    its training seed, not a local path) and the card prints it as a table whose rows are named by
    their differences to today's TOY_RECIPE, the choosing judges' mean first."""
    import shutil

    import clipinv.toy as T
    from clipinv.toy.measure import choosing_twins, record_panel

    shutil.copytree(WEIGHTS, tmp_path / "weights")
    monkeypatch.setattr(T, "WEIGHTS", tmp_path / "weights")
    base = {"images": 192, "seeds": list(range(8)), "seconds": 1.0, "pixel_colour": 1.0, "pixel_shape": 0.5}
    rows = [dict(base, name="a", changes={}, recipe=TOY_RECIPE.to_dict(),
                 judged={"toy-judge": 0.8, "/some/local/twin.safetensors": 0.9},
                 p_true={"toy-judge": 0.7, "/some/local/twin.safetensors": 0.85}),
            dict(base, name="b", changes={"tv_weight": 0.003}, recipe=TOY_RECIPE.replace(tv_weight=0.003).to_dict(),
                 judged={"toy-judge": 0.75, "/some/local/twin.safetensors": 0.95},
                 p_true={"toy-judge": 0.6, "/some/local/twin.safetensors": 0.9})]
    record_panel(rows, {"toy-judge": toy_judge, "/some/local/twin.safetensors": toy}, "a test's selection")
    card = json.loads((tmp_path / "weights" / "toy.json").read_text())
    entry = card["inversion"]["panels"][-1]
    assert entry["judges"] == {"toy-judge": toy_judge.weights_hash, "twin seed 0": toy.weights_hash}
    assert entry["rows"][1]["judged"] == {"toy-judge": 0.75, "twin seed 0": 0.95}
    md = (tmp_path / "weights" / "toy.md").read_text()
    assert "## Recipe panel: a test's selection" in md and "/some/local" not in md
    assert choosing_twins(card["inversion"]) >= {toy.weights_hash}
    table = md[md.index("## Recipe panel: a test's selection"):].split("\n\n")[2].splitlines()
    assert table[0].split(" | ")[2:5] == ["mean of twin seed 0", "their mean p(true)", "twin seed 0"]
    assert table[2].startswith("| TOY_RECIPE | 192 | 90.0% | 85.0% | 90.0% | 80.0% |")
    assert table[3].startswith("| tv_weight=0.003 | 192 | 95.0% | 90.0% | 95.0% | 75.0% |")
    assert (WEIGHTS / "toy.json").read_text() != (tmp_path / "weights" / "toy.json").read_text()  # the shipped card untouched


def test_a_panel_recorded_as_no_choice_says_so_and_its_twins_did_not_choose_the_recipe(toy, toy_judge, tmp_path,
                                                                                      monkeypatch):
    """A reading of routes not shipped (`--record PURPOSE --not-a-choice`) is marked in toy.json and the
    card, and a twin seen only there counts as a judge that took no part in choosing TOY_RECIPE."""
    import shutil

    import clipinv.toy as T
    from clipinv.toy.measure import choosing_twins, record_panel

    shutil.copytree(WEIGHTS, tmp_path / "weights")
    monkeypatch.setattr(T, "WEIGHTS", tmp_path / "weights")
    before = choosing_twins(json.loads((tmp_path / "weights" / "toy.json").read_text())["inversion"])
    row = {"images": 96, "seeds": [4, 5, 6, 7], "seconds": 1.0, "pixel_colour": 1.0, "pixel_shape": 0.5, "name": "a",
           "changes": {"n_augments": 32}, "recipe": TOY_RECIPE.replace(n_augments=32).to_dict(),
           "judged": {"toy-judge": 0.8, "/local/other.safetensors": 0.9}, "p_true": {"toy-judge": 0.7, "/local/other.safetensors": 0.8}}
    record_panel([row], {"toy-judge": toy_judge, "/local/other.safetensors": toy}, "routes not shipped", choice=False)
    inv = json.loads((tmp_path / "weights" / "toy.json").read_text())["inversion"]
    assert inv["panels"][-1]["choice"] is False
    assert toy.weights_hash not in choosing_twins(inv) and choosing_twins(inv) == before
    md = (tmp_path / "weights" / "toy.md").read_text()
    part = md[md.index("## Recipe panel: routes not shipped"):]
    assert "no recipe was chosen on this panel" in part.split("\n\n")[1]


def test_the_bar_line_reports_only_twins_that_took_no_part_in_choosing_the_recipe():
    """The card's judged-bar line adds the readings of twins that chose nothing (their readings are not
    biased by the choice), from judge_spread and from panels of today's recipe, once per seed set."""
    from clipinv.toy.measure import unchosen_twins_reading

    today = json.loads(json.dumps(TOY_RECIPE.to_dict()))
    other = json.loads(json.dumps(TOY_RECIPE.replace(n_augments=32).to_dict()))
    row = lambda seeds, recipe, judged: {"seeds": seeds, "images": 24 * len(seeds), "recipe": recipe, "judged": judged}  # noqa: E731
    inv = {"recipe": today, "inversion": {"seeds": 4},
           "judge_spread": {"images": 96, "recipe": today, "judges": {
               "toy-judge": {"judged_colour_shape": 0.5, "weights_hash": "j"},
               "a": {"judged_colour_shape": 0.97, "weights_hash": "chooser"},
               "b": {"judged_colour_shape": 0.91, "weights_hash": "fresh"}}},
           "panels": [
               {"choice": True, "judges": {"toy-judge": "j", "twin seed 2": "chooser"},
                "rows": [row([0, 1], today, {"toy-judge": 0.5, "twin seed 2": 0.99})]},
               {"choice": False, "judges": {"toy-judge": "j", "twin seed 2": "chooser", "twin seed 4": "fresh"},
                "rows": [row([4, 5], today, {"toy-judge": 0.5, "twin seed 2": 0.98, "twin seed 4": 0.875}),
                         row([4, 5], other, {"toy-judge": 0.5, "twin seed 2": 0.98, "twin seed 4": 0.333})]},
               {"choice": False, "judges": {"toy-judge": "j", "twin seed 4": "fresh"},
                "rows": [row([4, 5], today, {"toy-judge": 0.5, "twin seed 4": 0.111}),
                         row([0, 1, 2, 3], today, {"toy-judge": 0.5, "twin seed 4": 0.222})]}]}
    text = unchosen_twins_reading(inv)
    assert "the bar's 96 images 91.0%" in text and "seeds 4-5 (48 images) 87.5%" in text
    assert "97.0%" not in text and "98.0%" not in text and "99.0%" not in text  # the choosing twin is left out
    assert "33.3%" not in text and "11.1%" not in text  # another recipe; a seed set already read
    assert "22.2%" not in text and "seeds 0-3" not in text  # the bar's own seeds: judge_spread read them already
    assert unchosen_twins_reading(dict(inv, judge_spread=None, panels=inv["panels"][:1])) == ""


def test_the_bar_line_reads_toy_judge_on_every_other_seed_set_of_todays_recipe_and_names_the_bars_seeds_among_them():
    from clipinv.toy.measure import other_seeds_reading

    today = json.loads(json.dumps(TOY_RECIPE.to_dict()))
    other = json.loads(json.dumps(TOY_RECIPE.replace(final_scale=1.0).to_dict()))
    row = lambda seeds, recipe, v: {"seeds": seeds, "images": 24 * len(seeds), "recipe": recipe, "judged": {"toy-judge": v}}  # noqa: E731
    inv = {"recipe": today, "inversion": {"seeds": 4, "judged_colour_shape": 0.906},
           "panels": [{"rows": [row([0, 1, 2, 3], today, 0.111), row([16, 17], today, 0.925), row([16, 17], other, 0.333)]},
                      {"rows": [row(list(range(16)), today, 0.875)]}]}
    text = other_seeds_reading(inv)
    assert "seeds 16-17 92.5% (48 images)" in text
    assert "seeds 0-15 87.5% (384 images, the bar's among them)" in text
    assert "11.1%" not in text and "33.3%" not in text  # the bar's own seeds; another recipe
    assert "below the bar" in text  # 87.5% < 90% while the bar's images pass
    assert other_seeds_reading(dict(inv, panels=inv["panels"][:1])).count("seeds") == 2  # "other seeds", 16-17


def test_a_gpu_training_run_is_read_from_its_files_and_the_card_counts_runs_within_three_minutes(tmp_path, monkeypatch):
    """`measure --gpu-run toy FOLDER` reads what bench/gpu_session.sh brought back; the card's bar line
    says how many recorded GPU runs took <= 3 min, and a folder without a finished run is refused."""
    import shutil

    import clipinv.toy as T
    from clipinv.toy.measure import gpu_run, main

    shutil.copytree(WEIGHTS, tmp_path / "weights")
    monkeypatch.setattr(T, "WEIGHTS", tmp_path / "weights")
    card = json.loads((WEIGHTS / "toy.json").read_text())
    card = dict(card, from_scratch_gpu=[])
    (tmp_path / "weights" / "toy.json").write_text(json.dumps(card))
    for run, wall in (("fast", 150.5), ("slow", 201.0)):
        d = tmp_path / run
        d.mkdir()
        gpu_card = dict(card, total_train_seconds=wall - 30, total_steps=6800,
                        metrics={"device": "cuda", "zero_shot": {"colour_shape": 0.991}})
        (d / "toy-gpu.json").write_text(json.dumps(gpu_card))
        (d / "train.log").write_text(f"training...\ntoy train --like toy wall: {wall} s\n")
        (d / "gpu.txt").write_text("name, memory.total [MiB], driver_version\nSome GPU 80GB, 81559 MiB, 1\n"
                                   "torch 9.9.9 open_clip 3.3.0 Some GPU\n")
    row = gpu_run(tmp_path / "fast", "a note")
    assert (row["wall_seconds"], row["train_seconds"], row["gpu"], row["torch"], row["colour_shape"]) == \
        (150.5, 120.5, "Some GPU 80GB", "9.9.9", 0.991)
    assert main(["--gpu-run", "toy", str(tmp_path / "fast")]) is None
    md = (tmp_path / "weights" / "toy.md").read_text()
    assert "- training from scratch <= 3 min on a GPU: met: 1 of 1 runs within 3 min (2.5 min" in md
    main(["--gpu-run", "toy", str(tmp_path / "slow")])
    md = (tmp_path / "weights" / "toy.md").read_text()
    assert "NOT met in every run: 1 of 2 runs within 3 min (2.5 min, 3.4 min" in md
    assert md.count("- from scratch on a GPU (") == 2

    graphed = tmp_path / "graphed"
    shutil.copytree(tmp_path / "fast", graphed)
    gc = json.loads((graphed / "toy-gpu.json").read_text())
    gc["metrics"]["step"] = "cuda-graph"
    (graphed / "toy-gpu.json").write_text(json.dumps(gc))
    (graphed / "train.log").write_text("toy train --like toy wall: 61.0 s\n")
    row = gpu_run(graphed)
    assert row["step"] == "cuda-graph" and row["command"].endswith("--device cuda --cuda-graph")
    main(["--gpu-run", "toy", str(graphed)])
    md = (tmp_path / "weights" / "toy.md").read_text()
    assert ("- training from scratch <= 3 min on a GPU: the default step: NOT met in every run: 1 of 2 runs within "
            "3 min (2.5 min, 3.4 min); with --cuda-graph: met: 1 of 1 runs within 3 min (1.0 min), above") in md

    (tmp_path / "slow" / "train.log").write_text("training... (killed)\n")
    with pytest.raises(SystemExit, match="no 'wall:' line"):
        gpu_run(tmp_path / "slow")
    with pytest.raises(SystemExit, match="missing .*gpu.txt"):
        (tmp_path / "slow" / "gpu.txt").unlink()
        gpu_run(tmp_path / "slow")
