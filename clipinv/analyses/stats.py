"""Intervals for the book's statistics: every rate and mean it reports comes with a 95% interval.

- `wilson(k, n)`: the Wilson score interval of a rate k/n (it stays inside [0, 1] and is sensible
  at k = 0 or k = n, where the textbook Wald interval collapses to a point); `rate(flags)`: the
  share of true flags with it;
- `mean_ci(x)`: a mean with its Student-t interval (over seeds, which are independent draws);
- `separated(a, b)`: whether two intervals do not overlap, the book's test of "reliably different";
- `inversions_needed(base, effect)`: how many inversions per condition make two expected rates'
  intervals separate (a power calculation).

`rate` and `mean_ci` give small typed values, `Rate` and `Estimate`, that say themselves as a reader
reads them: str(rate) is '83% (55–95%)', str(estimate) '0.123 (0.100–0.146)' (`percent`, `number`).
They also answer r["k"], r["low"], ... as the dicts they replace did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


def percent(x: float) -> str:
    """'83%'."""
    return f"{100 * float(x):.0f}%"


def number(x, digits: int = 3) -> str:
    """x to `digits` decimals, with a true minus sign (and no '−0.000')."""
    text = f"{float(x):.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text.replace("-", "−")


def span(low: float, high: float, text) -> str:
    """'55–95%' or, where a bound is negative, '−0.012 to 0.001' (a dash would read as a minus)."""
    lo, hi = text(low), text(high)
    return f"{lo} to {hi}" if "−" in lo + hi else f"{lo.rstrip('%')}–{hi}"


class _Fields:
    """Read a value's fields as a dict's items too (r["low"], dict(r), {**r})."""

    def __getitem__(self, key):
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def get(self, key, default=None):
        return self[key] if key in self.keys() else default


@dataclass(frozen=True)
class Rate(_Fields):
    """k of n with its 95% Wilson interval [low, high]; str() is '83% (55–95%)', `share` '5/6, 83% (55–95%)'."""

    k: int
    n: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.k / self.n

    @classmethod
    def of(cls, k, n, level: float = 0.95) -> Rate:
        return cls(int(k), int(n), *wilson(k, n, level))

    def keys(self):
        return ("k", "n", "rate", "low", "high")

    def holds(self, x: float) -> bool:
        """Whether x lies in the interval."""
        return self.low <= x <= self.high

    def columns(self) -> dict:
        """A table row's columns: n, detected, rate, low, high."""
        return {"n": self.n, "detected": self.k, "rate": self.rate, "low": self.low, "high": self.high}

    @property
    def share(self) -> str:
        return f"{int(self.k)}/{int(self.n)}, {self}"

    def __str__(self) -> str:
        return f"{percent(self.rate)} ({span(self.low, self.high, percent)})"


@dataclass(frozen=True)
class Estimate(_Fields):
    """A mean of n values with its 95% t interval [low, high]; str() is '0.123 (0.100–0.146)' (one value: '0.123')."""

    n: int
    mean: float
    low: float
    high: float

    def keys(self):
        return ("n", "mean", "low", "high")

    def text(self, digits: int = 3) -> str:
        if self.n < 2 or self.low == self.high:
            return number(self.mean, digits)
        return f"{number(self.mean, digits)} ({span(self.low, self.high, lambda x: number(x, digits))})"

    def __str__(self) -> str:
        return self.text()


def rate(flags, level: float = 0.95) -> Rate:
    """A rate of booleans with its interval."""
    flags = np.asarray(flags, dtype=bool).reshape(-1)
    return Rate.of(int(flags.sum()), int(flags.size), level)


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


def mean_ci(values, level: float = 0.95, within: tuple[float, float] | None = None) -> Estimate:
    """Mean with a Student-t interval (low = high = mean for one value). `within` = (least, most): the range
    the values can take (a cosine: (-1, 1)); the interval is clipped to it, where a t interval over a few
    seeds can otherwise run past what a value can be."""
    x = np.asarray(values, dtype=float).reshape(-1)
    if x.size == 0:
        raise ClipinvError("mean_ci needs at least one value")
    m = float(x.mean())
    if x.size == 1:
        return Estimate(1, m, m, m)
    half = t_value(x.size - 1, level) * float(x.std(ddof=1)) / math.sqrt(x.size)
    low, high = m - half, m + half
    if within is not None:
        low, high = max(within[0], low), min(within[1], high)
    return Estimate(int(x.size), m, low, high)


COSINE = (-1.0, 1.0)  # the range of a cosine similarity, for `mean_ci(..., within=COSINE)`


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
