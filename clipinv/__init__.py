"""clipinv: invert CLIP models into images, with the recipe of Kazemi et al. (2024)."""

__version__ = "0.1.0"

from .errors import ClipinvError
from .models import ModelBundle, load_model
from .objective import Prompt, blend
from .invert import Inversion, Recipe, invert, replay
from .judge import judge, similarity

__all__ = ["ClipinvError", "ModelBundle", "load_model", "Prompt", "blend", "Inversion", "Recipe", "invert",
           "replay", "judge", "similarity", "__version__"]
