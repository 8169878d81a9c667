"""Section 1's statistics (clipinv.analyses.alignment) on hand-made judge probabilities, the answers worked
out by hand in the comments, and the matrix figure's boxed cells."""

import pytest
import torch

from clipinv import Prompt
from clipinv.analyses.alignment import blend_components, blend_phrases, concept_alignment, concept_labels
from clipinv.book import figures
from clipinv.errors import ClipinvError

# 3 targets x 2 seeds x 4 labels; targets 0 and 1 are one text each (labels 0 and 1), target 2 is a
# blend of labels 2 and 3. Top labels: target 0 -> 0 (hit), 1 (miss); target 1 -> 1, 1; target 2 -> 2, 3.
PROBS = torch.tensor(
    [
        [[0.7, 0.1, 0.1, 0.1], [0.2, 0.5, 0.2, 0.1]],
        [[0.1, 0.6, 0.2, 0.1], [0.1, 0.4, 0.3, 0.2]],
        [[0.1, 0.1, 0.5, 0.3], [0.1, 0.2, 0.3, 0.4]],
    ]
)
GROUPS = ["single", "single", "blending"]
OWN = [[0], [1], [2, 3]]


def test_concept_labels_lists_each_text_once_and_points_targets_at_theirs():
    targets = ["a red circle", Prompt("a red circle") + Prompt("a blue square"), "a circle"]
    names, labels, own = concept_labels(targets)
    assert names == ["a red circle", "a red circle + a blue square", "a circle"]
    assert labels == ["a red circle", "a blue square", "a circle"]
    assert own == [[0], [0, 1], [2]]


def test_concept_alignment_counts_top_labels_among_the_own_texts():
    table, summary = concept_alignment(PROBS, GROUPS, OWN)
    assert list(table["group"]) == ["single", "blending", "all"]
    # single: 3 of 4 tops are own; Wilson 3/4 = [30.1%, 95.4%]. chance: one own label of 4
    assert table.iloc[0]["picks an own text"] == "3/4, 75% (30–95%)"
    assert table.iloc[0]["chance"] == "25%"
    # own-text probabilities 0.7, 0.2, 0.6, 0.4: mean 0.475, sd 0.2217, t(3) 3.1824 -> ±0.353
    assert table.iloc[0]["probability on own text(s)"] == "0.475 (0.122–0.828)"
    # blending: both tops (2 and 3) are own texts; two of four labels are own
    assert table.iloc[1]["picks an own text"].startswith("2/2, 100%")
    assert table.iloc[1]["chance"] == "50%"
    # the blend's mass is the sum over its texts: 0.5 + 0.3 = 0.8, 0.3 + 0.4 = 0.7
    # mean 0.75, t(1) interval 0.115 to 1.385, clipped to where a probability lies
    assert table.iloc[1]["probability on own text(s)"] == "0.750 (0.115–1.000)"
    # all: 5 of 6; Wilson 5/6 = [43.6%, 97.0%]; chance (1 + 1 + 2) / 3 / 4 = 1/3
    assert (summary["hits"], summary["n"]) == (5, 6)
    assert summary["chance"] == pytest.approx(1 / 3)
    assert summary["accuracy"] == "83% (44–97%)"
    assert summary["mass"]["mean"] == pytest.approx((0.7 + 0.2 + 0.6 + 0.4 + 0.8 + 0.7) / 6)
    assert table.iloc[2]["chance"] == "33%"


def test_concept_alignment_rejects_mismatched_inputs():
    with pytest.raises(ClipinvError, match="targets, seeds, labels"):
        concept_alignment(PROBS[0], GROUPS, OWN)
    with pytest.raises(ClipinvError, match="one group per target"):
        concept_alignment(PROBS, GROUPS[:2], OWN)
    with pytest.raises(ClipinvError, match="outside the 4 labels"):
        concept_alignment(PROBS, GROUPS, [[0], [1], [2, 4]])


