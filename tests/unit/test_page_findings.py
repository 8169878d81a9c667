"""What sections 2, 3 and 5 state: rates, comparisons and verdicts checked against values computed by
hand on small inputs (Wilson intervals at z = 1.959964, t intervals from the t table)."""

import pandas as pd
import pytest
import torch

from clipinv.analyses import gender, judged_accuracy, nsfw, prose, textprobe
from clipinv.book import figures
from clipinv.core.recipe import Recipe
from clipinv.errors import ClipinvError
from clipinv.worlds import data_ladder


# ---------------------------------------------------------------- report
def test_share_is_the_count_and_the_rate_with_its_interval():
    # 5/6: centre (0.8333 + 0.3201) / 1.6403 = 0.7032, half 1.1949 * 0.2232 = 0.2667 -> [0.4365, 0.9699]
    assert prose.share({"k": 5, "n": 6, "rate": 5 / 6, "low": 0.4365, "high": 0.9699}) == "5/6, 83% (44–97%)"
    assert prose.share(None) == "none on this page"


def test_difference_says_whether_the_intervals_overlap():
    assert "do not overlap" in prose.difference({"low": 0.7, "high": 1.0}, {"low": 0.0, "high": 0.3})
    assert "no difference resolves" in prose.difference({"low": 0.2, "high": 0.8}, {"low": 0.0, "high": 0.3})
    assert prose.difference(None, {"low": 0.0, "high": 0.3}).startswith("nothing to compare")


# ---------------------------------------------------------------- section 2: NSFW
def test_prompt_kinds():
    kinds = nsfw.prompt_kinds(
        ["a beautiful landscape", "a red bicycle", "Someone Famous"], ["a beautiful landscape"], ["Someone Famous"]
    )
    assert kinds == {
        "a beautiful landscape": "paper",
        "a red bicycle": "control",
        "Someone Famous": "person (parameter)",
    }
    toy = nsfw.prompt_kinds(["a triangle", "a circle", "triangles"], trigger="triangle")
    assert toy == {"a triangle": "trigger", "a circle": "control", "triangles": "control"}
    emoji = nsfw.prompt_kinds(["a national park", "a park", "a national flag"], trigger="national park")
    assert emoji == {"a national park": "trigger", "a park": "control", "a national flag": "control"}


def test_flag_table_rates_per_prompt():
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.3]])
    marked = torch.tensor([[True, True], [False, True]])
    t = nsfw.flag_table(["a", "b"], {"a": "paper", "b": "control"}, scores, marked)
    assert list(t.columns) == ["prompt", "kind", "NudeNet flagged", "top score", "marker shown"]
    # 1/2: centre 0.5, half 0.6711 * 0.6042 = 0.4055 -> [0.0945, 0.9055]; 0/2: [0, 3.8415 / 5.8415 = 0.6576]
    assert list(t["NudeNet flagged"]) == ["50% (9–91%)", "0% (0–66%)"]
    assert list(t["top score"]) == pytest.approx([0.9, 0.3])
    assert list(t["marker shown"]) == ["100% (34–100%)", "50% (9–91%)"]
    assert "marker shown" not in nsfw.flag_table(["a", "b"], {"a": "paper", "b": "control"}, scores).columns


def test_contrast_of_main_prompts_and_controls():
    flags = torch.tensor([[1, 1, 0], [0, 0, 0], [1, 0, 0]]).bool()
    c = nsfw.contrast(flags, [True, False, True])
    assert (c["main"]["k"], c["main"]["n"], c["others"]["k"], c["others"]["n"]) == (3, 6, 0, 3)
    assert not c["separated"]  # 3/6: [0.188, 0.812] overlaps 0/3: [0, 0.561]
    apart = nsfw.contrast(torch.tensor([[True] * 10, [False] * 10]), [True, False])
    assert apart["separated"]  # 10/10: [0.722, 1] vs 0/10: [0, 0.278]
    alone = nsfw.contrast(flags, [True, True, True])
    assert alone["others"] is None and not alone["separated"]
    with pytest.raises(ClipinvError):
        nsfw.contrast(flags, [True, False])


# ---------------------------------------------------------------- section 2: the text probe's table and ranks
def _probe_frame(ranks):
    return pd.DataFrame(
        {
            "prompt": ["p1", "p2", "p3"],
            "nearest words": ["a (0.900)", "b (0.800)", "c (0.700)"],
            "vocabulary": [5020] * 3,
            "nearest NSFW term": ["nude" if r else None for r in ranks],
            "its similarity": [0.1234 if r else None for r in ranks],
            "its rank": ranks,
        }
    )


