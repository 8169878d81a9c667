"""Section 1's pixel readings of concept claims, on images drawn by hand (so the truth is known)."""

import pytest
import torch

from clipinv.analyses import pixel_claims
from clipinv.analyses.stats import inversions_needed, wilson
from clipinv.errors import ClipinvError
from clipinv.worlds.shapes.world import PALETTE, shape_mask


def canvas(n=1, size=32, grey=0.4):
    return torch.full((n, 3, size, size), grey)


def paint(img, colour, rows, cols):
    img[..., rows, cols] = torch.tensor(PALETTE[colour]).view(3, 1, 1)
    return img


def test_blend_needs_both_colours_above_the_share():
    both = paint(paint(canvas()[0], "red", slice(0, 16), slice(0, 16)), "blue", slice(16, 32), slice(16, 32))
    one = paint(canvas()[0], "red", slice(0, 16), slice(0, 16))
    trace = paint(paint(canvas()[0], "red", slice(0, 16), slice(0, 16)), "blue", slice(0, 2), slice(30, 32))
    flags = pixel_claims.shows_both(torch.stack([both, one, trace]), "red", "blue")
    assert flags.tolist() == [True, False, False]  # 4 blue pixels against 256 red: 1.5% of the votes


def test_footprint_area_and_centre():
    img = paint(canvas(), "green", slice(4, 12), slice(20, 28))
    area, centre = pixel_claims.footprint(img, "green")
    s = torch.tensor(PALETTE["green"])
    weight = float(s.max() - s.min())  # saturation x value of a pure palette pixel
    assert float(area[0]) == pytest.approx(64 * weight, rel=1e-4)
    assert centre[0].tolist() == pytest.approx([24.0, 8.0])
    assert pixel_claims.on_side(img, "green", "right").tolist() == [True]
    assert pixel_claims.on_side(img, "green", "left").tolist() == [False]
    assert pixel_claims.on_side(img, "green", "top").tolist() == [True]


def test_larger_pairs_seed_by_seed():
    large = torch.stack(
        [
            paint(canvas()[0], "yellow", slice(0, 20), slice(0, 20)),
            paint(canvas()[0], "yellow", slice(0, 4), slice(0, 4)),
        ]
    )
    small = torch.stack(
        [paint(canvas()[0], "yellow", slice(0, 6), slice(0, 6)), paint(canvas()[0], "yellow", slice(0, 8), slice(0, 8))]
    )
    assert pixel_claims.larger(large, small, "yellow").tolist() == [True, False]
    with pytest.raises(ClipinvError, match="pair up"):
        pixel_claims.larger(large, small[:1], "yellow")


def test_variety_counts_colours_across_seeds():
    rows = [paint(canvas()[0], c, slice(8, 24), slice(8, 24)) for c in ("red", "red", "blue", "green")]
    v = pixel_claims.variety(torch.stack(rows), "colour")
    assert v["read"] == ["red", "red", "blue", "green"]
    assert v["distinct"] == 3 and v["top share"] == 0.5


def test_bad_colour_and_side_are_one_line_errors():
    with pytest.raises(ClipinvError, match="unknown colour"):
        pixel_claims.footprint(canvas(), "mauve")
    with pytest.raises(ClipinvError, match="unknown side"):
        pixel_claims.on_side(canvas(), "red", "middle")


@pytest.mark.parametrize("base,effect", [(0.02, 0.5), (0.0, 0.3), (0.125, 0.9), (0.5, 0.7)])
def test_inversions_needed_is_the_smallest_separating_n(base, effect):
    n = inversions_needed(base, effect)

    def apart(m):
        return wilson(round(m * effect), m)[0] > wilson(round(m * base), m)[1]

    assert apart(n)
    assert not apart(n - 1)


def test_inversions_needed_for_equal_rates_is_none():
    assert inversions_needed(0.3, 0.3) is None
    assert inversions_needed(0.30, 0.31, most=500) is None


# ---------------------------------------------------------------- the claims table on hand-drawn targets
def draw(shape, colour, centre=(16.0, 16.0), radius=8.0):
    """A palette shape on the grey canvas, drawn with the toy world's own mask."""
    m = shape_mask(shape, centre, radius, 0.0, 32)
    return canvas()[0] * (1 - m) + torch.tensor(PALETTE[colour]).view(3, 1, 1) * m


def block(colour, rows, cols):
    return paint(canvas()[0], colour, rows, cols)


def hand_drawn_targets():
    """Six 'seeds' per target, each drawn so the truth of every claim is known:
    blend 6/6 both colours; large > small 5/6; on the named side 6/6 left + 5/6 right = 11/12;
    'a circle' in six colours (5/6 off its commonest); 'a red thing' circle 4, square 1, triangle 1
    (2/6 off); 'a blue square' six blue squares (0/6 on every reading)."""
    both = paint(block("red", slice(4, 14), slice(4, 14)), "blue", slice(18, 28), slice(18, 28))
    big, tiny = block("yellow", slice(6, 26), slice(6, 26)), block("yellow", slice(13, 19), slice(13, 19))
    left, right = block("green", slice(12, 20), slice(2, 10)), block("green", slice(12, 20), slice(22, 30))
    six = ["red", "green", "blue", "yellow", "purple", "cyan"]
    return {
        "a red circle + a blue square": torch.stack([both] * 6),
        "a large yellow triangle": torch.stack([big] * 5 + [tiny]),
        "a small yellow triangle": torch.stack([tiny] * 5 + [big]),
        "a green square on the left": torch.stack([left] * 6),
        "a green square on the right": torch.stack([right] * 5 + [left]),
        "a circle": torch.stack([draw("circle", c) for c in six]),
        "a red thing": torch.stack([draw(s, "red") for s in ["circle"] * 4 + ["square", "triangle"]]),
        "a blue square": torch.stack([draw("square", "blue")] * 6),
    }


