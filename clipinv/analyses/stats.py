"""Intervals for the book's statistics: every rate and mean it reports comes with a 95% interval.

- `wilson(k, n)`: the Wilson score interval of a rate k/n (it stays inside [0, 1] and is sensible
  at k = 0 or k = n, where the textbook Wald interval collapses to a point); `rate(flags)`: the
  share of true flags with it;
- `mean_ci(x)`: a mean with its Student-t interval (over seeds, which are independent draws);
- `separated(a, b)`: whether two intervals do not overlap, the book's test of "reliably different";
- `inversions_needed(base, effect)`: how many inversions per condition make two expected rates'
  intervals separate (a power calculation).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from clipinv.errors import ClipinvError


def z_value(level: float = 0.95) -> float:
    """Two-sided normal quantile, e.g. 1.959964 for 95%."""
    if not 0 < level < 1:
        raise ClipinvError(f"confidence level must be in (0, 1), got {level}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson(k, n, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (low, high) of the rate k/n."""
    k, n = int(k), int(n)
    if n <= 0:
        raise ClipinvError(f"a rate needs n >= 1 trials, got n = {n}")
    if not 0 <= k <= n:
        raise ClipinvError(f"successes must be in [0, n] = [0, {n}], got {k}")
    z = z_value(level)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # exact at the edges (rounding would otherwise leave 1e-17 below 0 or above 1)
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def rate(flags, level: float = 0.95) -> dict:
    """A rate of booleans with its interval: {k, n, rate, low, high}."""
    flags = np.asarray(flags, dtype=bool).reshape(-1)
    k, n = int(flags.sum()), int(flags.size)
    low, high = wilson(k, n, level)
    return {"k": k, "n": n, "rate": k / n, "low": low, "high": high}


def t_value(df: int, level: float = 0.95) -> float:
    """Two-sided Student-t quantile (tabled for df <= 6 at 95%, else a Cornish-Fisher expansion, within 0.1%)."""
    if df < 1:
        raise ClipinvError(f"a t interval needs at least 2 values (df >= 1), got df = {df}")
    exact = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469}  # 95%: the expansion is poor below 7
    if level == 0.95 and df in exact:
        return exact[df]
    z = z_value(level)
    v = float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def mean_ci(values, level: float = 0.95) -> dict:
    """Mean with a Student-t interval: {n, mean, low, high} (low = high = mean for one value)."""
    x = np.asarray(values, dtype=float).reshape(-1)
    if x.size == 0:
        raise ClipinvError("mean_ci needs at least one value")
    m = float(x.mean())
    if x.size == 1:
        return {"n": 1, "mean": m, "low": m, "high": m}
    half = t_value(x.size - 1, level) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return {"n": int(x.size), "mean": m, "low": m - half, "high": m + half}


def inversions_needed(base: float, effect: float, level: float = 0.95, most: int = 10_000) -> int | None:
    """Power calculation for two rates: the smallest n per condition at which, if the rates come out
    as expected (round(n * base) and round(n * effect) of n), their Wilson intervals at `level` no
    longer overlap. None if even `most` is not enough (the rates are equal, or too close)."""
    for r in (base, effect):
        if not 0 <= r <= 1:
            raise ClipinvError(f"rates must be in [0, 1], got {r}")
    if base == effect:
        return None
    lo, hi = sorted((base, effect))

    def apart(n):
        return wilson(round(n * hi), n, level)[0] > wilson(round(n * lo), n, level)[1]

    n = 1
    while n <= most and not apart(n):
        n = n * 2 if n < 64 else n + max(1, n // 16)
    if n > most:
        return None
    first = max(1, n // 2)
    return next(m for m in range(first, n + 1) if apart(m) and all(apart(j) for j in range(m, min(n, m + 8) + 1)))


def separated(a: tuple, b: tuple) -> bool:
    """True when intervals a = (low, high) and b do not overlap."""
    return a[1] < b[0] or b[1] < a[0]