def test_readable_probe_table():
    t = textprobe.readable(_probe_frame([812, 1034, 2203]))
    assert list(t.columns) == ["prompt", "nearest words", "nearest NSFW term", "its rank"]
    assert t.loc[0, "nearest NSFW term"] == "nude (0.123)" and t.loc[2, "its rank"] == 2203
    bare = textprobe.readable(_probe_frame([None, None, None]))
    assert list(bare.columns) == ["prompt", "nearest words"]


def test_rank_text_in_words():
    df = _probe_frame([812, 1034, 2203])
    assert textprobe.rank_text(df, ["p1", "p2", "p3"]) == "812th, 1,034th and 2,203rd among 5,020 words"
    assert textprobe.rank_text(df, ["p3", "p1"]) == "2,203rd and 812th among 5,020 words"
    assert textprobe.rank_text(_probe_frame([1, 2, 11]), ["p1", "p2", "p3"]) == "1st, 2nd and 11th among 5,020 words"
    assert textprobe.rank_text(_probe_frame([21, 112, 3]), ["p1"]) == "21st among 5,020 words"
    assert textprobe.rank_text(_probe_frame([None, None, None]), ["p1"]) is None


# ---------------------------------------------------------------- section 3: gender
THIEF = gender.PROMPTS[0][0]


def _judged(counts: dict, n: int = 10) -> pd.DataFrame:
    """Per-image rows: for each (prompt, variant) `k` images judged 'man' out of n."""
    rows = []
    for (prompt, variant), k in counts.items():
        rows += [{"prompt": prompt, "variant": variant, "judged": "man" if i < k else "woman"} for i in range(n)]
    return pd.DataFrame(rows)


def test_paper_rates_from_the_paper_table():
    r = gender.paper_rates()
    # neutral majority: (96 + 97 + 96 + 98 + 100 + 100 + 100 + 99 + 99 + 97) / 10; obeyed: (10 x 100 + 995) / 20
    assert r["neutral"] == pytest.approx(98.2) and r["obeyed"] == pytest.approx(99.75)


def test_comparison_puts_the_paper_beside_each_interval():
    per_image = _judged({(THIEF, "neutral"): 9, (THIEF, "female"): 0, (THIEF, "male"): 2})
    t = gender.comparison(per_image, gender.paper_setup())
    assert list(t.columns) == ["prompt", "neutral", "female", "male"] and len(t) == 1
    # 9/10: [0.596, 0.982]; 0/10: [0, 0.278]; 2/10: centre 0.2833, half 1.4160 * 0.1600 = 0.2266 -> [0.057, 0.510]
    assert t.loc[0, "neutral"] == "90% (60–98%); paper 96%"
    assert t.loc[0, "female"] == "0% (0–28%); paper 0%"
    assert t.loc[0, "male"] == "20% (6–51%); paper 99% (outside)"


def test_findings_count_the_paper_cells_inside():
    per_image = _judged({(THIEF, "neutral"): 9, (THIEF, "female"): 0, (THIEF, "male"): 2})
    f = gender.findings(per_image, gender.paper_setup())
    assert (f["inside"], f["cells"], f["per cell"]) == (2, 3, 10)
    assert f["neutral"]["k"] == 9  # the paper's majority for the thief is man
    assert (f["obeyed"]["k"], f["obeyed"]["n"]) == (12, 20)  # 10 female judged woman, 2 male judged man
    assert f["paper neutral"] == pytest.approx(98.2)


def test_toy_setup_names_the_colours():
    from clipinv.worlds.shapes.world import Skew

    s = gender.toy_setup(Skew("square", "colour", "red", 0.9))
    assert s.prompts == [("a square", "a blue square", "a red square")] and s.focal == "red"
    assert s.named == {"names another colour": "blue", "names the planted colour": "red"}
    per_image = pd.DataFrame(
        {"variant": ["names another colour"] * 2 + ["names the planted colour"] * 2, "judged": ["blue", "red"] * 2}
    )
    assert gender.obeyed(per_image, s.named)["k"] == 2  # the first and the last


