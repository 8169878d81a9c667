"""The knobs of an inversion: `Recipe`, its defaults the paper's public code (invert.py).

Each knob is described once, where it is declared: what it does (`help`), which values it takes
(`check`) and, for a part of the recipe that can be switched off, the ablation that does so. The
CLI's flags (`clipinv invert --help`), the recipe table of section 0 (`compare`) and the ablations
of section 6 (`clipinv.analyses.ablation.variants`) are all read from these descriptions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from clipinv.core import param
from clipinv.errors import ClipinvError


# ---------------------------------------------------------------- what a knob accepts
def number(
    low: float = 0.0, high: float = math.inf, low_open: bool = False, high_open: bool = False, meaning: str = ""
) -> Callable:
    """A finite number in [low, high], either end open if asked; `meaning` is said when it is out of range."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def check(name, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return f"recipe {name} must be a finite number, got {v!r}"
        if v < low or (low_open and v == low):
            if not (low_open and meaning):
                return f"recipe {name} must be {'>' if low_open else '>='} {low:g}, got {v}"
            return f"{name} must be in {interval} ({meaning}), got {v}"
        if v > high or (high_open and v == high):
            return f"{name} must be in {interval}{f' ({meaning})' if meaning else ''}, got {v}"
        return None

    return check


def whole(low: int) -> Callable:
    def check(name, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or v < low:
            return f"{name} must be a {'positive whole number' if low == 1 else f'whole number >= {low}'}, got {v}"
        return None

    return check


def one_of(*options) -> Callable:
    def check(name, v):
        return None if v in options else f"{name} must be one of {', '.join(options)}, got {v!r}"

    check.options = options
    return check


def grey_or_none(name, v):
    if v is None or (not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v <= 1):
        return None
    return f"{name} must be None (border padding, the paper's) or a grey level in [0, 1], got {v!r}"


def schedule(name, sched):
    if not sched or sched[0][0] != 0:
        return f"{name} must start at step 0, got {sched}"
    for _, side in sched:
        if side <= 0:
            return f"image size must be > 0, got {side} in {name} {sched}"
    if [s for s, _ in sched] != sorted({s for s, _ in sched}):
        return f"{name} steps must increase, got {sched}"
    return None


def scale_range(name, r):
    return None if 0 < r[0] <= r[1] else f"{name} must be 0 < low <= high, got {r}"


def flag(name, v):
    return None if isinstance(v, bool) else f"{name} must be True or False, got {v!r}"


@dataclass(frozen=True)
class Ablation:
    """A part of the recipe switched off: `changes(recipe)` gives the knobs to set (None: nothing to switch off)."""

    label: str
    changes: Callable


def off(label: str, **values) -> Ablation:
    return Ablation(label, lambda recipe: values)


def knob(default, help: str, check: Callable, ablation: Ablation | None = None):
    return field(default=default, metadata={"help": help, "check": check, "ablation": ablation})


# ---------------------------------------------------------------- the recipe
@dataclass(frozen=True)
class Recipe:
    """Every knob of an inversion. The defaults are the paper's public code (invert.py)."""

    steps: int = knob(3400, "optimisation steps", whole(1))
    lr: float = knob(0.1, "Adam learning rate (constant: the code's scheduler never steps)", number(low_open=True))
    resolution_schedule: tuple = knob(
        ((0, 64), (900, 128), (1800, 224)),
        "STEP:SIDE,...: the image's side from each step on",
        schedule,
        Ablation("no resolution schedule", lambda r: {"resolution_schedule": ((0, r.resolution_schedule[-1][1]),)}),
    )
    reset_optimizer_on_resize: bool = knob(
        True,
        "a fresh Adam at each resolution change",
        flag,
        Ablation(
            "no optimiser reset",
            lambda r: {"reset_optimizer_on_resize": False} if len(r.resolution_schedule) > 1 else None,
        ),
    )
    n_augments: int = knob(
        13, "augmented copies per image per step (the code's batch_size)", whole(1), off("one copy", n_augments=1)
    )
    affine_p: float = knob(
        0.5,
        "probability a copy gets the random affine",
        number(high=1),
        # a final image shrunk onto grey shows what only the affine's shrunk copies taught: without them, as optimised
        Ablation("no affine", lambda r: {"affine_p": 0.0, **({"final_scale": 1.0} if r.final_scale < 1 else {})}),
    )
    rotate_degrees: float = knob(30.0, "the affine's rotation in [-d, d] degrees", number())
    translate: float = knob(0.1, "the affine's translation in [-t, t] x the image side", number())
    scale_range: tuple = knob((0.7, 1.2), "LOW,HIGH: the affine's scale factor range", scale_range)
    jitter_px: float = knob(
        0.0,
        "roll jitter in pixels at the first resolution (doubles with it); the code's --jitter: 32",
        number(),
        off("no roll jitter", jitter_px=0.0),
    )
    background_fill: float | None = knob(
        None,
        "pad the affine with this plain grey level in [0, 1] instead of the border pixels (None: the paper's)",
        grey_or_none,
        Ablation(
            "border padding",  # with opacity the padding is transparent, and the grey only shows the final image
            lambda r: {"background_fill": None, "final_scale": 1.0} if r.affine_p > 0 and not r.opacity else None,
        ),
    )
    opacity: bool = knob(
        False,
        "give the image an opacity channel: each copy is drawn over a random plain background, the final "
        "image over background_fill (Lucid's transparency), so only what reads as the prompt stays opaque",
        flag,
        off("no opacity channel", opacity=False),
    )
    opacity_weight: float = knob(0.2, "with opacity: weight of the penalty on the image's mean opacity", number())
    opacity_tv_weight: float = knob(0.002, "with opacity: total-variation weight of the opacity channel", number())
    color_shift_mean: float = knob(
        0.0,
        "ColorShift mean range: mu ~ U[-m, m] (the code's --cg_mean)",
        number(),
        off("no colour shift", color_shift_mean=0.0, color_shift_log_std=0.0),
    )
    color_shift_log_std: float = knob(
        0.0, "ColorShift log-std range: sigma = exp(U[-s, s]) (the code's --cg_std)", number()
    )
    color_jitter: float = knob(
        0.0,
        "brightness/contrast/saturation jitter strength (the public demo: 0.1-0.4)",
        number(),
        off("no colour jitter", color_jitter=0.0),
    )
    noise_std: float = knob(
        0.0, "additive Gaussian pixel noise on the copies", number(), off("no noise", noise_std=0.0)
    )
    smooth_sigma: float = knob(
        0.0,
        "replace the final image by its Gaussian blur of this sigma (px of the final side); 0: none",
        number(),
        off("no smoothing", smooth_sigma=0.0),
    )
    final_scale: float = knob(
        1.0,
        "shrink the final image to this fraction of its side onto background_fill; 1: as optimised",
        number(high=1, low_open=True, meaning="1: the image as optimised, the paper's"),
        off("full size", final_scale=1.0),
    )
    tv_weight: float = knob(0.005, "total-variation weight (the code's TV)", number(), off("no TV", tv_weight=0.0))
    l1_weight: float = knob(0.0, "L1-norm weight", number(), off("no L1", l1_weight=0.0))
    parameterization: str = knob(
        "pixels",
        "the image prior, what Adam changes: pixels (the paper's), fourier (the 1/f-scaled spectrum, lucent's "
        "fft), stack (DAS: images at 1, 2, 4, ... px summed), phase (MACO: the spectrum's phase, its magnitude "
        "fixed) or strokes (CLIPDraw: Bézier strokes)",
        one_of(*param.PARAMETERIZATIONS),
    )
    fourier_decay: float = knob(1.0, "with parameterization fourier: the spectrum's scale falls as 1/f^decay", number())
    n_strokes: int = knob(32, "with parameterization strokes: how many Bézier strokes draw the image", whole(1))
    residual_jitter: float = knob(
        0.0,
        "ghost networks: each residual branch of each copy scaled by U[1-j, 1+j], new every "
        "step (ViTs; 0: the model as is)",
        number(high=1, high_open=True, meaning="factors in [1-j, 1+j] stay positive"),
    )
    grad_clip: float = knob(
        1.0, "max gradient L2 norm, per image", number(), Ablation("no gradient clip", lambda r: {"grad_clip": 1e6})
    )
    precision: str = knob(
        "fp32", "fp32, or bf16 autocast of the encoder (image and Adam stay fp32)", one_of("fp32", "bf16")
    )

    def __post_init__(self):
        object.__setattr__(
            self, "resolution_schedule", tuple(tuple(int(v) for v in s) for s in self.resolution_schedule)
        )
        object.__setattr__(self, "scale_range", tuple(float(v) for v in self.scale_range))
        for f in dataclasses.fields(self):
            problem = f.metadata["check"](f.name, getattr(self, f.name))
            if problem:
                raise ClipinvError(problem)
        for broken, message in RULES:
            if broken(self):
                raise ClipinvError(message(self))

    def replace(self, **changes) -> Recipe:
        unknown = set(changes) - set(KNOBS)
        if unknown:
            raise ClipinvError(f"unknown recipe knob(s) {sorted(unknown)}: see `clipinv invert --help`")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# rules between knobs: (broken(recipe), message(recipe))
RULES = (
    (
        lambda r: r.parameterization != "pixels" and not r.reset_optimizer_on_resize,
        lambda r: (
            "reset_optimizer_on_resize=False keeps Adam's state across a resize only for parameterization "
            "'pixels': set reset_optimizer_on_resize=True"
        ),
    ),
    (
        lambda r: r.opacity and r.background_fill is None,
        lambda r: "opacity draws the final image over background_fill: set background_fill too (e.g. 0.4)",
    ),
    (
        lambda r: r.opacity and r.parameterization not in param.OF_PIXELS,
        lambda r: (
            f"opacity needs a parameterization of pixels (pixels or fourier); {r.parameterization} draws "
            "colour only: set parameterization='pixels'"
        ),
    ),
    (
        lambda r: r.final_scale < 1 and r.background_fill is None,
        lambda r: (
            f"final_scale {r.final_scale} shrinks the image onto background_fill: set background_fill too (e.g. 0.4)"
        ),
    ),
)

KNOBS = {f.name: f.metadata for f in dataclasses.fields(Recipe)}


def ablations(recipe: Recipe) -> dict[str, Recipe]:
    """Every part of `recipe` that is on, switched off in turn: {label: the recipe without it}."""
    out = {}
    for meta in KNOBS.values():
        ablation = meta["ablation"]
        changes = ablation.changes(recipe) if ablation else None
        if changes is not None and recipe.replace(**changes) != recipe:
            out[ablation.label] = recipe.replace(**changes)
    return out


def compare(**recipes: Recipe) -> list[dict]:
    """One row per knob: its name, what it does, and its value in each recipe given by name."""
    return [
        {"knob": name, "what it does": meta["help"], **{label: str(getattr(r, name)) for label, r in recipes.items()}}
        for name, meta in KNOBS.items()
    ]


def scaled_schedule(recipe, steps: int) -> dict:
    """Changes giving `recipe` `steps` steps with its resolution schedule scaled in proportion."""
    sched, out, prev = recipe.resolution_schedule, [], -1
    for at, side in sched:
        s = 0 if at == 0 else max(round(at * steps / recipe.steps), prev + 1)
        if s >= steps:
            break
        out.append((s, side))
        prev = s
    return {"steps": steps, "resolution_schedule": tuple(out)}


def stage_ends(recipe) -> list[tuple[int, int]]:
    """(last step + 1, side) of each resolution stage: where to stop to see each stage's image."""
    sched = list(recipe.resolution_schedule)
    ends = [nxt for nxt, _ in sched[1:]] + [recipe.steps]
    return [(e, side) for e, (_, side) in zip(ends, sched)]
