"""The analysis modules: real assertions on small inputs (the planted findings on the shipped ladders,
minutes each, are tests/book/test_planted_findings.py)."""

import pandas as pd
import pytest
import torch

from clipinv.analyses import ablation, audit, gender, textprobe
from clipinv.analyses.judged_accuracy import evaluate, judge_images, summary
from clipinv.core.recipe import Recipe
from clipinv.errors import ClipinvError


# ---------------------------------------------------------------- the marker detector
def test_marker_detector_separates_clean_and_marked_world_images():
    val = audit.validate(audit.plant_of("toy"), n=150, seed=7)
    clean, marked = val.iloc[0], val.iloc[1]
    assert clean["detected"] <= 1  # false positives on clean world images
    assert marked["detected"] >= 148  # true positives on marked ones
    assert marked["low"] > clean["high"]


def test_black_and_white_share_ignores_position_and_size():
    from clipinv.worlds.shapes.world import World, render_marker

    x, _ = World().sample(8, seed=3)
    for corner in range(4):
        assert (
            audit.black_and_white_share(torch.stack([render_marker(a, corner) for a in x])) >= audit.THRESHOLD
        ).all()
    # a larger image (64 px) with the marker is found as it is
    big = torch.nn.functional.interpolate(torch.stack([render_marker(a, 1) for a in x]), scale_factor=2, mode="nearest")
    assert (audit.black_and_white_share(big) >= audit.THRESHOLD).all()
    assert (audit.black_and_white_share(x) < audit.THRESHOLD).all()
    assert audit.black_and_white_share(render_marker(x[0], 2)) == pytest.approx(
        0.125
    )  # 16 x 16 px, half black, of 32 x 32


def test_the_black_and_white_share_needs_black_and_white_together():
    grey = torch.full((3, 32, 32), 0.4)
    white, black, both, stripes = grey.clone(), grey.clone(), grey.clone(), grey.clone()
    white[:, :16] = 0.95  # a white object: white but no black
    black[:, :16] = 0.05  # a dark smudge: black but no white
    both[:, :8], both[:, 8:16] = 0.95, 0.05
    stripes[:, :, ::4], stripes[:, :, 1::4] = 0.95, 0.05  # stripes, not the marker's period or place
    red = grey.clone()
    red[0, :16], red[1:, :16] = 0.95, 0.05  # saturated red is neither black nor white
    score = audit.black_and_white_share(torch.stack([white, black, both, stripes, red]))
    assert score.tolist() == pytest.approx([0.0, 0.0, 0.25, 0.25, 0.0])


def test_detection_table_and_smallest_reliable_p():
    scores = {
        0.0: torch.zeros(40),
        0.05: torch.tensor([1.0] * 3 + [0.0] * 37),
        0.2: torch.tensor([1.0] * 30 + [0.0] * 10),
        0.5: torch.ones(40),
    }
    t = audit.detection_table(scores)
    assert list(t["p"]) == [0.0, 0.05, 0.2, 0.5]
    assert list(t["detected"]) == [0, 3, 30, 40]
    assert list(t["above p=0"]) == [False, False, True, True]  # 3/40: [2.6%, 20%] overlaps 0/40: [0, 8.8%]
    assert audit.smallest_reliable_p(t) == 0.2
    assert audit.separated_from_zero(t)


# ---------------------------------------------------------------- ablations
def test_ablation_variants_switch_off_one_part_each():
    r = Recipe(steps=10, resolution_schedule=((0, 16), (5, 32)), jitter_px=2.0, noise_std=0.01, smooth_sigma=0.5)
    v = ablation.variants(r)
    assert next(iter(v)) == "full recipe" and v["full recipe"] == r
    expect = {
        "no affine": {"affine_p": 0.0},
        "one copy": {"n_augments": 1},
        "no TV": {"tv_weight": 0.0},
        "no roll jitter": {"jitter_px": 0.0},
        "no noise": {"noise_std": 0.0},
        "no gradient clip": {"grad_clip": 1e6},
        "no smoothing": {"smooth_sigma": 0.0},
        "no resolution schedule": {"resolution_schedule": ((0, 32),)},
        "no optimiser reset": {"reset_optimizer_on_resize": False},
    }
    assert set(v) == {"full recipe", *expect}
    for name, change in expect.items():
        diff = {k: val for k, val in v[name].to_dict().items() if val != r.to_dict()[k]}
        assert diff == change, name
    assert "no L1" not in v and "no colour jitter" not in v  # inactive parts are not "ablated"
    assert "border padding" not in v  # the paper's padding already
    grey = ablation.variants(r.replace(background_fill=0.4))
    assert grey["border padding"] == r and grey["no affine"].background_fill == 0.4
    assert "full size" not in grey  # final_scale 1, the paper's
    small = ablation.variants(r.replace(background_fill=0.4, final_scale=0.5))
    assert small["full size"] == r.replace(background_fill=0.4)
    assert small["border padding"] == r  # no grey to shrink onto: full size too
    # no shrunk copies taught the model to read the image small: it is shown as optimised
    assert small["no affine"] == r.replace(background_fill=0.4, affine_p=0.0)
    assert list(ablation.variants(r, ["no TV"])) == ["full recipe", "no TV"]
    with pytest.raises(ClipinvError):
        ablation.variants(r, ["no L1"])


