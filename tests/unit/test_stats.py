"""Intervals against hand-computed values."""

import math

import pytest

from clipinv.analyses.stats import COSINE, mean_ci, rate, separated, t_value, wilson
from clipinv.errors import ClipinvError


def test_wilson_hand_computed():
    # 5/10, z = 1.959964: centre = (0.5 + z^2/20) / (1 + z^2/10) = 0.5;
    # half = z / (1 + z^2/10) * sqrt(0.025 + z^2/400) = 0.26338
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.23659, abs=1e-4) and high == pytest.approx(0.76341, abs=1e-4)
    # 0/10: [0, z^2/(n+z^2)] = [0, 3.8415/13.8415] = [0, 0.27753]
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-4)
    # 10/10 mirrors it
    low, high = wilson(10, 10)
    assert high == 1.0 and low == pytest.approx(1 - 0.27753, abs=1e-4)
    # 96/100 (the paper's neutral "thief" cell): [0.9016, 0.9843]
    low, high = wilson(96, 100)
    assert low == pytest.approx(0.9016, abs=1e-3) and high == pytest.approx(0.9843, abs=1e-3)


def test_wilson_narrows_with_n_and_contains_rate():
    for k, n in [(1, 4), (3, 30), (30, 300), (299, 300)]:
        low, high = wilson(k, n)
        assert low <= k / n <= high
    assert (wilson(30, 300)[1] - wilson(30, 300)[0]) < (wilson(3, 30)[1] - wilson(3, 30)[0])


def test_wilson_rejects_bad_counts():
    with pytest.raises(ClipinvError):
        wilson(1, 0)
    with pytest.raises(ClipinvError):
        wilson(5, 4)


def test_rate_counts_booleans():
    r = rate([True, False, True, True])
    assert (r["k"], r["n"], r["rate"]) == (3, 4, 0.75)


def test_t_interval_hand_computed():
    assert t_value(9) == pytest.approx(2.2622, abs=2e-3)
    assert t_value(29) == pytest.approx(2.0452, abs=1e-3)
    m = mean_ci([1.0, 2.0, 3.0, 4.0])  # sd = 1.29099, t(3) = 3.1824, half = 2.0542
    assert m["mean"] == 2.5
    assert m["high"] - m["mean"] == pytest.approx(3.1824 * 1.29099 / 2, rel=5e-3)


def test_a_cosine_interval_stays_within_what_a_cosine_can_be():
    sims = [0.99, 0.55, 0.98, 0.99]  # mean 0.8775, sd 0.2175, t(3) = 3.1824: the t interval is 0.531 to 1.224
    assert mean_ci(sims)["high"] == pytest.approx(1.2236, abs=2e-3)
    m = mean_ci(sims, within=COSINE)
    assert (m["mean"], m["high"]) == (pytest.approx(0.8775), 1.0)
    assert m["low"] == pytest.approx(0.5314, abs=2e-3)
    assert mean_ci([-0.9, -0.1, -0.95], within=COSINE)["low"] == -1.0


def test_separated():
    assert separated((0.0, 0.1), (0.2, 0.5))
    assert not separated((0.0, 0.3), (0.2, 0.5))
    assert math.isclose(mean_ci([2.0])["low"], 2.0)
