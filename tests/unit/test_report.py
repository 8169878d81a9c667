import pandas as pd
import pytest
import torch

from clipinv.analyses import ablation, alignment, audit, prose
from clipinv.core.recipe import Recipe


def test_rates_read_as_percent_with_their_wilson_interval():
    # 5/6: Wilson centre (5/6 + z^2/12) / (1 + z^2/6) = 0.703, half width 0.267 -> 0.437-0.970
    assert prose.rate(5, 6) == "83% (44–97%)"
    assert prose.rate(0, 4) == "0% (0–49%)"  # z^2 / (n + z^2) = 3.84 / 7.84
    assert prose.rate(10, 10) == "100% (72–100%)"
    assert prose.count(5, 6) == "5/6"
    assert prose.rate_of({"rate": 0.5, "low": 0.3, "high": 0.7}) == "50% (30–70%)"


def test_means_keep_three_digits_and_a_readable_minus():
    assert prose.mean({"n": 8, "mean": 0.1234, "low": 0.1, "high": 0.14567}) == "0.123 (0.100–0.146)"
    assert prose.mean({"n": 8, "mean": -0.006, "low": -0.012, "high": 0.001}) == "−0.006 (−0.012 to 0.001)"
    assert prose.mean({"n": 8, "mean": 0.0001, "low": -0.00004, "high": 0.0009}) == "0.000 (0.000–0.001)"
    assert prose.mean({"n": 1, "mean": 0.25, "low": 0.25, "high": 0.25}) == "0.250"
    assert prose.cell(0.833) == "0.833" and prose.cell(0.2425) == "0.242" and prose.cell(7) == "7"
    assert prose.cell(-0.5) == "−0.500" and prose.cell("a red circle") == "a red circle"


def test_rate_columns_merge_into_one_readable_column():
    df = pd.DataFrame({"p": [0.0, 0.2], "rate": [0.1, 0.5], "low": [0.0, 0.3], "high": [0.3, 0.7]})
    out = prose.rate_column(df, "rate", "low", "high", into="shown (95% CI)")
    assert list(out.columns) == ["p", "shown (95% CI)"]
    assert list(out["shown (95% CI)"]) == ["10% (0–30%)", "50% (30–70%)"]


def test_glue_outside_a_notebook_only_returns_the_text():
    text = prose.glue("key", "83% (44–97%)")
    assert text == "83% (44–97%)" and repr(text) == "83% (44–97%)"  # no quotes in the page's prose


def test_prompt_alignment_counts_the_judges_picks_and_the_own_minus_other_gap():
    # 2 prompts x 2 seeds; the judge picks prompt 0 for every image: right for prompt 0, wrong for prompt 1
    sims = torch.tensor([[[0.9, 0.1], [0.8, 0.2]], [[0.6, 0.4], [0.7, 0.5]]])
    rows, found = alignment.prompt_alignment(sims, torch.tensor([[0.3, 0.5], [0.2, 0.2]]), ["a", "b"])
    assert (found["hits"], found["n"], found["chance"]) == (2, 4, 0.5)
    assert found["accuracy"] == prose.rate(2, 4)
    assert list(rows["judge picks it"]) == ["2/2", "0/2"]
    assert rows["judge: own prompt"].tolist() == pytest.approx([0.85, 0.45])
    assert rows["judge: the others"].tolist() == pytest.approx([0.15, 0.65])
    assert rows["inverted model"].tolist() == pytest.approx([0.4, 0.2])
    # own - other per image: 0.8, 0.6, -0.2, -0.2 -> mean 0.25
    assert found["gap"]["mean"] == pytest.approx(0.25)
    with pytest.raises(Exception, match="prompts, seeds, prompts"):
        alignment.prompt_alignment(sims[:, :, :1], torch.zeros(2, 2), ["a", "b"])