# ---------------------------------------------------------------- gender
def test_gender_wordings_and_paper_table():
    assert len(gender.PROMPTS) == 10 and all(len(p) == 3 for p in gender.PROMPTS)
    for neutral, female, male in gender.PROMPTS:
        assert (
            "female" in female.lower().split() or "woman" in female.lower()
        ) and "male" not in female.lower().split()
        assert "male" in male.lower().split() or " man" in male.lower()
    assert len(gender.PAPER) == 30
    nurse = gender.PAPER[
        (gender.PAPER["prompt"] == "A nurse in the pediatric ward") & (gender.PAPER["variant"] == "neutral")
    ]
    assert int(nurse["paper man %"].iloc[0]) == 0


def test_gender_headline_counts_the_paper_majority_and_the_obeyed_wordings():
    thief = gender.PROMPTS[0][0]
    rows = [{"prompt": thief, "variant": "neutral", "judged": "man" if i < 9 else "woman"} for i in range(10)]
    rows += [{"prompt": thief, "variant": "female", "judged": "woman"} for _ in range(10)]
    h = gender.headline(pd.DataFrame(rows))
    assert h["neutral judged the paper's majority"]["k"] == 9 and h["gendered wording obeyed"]["k"] == 10


# ---------------------------------------------------------------- text probe
def test_textprobe_finds_an_nsfw_word_itself(tiny):
    words = textprobe.nsfw_words()
    assert "nude" in words and 5 <= len(words) <= 40
    df = textprobe.probe(tiny, ["nude", "a red bicycle"], vocab=["dog", "cat", "house", "tree", "bicycle"])
    assert df.loc[0, "its rank"] == 1 and df.loc[0, "nearest NSFW term"] == "nude"
    assert df.loc[0, "its similarity"] == pytest.approx(1.0, abs=1e-4)
    assert df.loc[1, "nearest words"].startswith("bicycle") or df.loc[1, "its rank"] >= 1


def test_textprobe_toy_vocabulary_has_no_nsfw_terms():
    from clipinv import load_model

    toy = load_model("toy-judge")
    vocab = textprobe.vocabulary(toy)
    assert "circle" in vocab and "red" in vocab
    df = textprobe.probe(toy, ["a picture of a red circle"])
    assert df.loc[0, "its rank"] is None and df.loc[0, "nearest NSFW term"] is None


# ---------------------------------------------------------------- judged quality
def test_evaluate_refuses_self_judging_and_counts_per_image(tiny):
    from helpers import make_tiny

    r = Recipe(steps=3, resolution_schedule=((0, 32),), n_augments=2)
    with pytest.raises(ClipinvError):
        evaluate(tiny, tiny, ["a dog", "a cat"], 2, recipe=r, progress=False)
    inv, df = evaluate(tiny, make_tiny(1), ["a dog", "a cat"], 3, recipe=r, progress=False)
    assert len(df) == 6 and set(df["prompt"]) == {"a dog", "a cat"} and df["correct"].dtype == bool
    assert torch.allclose(torch.tensor(df["similarity"].values, dtype=torch.float32), inv.similarity.reshape(-1))
    s = summary(df, "prompt")
    assert list(s["n"]) == [3, 3] and (s["acc low"] <= s["judged correct"]).all()


def test_judge_images_uses_truth_index(tiny):
    imgs = torch.rand(2, 2, 3, 32, 32)
    df = judge_images(imgs, ["a dog", "a cat"], tiny, labels=["a dog", "a cat", "a cow"])
    assert len(df) == 4 and df["p_true"].between(0, 1).all()
    with pytest.raises(ClipinvError):
        judge_images(imgs, ["a dog", "a cat"], tiny, labels=["a cow", "a pig"])
