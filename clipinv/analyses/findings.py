"""What an analysis hands a page to show, beside the numbers it glues: `Table`s and image `Grid`s
with their captions, in the order the page shows them (`clipinv.book.figures.present` shows them).
An analysis that has nothing to show in a world hands an empty list, so the page reads the same in
every world and never asks which one it is in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Table:
    """A table (rows or a DataFrame) with its caption; `settings` are what the caption names (seeds, ...)."""

    rows: Any
    caption: str
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Grid:
    """An image grid [R, C, 3, H, W] with its caption, its row and column labels and its cell size."""

    images: Any
    caption: str
    row_labels: list | None = None
    col_labels: list | None = None
    size: float = 1.6
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Curves:
    """Rates with their intervals against `x`, one curve per table (`clipinv.book.figures.rate_curves`'s
    arguments in `plot`), with its caption and the settings the caption names."""

    tables: dict
    x: str
    xlabel: str
    ylabel: str
    caption: str
    plot: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