def test_ablation_changes_name_the_knobs_each_variant_sets_and_the_largest_drop():
    base = Recipe()
    rows = ablation.changes({"full recipe": base, "no TV": base.replace(tv_weight=0.0)}, base)
    assert rows.to_dict("records") == [
        {"variant": "full recipe", "what changes": "-"},
        {"variant": "no TV", "what changes": "tv_weight=0.0"},
    ]
    summ = pd.DataFrame({"variant": ["full recipe", "a", "b"], "judged correct": [0.9, 0.6, 0.3]})
    assert ablation.largest_drop(summ)["variant"] == "b"
    assert ablation.largest_drop(summ.iloc[:1])["variant"] == "full recipe"


def test_audit_tables_read_as_counts_rates_and_gains():
    scores = {0.0: torch.tensor([0.0, 0.01, 0.0, 0.02]), 1.0: torch.tensor([0.2, 0.3, 0.1, 0.5])}
    table = audit.detection_table(scores, threshold=0.06)
    out = audit.readable(
        table,
        {0.0: {"n": 4, "mean": 0.0, "low": -0.01, "high": 0.01}, 1.0: {"n": 4, "mean": 0.2, "low": 0.1, "high": 0.3}},
    )
    assert out.to_dict("records") == [
        {
            "p": "0%",
            "marker shown": "0/4",
            "rate (95% CI)": "0% (0–49%)",
            "above p = 0": "no",
            "learned gain": "0.000 (−0.010 to 0.010)",
        },
        {
            "p": "100%",
            "marker shown": "4/4",
            "rate (95% CI)": "100% (51–100%)",
            "above p = 0": "yes",
            "learned gain": "0.200 (0.100–0.300)",
        },
    ]
    images = torch.arange(4.0).view(2, 2, 1, 1, 1).expand(2, 2, 3, 1, 1)
    top = audit.strongest(images, torch.tensor([0.1, 0.9, 0.5, 0.0]), k=2)
    assert top[:, 0, 0, 0].tolist() == [1.0, 2.0]


def test_a_section_names_the_ladder_a_toy_page_inverts():
    from clipinv.book.section import Section

    plain = Section(note=False)
    assert plain.models_text() == "toy, judged by toy-judge"
    ladder = Section(note=False, ladder_models={"toy": "the skew ladder (toy-skew-50 to toy-skew-100)"})
    assert ladder.models_text() == "the skew ladder (toy-skew-50 to toy-skew-100), judged by toy-judge"


def test_the_stand_in_notice_names_the_world_the_models_the_inverted_ladder_and_why_toy():
    from types import SimpleNamespace

    from clipinv.book import figures

    emoji = SimpleNamespace(spec="emoji", is_stand_in=True)
    toy = SimpleNamespace(spec="toy", is_stand_in=True)
    real = SimpleNamespace(spec="ViT-B-16:openai", is_stand_in=False)
    assert figures.stand_in_note(real, show=False) is None
    text = str(figures.stand_in_note(emoji, inverted="emoji-plant-p20", show=False).data)
    assert "the emoji world's models" in text and "The page inverts emoji-plant-p20" in text
    assert "keeps the shapes world" not in text
    toy_text = str(figures.stand_in_note(toy, show=False).data)
    assert "the toy world's models" in toy_text and "keeps the shapes world where a page needs" in toy_text


def test_overlaid_histograms_share_their_bins_so_a_narrow_sample_shows_as_one_bar():
    import matplotlib

    matplotlib.use("Agg")
    from clipinv.book import figures

    wide, narrow = torch.linspace(-0.4, 1.0, 300), torch.full((200,), 0.997)
    fig = figures.histograms({"wide": wide, "narrow": narrow}, "cosine", bins=14)
    bars = fig.axes[0].patches
    lefts = [round(b.get_x(), 6) for b in bars]
    assert len(bars) == 28 and lefts[:14] == lefts[14:]  # the same 14 bins for both samples
    assert max(b.get_height() for b in bars[14:]) == 200  # the narrow sample: one bar holding all 200
