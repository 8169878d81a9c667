"""Section 1's pixel readings of concept claims, on images drawn by hand (so the truth is known)."""

import pytest
import torch

from clipinv import concepts
from clipinv.errors import ClipinvError
from clipinv.stats import inversions_needed, wilson
from clipinv.toy.world import PALETTE


def canvas(n=1, size=32, grey=0.4):
    return torch.full((n, 3, size, size), grey)


def paint(img, colour, rows, cols):
    img[..., rows, cols] = torch.tensor(PALETTE[colour]).view(3, 1, 1)
    return img


def test_blend_needs_both_colours_above_the_share():
    both = paint(paint(canvas()[0], "red", slice(0, 16), slice(0, 16)), "blue", slice(16, 32), slice(16, 32))
    one = paint(canvas()[0], "red", slice(0, 16), slice(0, 16))
    trace = paint(paint(canvas()[0], "red", slice(0, 16), slice(0, 16)), "blue", slice(0, 2), slice(30, 32))
    flags = concepts.shows_both(torch.stack([both, one, trace]), "red", "blue")
    assert flags.tolist() == [True, False, False]  # 4 blue pixels against 256 red: 1.5% of the votes


def test_footprint_area_and_centre():
    img = paint(canvas(), "green", slice(4, 12), slice(20, 28))
    area, centre = concepts.footprint(img, "green")
    s = torch.tensor(PALETTE["green"])
    weight = float((s.max() - s.min()))  # saturation x value of a pure palette pixel
    assert float(area[0]) == pytest.approx(64 * weight, rel=1e-4)
    assert centre[0].tolist() == pytest.approx([24.0, 8.0])
    assert concepts.on_side(img, "green", "right").tolist() == [True]
    assert concepts.on_side(img, "green", "left").tolist() == [False]
    assert concepts.on_side(img, "green", "top").tolist() == [True]


def test_larger_pairs_seed_by_seed():
    large = torch.stack([paint(canvas()[0], "yellow", slice(0, 20), slice(0, 20)), paint(canvas()[0], "yellow", slice(0, 4), slice(0, 4))])
    small = torch.stack([paint(canvas()[0], "yellow", slice(0, 6), slice(0, 6)), paint(canvas()[0], "yellow", slice(0, 8), slice(0, 8))])
    assert concepts.larger(large, small, "yellow").tolist() == [True, False]
    with pytest.raises(ClipinvError, match="pair up"):
        concepts.larger(large, small[:1], "yellow")


def test_variety_counts_colours_across_seeds():
    rows = [paint(canvas()[0], c, slice(8, 24), slice(8, 24)) for c in ("red", "red", "blue", "green")]
    v = concepts.variety(torch.stack(rows), "colour")
    assert v["read"] == ["red", "red", "blue", "green"]
    assert v["distinct"] == 3 and v["top share"] == 0.5


def test_bad_colour_and_side_are_one_line_errors():
    with pytest.raises(ClipinvError, match="unknown colour"):
        concepts.footprint(canvas(), "mauve")
    with pytest.raises(ClipinvError, match="unknown side"):
        concepts.on_side(canvas(), "red", "middle")


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
