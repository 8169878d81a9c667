"""What a world's data ladder is, for section 5: the models trained alike on more and more data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DataLadder:
    """A world's shipped data ladder (section 5 compares its models): `rungs` (training images, None for a
    stream; model), fewest first, `describe(bundle)` a table row of one, and `about` the table's caption."""

    rungs: tuple
    describe: Callable[..., dict]
    about: str