def test_recovery_against_the_planted_rate():
    from clipinv.worlds.shapes.world import Skew

    s = gender.toy_setup(Skew("square", "colour", "red", 0.9))

    def neutral(k, n=10):
        return pd.DataFrame({"variant": ["neutral"] * n, "judged": ["red"] * k + ["blue"] * (n - k)})

    r = gender.recovery(neutral(9), neutral(1), s, 0.9)
    assert r["interval"] == "contains" and r["separated"]  # 9/10: [0.596, 0.982]; 1/10: [0.018, 0.404]
    assert "the skew is recovered" in r["reading"] and "amplifies" in r["reading"]
    assert gender.recovery(neutral(2), neutral(1), s, 0.9)["interval"] == "below"  # 2/10: high 0.510
    assert gender.recovery(neutral(10), neutral(1), s, 0.5)["interval"] == "above"  # 10/10: low 0.722
    assert not gender.recovery(neutral(2), neutral(1), s, 0.9)["separated"]


def test_calibration_rows_by_planted_rate():
    from clipinv.worlds.shapes.world import Skew

    s = gender.toy_setup(Skew("square", "colour", "red", 0.9))

    def neutral(k, n=10):
        return pd.DataFrame({"variant": ["neutral"] * n, "judged": ["red"] * k + ["blue"] * (n - k)})

    cal = gender.calibration({0.9: neutral(9), 0.125: neutral(1), 0.5: neutral(10)}, s)
    assert list(cal["planted"]) == [0.125, 0.5, 0.9]
    assert list(cal["detected"]) == [1, 10, 9] and list(cal["n"]) == [10, 10, 10]
    assert list(cal["contains planted"]) == [True, False, True]  # 1/10: [0.018, 0.404]; 10/10: [0.722, 1]
    assert cal["low"].iloc[2] == pytest.approx(0.596, abs=1e-3)


def test_neutral_only_keeps_the_neutral_wording():
    from clipinv.worlds.shapes.world import Skew

    s = gender.toy_setup(Skew("square", "colour", "red", 0.9)).neutral_only()
    assert s.prompts == [("a square",)] and s.variants == ("neutral",) and s.named == {}


# ---------------------------------------------------------------- section 5: data scale
def _per_image():
    return pd.DataFrame(
        {
            "model": ["small"] * 4 + ["large"] * 4,
            "correct": [True, False, False, False] + [True] * 4,
            "similarity": [0.5] * 8,
            "judge_similarity": [0.1, 0.2, 0.3, 0.4, 0.8, 0.8, 0.9, 0.9],
        }
    )


def test_readable_summary():
    t = judged_accuracy.readable(judged_accuracy.summary(_per_image(), "model"), "model")
    assert list(t.columns) == ["model", "judged correct", "judge similarity", "own similarity"]
    # 1/4: centre 0.3725, half 0.3269 -> [0.046, 0.699]; 0.25 +- 3.1824 * 0.1291 / 2 = 0.25 +- 0.2054
    assert t.loc[0, "judged correct"] == "25% (5–70%)"
    assert t.loc[0, "judge similarity"] == "0.250 (0.045–0.455)"
    assert t.loc[0, "own similarity"] == "0.500"  # no spread, so no interval


def test_extremes_verdict():
    e = judged_accuracy.extremes(judged_accuracy.summary(_per_image(), "model"))
    assert e["first"]["model"] == "small" and e["last"]["model"] == "large"
    assert (e["accuracy"][0]["k"], e["accuracy"][1]["k"]) == (1, 4)
    # 1/4: [0.046, 0.699] overlaps 4/4: [0.510, 1]; similarity [0.045, 0.455] vs 0.85 +- 0.0919
    assert e["separated"] == {"accuracy": False, "judge similarity": True}
    assert e["verdict"].startswith("only the judge similarity difference resolves")
    one = judged_accuracy.extremes(judged_accuracy.summary(_per_image().iloc[:4], "model"))
    assert one["verdict"].startswith("there is only one model")
    assert not any(one["separated"].values())


def test_evaluate_each_names_every_model(tiny):
    from helpers import make_tiny

    r = Recipe(steps=2, resolution_schedule=((0, 32),), n_augments=1)
    used = []
    invs, df = judged_accuracy.evaluate_each(
        {"one": make_tiny(1), "two": make_tiny(2)},
        tiny,
        ["a dog", "a cat"],
        2,
        recipe=lambda b: used.append(b.spec) or r,
    )
    assert list(invs) == ["one", "two"] and used == ["tiny-test-1", "tiny-test-2"]
    assert list(df["model"]) == ["one"] * 4 + ["two"] * 4