def test_blend_components_compares_each_component_with_the_texts_outside():
    # target 0 is one text (no blend, skipped); target 1 blends labels 0 and 1 over 3 seeds
    probs = torch.tensor(
        [
            [[0.9, 0.1, 0.0, 0.0]] * 3,
            [[0.45, 0.05, 0.1, 0.1], [0.40, 0.15, 0.1, 0.1], [0.50, 0.10, 0.1, 0.1]],
        ]
    )
    table, blends = blend_components(probs, ["a", "a + b"], ["a", "b", "c", "d"], [[0], [0, 1]])
    assert len(blends) == 1 and blends[0]["blend"] == "a + b"
    # outside texts c and d: 0.1 on every seed, so the baseline is exactly 0.1
    assert blends[0]["outside"]["mean"] == pytest.approx(0.1)
    assert blends[0]["outside"]["low"] == pytest.approx(0.1) and blends[0]["outside"]["high"] == pytest.approx(0.1)
    # a: 0.45, 0.40, 0.50 -> mean 0.45, sd 0.05, t(2) 4.3027 -> low 0.326 > 0.1: above.
    # b: 0.05, 0.15, 0.10 -> mean 0.10, low below 0.1: not above
    assert blends[0]["components"]["b"]["low"] == 0.0  # 0.1 - 0.124, clipped at 0
    assert blends[0]["components"]["a"]["mean"] == pytest.approx(0.45)
    assert blends[0]["components"]["a"]["low"] == pytest.approx(0.45 - 4.3027 * 0.05 / 3**0.5, abs=1e-4)
    assert blends[0]["above"] == ["a"]
    assert list(table["text"]) == ["a", "b", "a text outside the blend"]
    assert list(table["blend"]) == ["a + b", "", ""]  # named once
    assert list(table["reliably above"])[:2] == ["yes", "no"]
    assert table.iloc[2]["judge probability"] == "0.100"
    said = blend_phrases(blends)
    assert said["name"] == "“a + b”" and said["above"] == "only “a” is reliably above it"
    assert said["parts"].startswith("“a” 0.450 (0.326–") and " and “b” 0.100 (0.000–" in said["parts"]
    assert said["outside"] == "0.100"


def test_blend_phrases_say_both_neither_or_why_not():
    one = {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 3}
    base = {"mean": 0.1, "low": 0.05, "high": 0.15, "n": 3}
    both = {"blend": "x + y", "components": {"x": one, "y": one}, "outside": base, "above": ["x", "y"]}
    assert blend_phrases([both])["above"] == "both are reliably above it"
    assert blend_phrases([{**both, "above": []}])["above"] == "neither is reliably above it"
    assert "2 other blends" in blend_phrases([both, both, both])["above"]
    assert blend_phrases([{**both, "outside": None, "above": None}])["outside"] == "nothing"
    assert blend_phrases([])["above"] == "there is no blend"


def test_one_inversion_per_blend_gives_no_verdict():
    probs = torch.tensor([[[0.6, 0.3, 0.1]]])  # one target, one seed, blending labels 0 and 1
    table, blends = blend_components(probs, ["a + b"], ["a", "b", "c"], [[0, 1]])
    assert blends[0]["above"] is None and blends[0]["outside"]["mean"] == pytest.approx(0.1)
    assert table["reliably above"].isna().all()
    assert "no interval to tell" in blend_phrases(blends)["above"]


def test_matrix_outlines_the_boxed_cells():
    fig = figures.matrix(torch.zeros(2, 3), ["r0", "r1"], ["c0", "c1", "c2"], boxes=[(0, 2), (1, 0)])
    corners = sorted(tuple(p.get_xy()) for p in fig.axes[0].patches)
    assert corners == [(-0.5, 0.5), (1.5, -0.5)]  # (col - 0.5, row - 0.5) of (1, 0) and (0, 2)
    with pytest.raises(ClipinvError, match="outside the 2 x 3 matrix"):
        figures.matrix(torch.zeros(2, 3), ["r0", "r1"], ["c0", "c1", "c2"], boxes=[(2, 0)])
