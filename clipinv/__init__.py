"""clipinv: invert CLIP models into images, with the recipe of Kazemi et al. (2024)."""

from clipinv.core.invert import invert
from clipinv.core.objective import Prompt, blend
from clipinv.core.reading import Reading, read
from clipinv.core.recipe import Recipe
from clipinv.core.result import Inversion
from clipinv.errors import ClipinvError
from clipinv.models.bundle import ModelBundle
from clipinv.models.judge import judge, similarity
from clipinv.models.load import load_model
from clipinv.runs.replay import replay
from clipinv.version import __version__
from clipinv.worlds import emoji, shapes  # noqa: F401  (registers the worlds' models with load_model)

__all__ = [
    "ClipinvError",
    "Inversion",
    "ModelBundle",
    "Prompt",
    "Reading",
    "Recipe",
    "__version__",
    "blend",
    "invert",
    "judge",
    "load_model",
    "read",
    "replay",
    "similarity",
]