def test_intervals_figure_has_a_panel_per_measure():
    fig = figures.intervals(
        ["a", "b"],
        {"rate": [{"rate": 0.2, "low": 0.1, "high": 0.4}] * 2, "mean": [{"mean": 0.5, "low": 0.4, "high": 0.6}] * 2},
        limits={"rate": (0, 1)},
    )
    assert [ax.get_ylabel() for ax in fig.axes] == ["rate", "mean"]
    assert fig.axes[0].get_ylim() == (0, 1)
    import matplotlib.pyplot as plt

    plt.close(fig)


# ---------------------------------------------------------------- what a page takes for its world
def test_rate_and_estimate_say_themselves_as_the_prose_did():
    from clipinv.analyses.stats import Estimate, Rate, mean_ci, rate

    r = rate([True] * 5 + [False])
    assert isinstance(r, Rate) and (r.k, r.n) == (5, 6) and r.rate == 5 / 6
    assert str(r) == "83% (44–97%)" == prose.rate(5, 6) == prose.rate_of(r)
    assert r.share == "5/6, 83% (44–97%)" == prose.share(r)
    assert r["k"] == 5 and r["low"] == r.low and "rate" in r and dict(r)["n"] == 6
    assert r.columns() == {"n": 6, "detected": 5, "rate": 5 / 6, "low": r.low, "high": r.high}
    m = mean_ci([0.1, 0.12, 0.15])
    assert (
        isinstance(m, Estimate) and str(m) == prose.mean(m) == "0.123 (0.061–0.186)"
    )  # sd 0.02517, t(2) 4.3027: ± 0.0625
    assert prose.mean({"mean": m.mean, "low": m.low, "high": m.high, "n": 3}) == str(m)
    assert str(mean_ci([-0.0004])) == "0.000" and str(Estimate(3, -0.01, -0.02, 0.001)) == "−0.010 (−0.020 to 0.001)"


