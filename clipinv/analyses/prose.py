"""Numbers as a reader reads them, in sentences and tables, and glued into a page's prose.

- `rate(k, n)`: '83% (55–95%)', the rate with its 95% Wilson interval; `count(k, n)`: '5/6';
- `mean(m)`: '0.123 (0.100–0.146)', a `stats.mean_ci` result; `number(x)`: 3 decimals;
- `share(r)`: '5/6, 83% (44–97%)', a count with its rate; `difference(a, b)`: whether two intervals
  resolve a difference, in words;
- `rate_column(df, ...)`: a table's rate, low and high columns merged into one readable column;
- `glue(key, text)`: hands a value to the page's prose (myst-nb's glue: ``{glue:text}`key` ``), so
  the numbers in a page's sentences are the ones its notebook computed.
"""

from __future__ import annotations

from clipinv.analyses import stats
from clipinv.analyses.stats import Estimate, Rate, number, percent, span

__all__ = [
    "Text",
    "cell",
    "count",
    "difference",
    "glue",
    "mean",
    "number",
    "percent",
    "rate",
    "rate_column",
    "rate_of",
    "share",
]


def count(k, n) -> str:
    return f"{int(k)}/{int(n)}"


def rate(k, n) -> str:
    """'83% (55–95%)': k/n with its 95% Wilson interval."""
    return str(Rate.of(k, n))


def rate_of(r) -> str:
    """A `stats.Rate` as text, or any mapping with rate, low and high (shares in [0, 1])."""
    if isinstance(r, Rate):
        return str(r)
    return f"{percent(r['rate'])} ({span(r['low'], r['high'], percent)})"


def cell(value, digits: int = 3) -> str:
    """A table cell: floats to `digits` decimals (true minus sign), anything else as it is."""
    return number(value, digits) if isinstance(value, float) else str(value)


def mean(m, digits: int = 3) -> str:
    """'0.123 (0.100–0.146)': a `stats.Estimate` (or a mapping with n, mean, low, high) with its interval
    (one value: no interval)."""
    if not isinstance(m, Estimate):
        m = Estimate(m.get("n", 2), m["mean"], m["low"], m["high"])
    return m.text(digits)


def share(r, missing: str = "none on this page") -> str:
    """'5/6, 83% (44–97%)': a `stats.Rate` as its count and its rate; `missing` for None."""
    if r is None:
        return missing
    return f"{count(r['k'], r['n'])}, {rate_of(r)}"


def difference(a: dict | None, b: dict | None) -> str:
    """Whether two results with 95% intervals (dicts with low and high) tell their values apart, in words."""
    if a is None or b is None:
        return "nothing to compare it with on this page"
    if stats.separated((a["low"], a["high"]), (b["low"], b["high"])):
        return "the two 95% intervals do not overlap, so the difference resolves at this sample size"
    return "the two 95% intervals overlap, so no difference resolves at this sample size"


def rate_column(df, column: str, low: str, high: str, into: str | None = None):
    """The table with columns `column`, `low`, `high` (shares in [0, 1]) merged into one column
    'rate (95% CI)' formatted by `rate_of`, in the place of `column`."""
    out = df.copy()
    text = [rate_of({"rate": r, "low": lo, "high": hi}) for r, lo, hi in zip(df[column], df[low], df[high])]
    out[column] = text
    out = out.drop(columns=[low, high])
    return out.rename(columns={column: into}) if into else out


class Text(str):
    """A string whose plain-text form is itself (no quotes), so glued prose reads as written."""

    def __repr__(self) -> str:
        return str(self)


def glue(key: str, text) -> str:
    """Hand `text` to the page's prose as ``{glue:text}`key` `` (outside a notebook: only returns it)."""
    text = Text(text)
    try:
        from IPython import get_ipython
        from myst_nb import glue as myst_glue
    except ImportError:  # both ship with the book's dependencies; without them there is no page to fill
        return text
    if get_ipython() is not None:
        myst_glue(key, text, display=False)
    return text