def test_toy_claims_reads_every_claim_off_the_pixels():
    t = pixel_claims.toy_claims(hand_drawn_targets())
    assert list(t["n"]) == [6, 6, 12, 6, 6]
    assert list(t["borne out"]) == [6, 5, 11, 5, 2]
    # Wilson by hand (z = 1.959964): 6/6 -> [0.6097, 1]; 5/6 -> [0.4365, 0.9699]; 11/12 -> [0.6461, 0.9851];
    # 2/6 -> centre 0.3984, half 1.1949 * 0.2524 = 0.3016 -> [0.0967, 0.7000]; 0/6 -> [0, 0.3903]
    assert list(t["low"]) == pytest.approx([0.6097, 0.4365, 0.6461, 0.4365, 0.0967], abs=2e-4)
    assert list(t["high"]) == pytest.approx([1.0, 0.9699, 0.9851, 0.9699, 0.7000], abs=2e-4)
    # resolves: above the blue square's 0/6 (high 0.3903) or above chance 50%
    assert list(t["resolves"]) == [True, False, True, True, False]
    assert t.loc[0, "against"] == "a blue square alone: 0% (0–39%)"
    assert t.loc[1, "against"] == "50% by chance"
    assert t.loc[3, "oracle read"] == "6 colours: red 1, green 1, blue 1, yellow 1, purple 1, cyan 1"
    assert t.loc[4, "oracle read"] == "3 shapes: circle 4, square 1, triangle 1"
    assert t.loc[3, "against"] == "a blue square (1 colour: blue 6): 0% (0–39%)"
    assert t.loc[4, "against read"] == "1 shape: square 6"


def test_claims_table_and_phrases_as_the_page_shows_them():
    t = pixel_claims.toy_claims(hand_drawn_targets())
    shown = pixel_claims.readable(t)
    assert list(shown.columns) == [
        "claim", "prompts", "borne out", "rate (95% CI)", "against", "resolves", "oracle read"
    ]  # fmt: skip
    assert list(shown["borne out"]) == ["6/6", "5/6", "11/12", "5/6", "2/6"]
    assert list(shown["rate (95% CI)"]) == [
        "100% (61–100%)", "83% (44–97%)", "92% (65–99%)", "83% (44–97%)", "33% (10–70%)"
    ]  # fmt: skip
    said = pixel_claims.claim_phrases(t)
    assert said["blend"] == "6/6, 100% (61–100%)" and said["position"] == "11/12, 92% (65–99%)"
    assert said["square_colour"] == "1 colour: blue 6" and said["resolved"] == "3 of 5"
    summary = said["summary"]
    assert summary.startswith("The blend shows both its colours in 6/6, 100% (61–100%) of its inversions")
    assert '. "A circle" comes out in 6 colours: red 1,' in summary
    assert '"a red thing" in 3 shapes: circle 4, square 1, triangle 1 ("a blue square": 1 shape: square 6)' in summary
    assert summary.endswith("Claims that resolve: 3 of 5.")
    assert said["headline"].startswith("the blend shows both its colours 6/6, 100% (61–100%); ")
    assert said["headline"].endswith('"a blue square": 1 colour: blue 6.')
    bare = pixel_claims.claim_phrases(None)
    assert bare.pop("summary").startswith("The pixel oracle reads only the toy world")
    assert bare.pop("headline").startswith("none on this page: the pixel oracle reads only the toy world")
    assert set(bare.values()) == {pixel_claims.NOT_MEASURED}


def test_toy_claims_names_the_missing_targets():
    targets = hand_drawn_targets()
    del targets["a circle"], targets["a blue square"]
    with pytest.raises(ClipinvError, match="'a circle', 'a blue square'"):
        pixel_claims.toy_claims(targets)


def test_halfwidth_is_the_widest_wilson_half():
    # 3/6: centre 0.5, half 1.1949 * sqrt(0.25 / 6 + 0.02668) = 1.1949 * 0.26143 = 0.3124
    assert pixel_claims.halfwidth(6) == pytest.approx(0.3124, abs=2e-4)
    assert pixel_claims.halfwidth(12) > pixel_claims.halfwidth(13) > pixel_claims.halfwidth(24)


def test_claims_headline_counts_the_first_three_claims():
    t = pixel_claims.toy_claims(hand_drawn_targets())
    assert pixel_claims.claims_headline(t) == "; pixels bear out blend 6/6, size 5/6, position 11/12"
    assert pixel_claims.claims_headline(None) == ""