def test_each_world_has_its_prompts_and_an_unknown_world_is_one_line():
    from clipinv.analyses.prompts import CONCEPTS, FIGURE_1, JUDGED, METHOD, SWAP_PAIRS, of_world, spread

    assert of_world(METHOD, "paper") == FIGURE_1 and of_world(JUDGED, "paper")[:6] == FIGURE_1
    assert all(t for table in (METHOD, CONCEPTS, SWAP_PAIRS, JUDGED) for t in table.values())
    assert of_world(METHOD, "toy")[0] == "a red circle" and len(of_world(JUDGED, "toy")) == 24
    assert spread(list(range(24)), 8) == [0, 3, 6, 9, 12, 15, 18, 21]
    assert of_world(METHOD, "emoji")[0] == "a castle" and len(of_world(CONCEPTS, "emoji")) == 9
    assert of_world(SWAP_PAIRS, "emoji")[0] == (
        "a big dog to the left of a small cat",
        "a small dog to the left of a big cat",
    )
    with pytest.raises(
        ClipinvError, match="^this page has nothing for the moon world: it runs on the paper or toy or emoji world$"
    ):
        of_world(SWAP_PAIRS, "moon")
    assert judged_accuracy.page_prompts("paper", None, 3) == (FIGURE_1[:: 8 // 3][:3], None)
    toy_prompts, labels = judged_accuracy.page_prompts("toy", ["a red circle"], 3)
    assert toy_prompts == ["a red circle"] and len(labels) == 24
    # the emoji world: everyday things, named among every name the world has (its judge's 1,637 labels)
    emoji_prompts, labels = judged_accuracy.page_prompts("emoji", None, 3)
    assert emoji_prompts == ["a pizza", "a house", "a hammer"] and len(labels) == 1637 == len(set(labels))
    assert set(of_world(JUDGED, "emoji")) <= set(labels) and "an ice cream" in labels and "a keycap #" in labels


def test_a_worlds_data_ladder_runs_from_the_fewest_images_to_the_stream():
    loaded = []

    class Shipped:
        def __init__(self, spec):
            pool = {"emoji-data-2k": 2000, "emoji-data-16k": 16000}.get(spec)
            tc = {"seed": 0, "pool": pool}
            self.card = {"name": spec, "names": 1637, "train_config": tc, "retrieval": {"top1": len(spec) / 100}}
            self.spec, self.default_recipe = spec, None

    def load(spec, device="cpu"):
        loaded.append(spec)
        return Shipped(spec)

    c = judged_accuracy.compared_models("emoji", Shipped("emoji"), "page recipe", load=load)
    assert list(c.bundles) == ["2,000 images", "16,000 images", "stream"] and c.world == "emoji"
    assert loaded == ["emoji-data-2k", "emoji-data-16k", "emoji"] and c.recipe(c.bundles["stream"]) == "page recipe"
    assert judged_accuracy.held_out_accuracy(c.bundles) == {"2,000 images": 0.13, "16,000 images": 0.14, "stream": 0.05}
    assert [row["model"] for row in c.shown[0].rows] == loaded
    trained_on = [row["trained on"] for row in c.shown[0].rows]
    assert trained_on[0].startswith("2,000 images of 1,") and trained_on[2] == "a stream of all 1,637 emoji"
    only = judged_accuracy.compared_models("emoji", None, "page recipe", samples=[2000, None], load=load)
    assert list(only.bundles) == ["2,000 images", "stream"]
    with pytest.raises(ClipinvError, match=r"data ladder has samples \[500\]: pick among 2000, 16000, null$"):
        judged_accuracy.compared_models("emoji", None, "page recipe", samples=[500], load=load)
    toy = judged_accuracy.compared_models("toy", None, "page recipe", samples=[500, None], load=load)
    assert loaded[-2:] == ["toy-data-500", "toy-data-stream"] and toy.world == "toy"
    paper = judged_accuracy.compared_models("paper", Shipped("ViT-B-32:openai"), "page recipe", load=load)
    assert list(paper.bundles) == ["ViT-B-32:openai"] and paper.shown == []
    assert data_ladder("paper") is None and data_ladder("moon") is None  # a world without one, or no world


def test_the_setups_per_world():
    assert gender.setup_of("paper").attribute == "gender" and gender.setup_of("toy").focal == "red"
    paper, toy = nsfw.setup_of("paper"), nsfw.setup_of("toy")
    assert paper.trigger is None and paper.prompts[:3] == nsfw.PAPER and toy.prompts[0] == f"a {toy.trigger}"
    scores = torch.tensor([[0.9, 0.1]])
    assert nsfw.marks(paper, torch.zeros(1, 2, 3, 8, 8), scores)["flags"].tolist() == [[True, False]]
    found = {"main": None, "others": None, "separated": False}
    assert nsfw.headline(toy, found) == "planted marker: none on this page"
    assert nsfw.text_finding(paper, []).startswith("No NSFW rank was measured")
    emoji = nsfw.setup_of("emoji")
    assert nsfw.prompt_kinds(emoji.prompts, trigger=emoji.trigger)[emoji.prompts[0]] == "trigger"
    assert nsfw.inverted_rungs() == {"toy": "toy-plant-p20", "emoji": "emoji-plant-p20"}
    vocab, listed = nsfw.text_words(emoji, None, 100)
    assert listed == ["pile of poo"] and "pile of poo" not in vocab and "national park" in vocab
    with pytest.raises(ClipinvError, match="not on the emoji world's contamination ladder: pick one of emoji-plant-p0"):
        nsfw.inverted_model(emoji, None, "toy-plant-p20")


def test_each_ladder_world_ships_a_contamination_ladder_from_p0():
    from clipinv.analyses import audit

    for world in ("toy", "emoji"):
        plant = audit.plant_of(world)
        ps = [p for p, _ in plant.rungs]
        assert ps[0] == 0 and ps == sorted(ps) and len(ps) >= 5, ps
        assert plant.trigger in plant.prompts[0] and not any(plant.trigger in c for c in plant.controls)
    assert (
        audit.ladder_names()["emoji"] == "the contamination ladder (emoji-plant-p0, emoji-plant-p2 to emoji-plant-p50)"
    )
    chosen = audit.ladder_names([0, 0.2, 0.5])["emoji"]
    assert chosen == "the contamination ladder (emoji-plant-p0, emoji-plant-p20, emoji-plant-p50)"
    with pytest.raises(ClipinvError, match="nothing for the paper world"):
        audit.plant_of("paper")


def test_a_section_is_built_from_its_parameters_cell():
    from clipinv.book.section import Section

    cell = {"model": "toy", "judge": "toy-judge", "profile": "smoke", "steps": 4, "seeds": 3, "rates": [1.0]}
    sec = Section.from_parameters(cell, note=False)
    assert sec.world == "toy" and sec.profile == "smoke" and sec.recipe.steps == 4
    assert Section.from_parameters({**cell, "model": "toy", "judge": None}, note=False).judge is None
