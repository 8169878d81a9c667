"""clipinv: invert CLIP models into images, with the recipe of Kazemi et al. (2024)."""

from . import toy  # noqa: F401  (registers the toy world's models with load_model)
from .bundle import ModelBundle
from .errors import ClipinvError
from .inversion import Inversion
from .invert import invert
from .judge import judge, similarity
from .models import load_model
from .objective import Prompt, blend
from .reading import Reading, read
from .recipe import Recipe
from .replay import replay
from .version import __version__

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
