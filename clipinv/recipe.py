"""The knobs of an inversion: `Recipe`, its defaults the paper's public code (invert.py)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from . import param
from .errors import ClipinvError


@dataclass(frozen=True)
class Recipe:
    """Every knob of an inversion. The defaults are the paper's public code (invert.py)."""

    steps: int = 3400                        # optimisation steps
    lr: float = 0.1                          # Adam learning rate (constant: the code's scheduler never steps)
    resolution_schedule: tuple = ((0, 64), (900, 128), (1800, 224))  # (from step, image side)
    reset_optimizer_on_resize: bool = True   # a fresh Adam at each resolution change
    n_augments: int = 13                     # augmented copies per image per step ("batch_size" in the code)
    affine_p: float = 0.5                    # probability a copy gets the random affine
    rotate_degrees: float = 30.0             # rotation in [-d, d]
    translate: float = 0.1                   # translation in [-t, t] x image side
    scale_range: tuple = (0.7, 1.2)          # scale factor range
    jitter_px: float = 0.0                   # roll jitter at the first resolution (doubles with it); code's --jitter: 32
    background_fill: float | None = None     # None: the affine pads with border pixels (the paper's); a grey level in [0, 1]: it pads with that plain grey
    color_shift_mean: float = 0.0            # ColorShift mu ~ U[-m, m] (code's --cg_mean)
    color_shift_log_std: float = 0.0         # ColorShift sigma = exp(U[-s, s]) (code's --cg_std)
    color_jitter: float = 0.0                # brightness/contrast/saturation strength (the demo: 0.1-0.4)
    noise_std: float = 0.0                   # additive Gaussian pixel noise on the copies
    smooth_sigma: float = 0.0                # the final image is replaced by its Gaussian blur of this sigma (px of the final side); 0: none (the paper's)
    smooth_every: int = 0                    # and so is the image every this many steps (Yosinski et al. 2015's blur); 0: only at the end
    final_scale: float = 1.0                 # the final image shrunk to this fraction of its side, centred on background_fill (after any smoothing); 1: as optimised (the paper's)
    tv_weight: float = 0.005                 # total variation weight (the code's TV)
    l1_weight: float = 0.0                   # L1 norm weight
    l1_center: float = 0.0                   # the grey level the L1 term pulls pixels toward (0: black, the paper's ||x||_1)
    init_range: tuple = (0.0, 1.0)           # the initial image: uniform noise in [low, high] (the paper's: [0, 1])
    parameterization: str = "pixels"         # what Adam changes: "pixels" (the paper's) or "fourier" (the 1/f-scaled spectrum, lucent's fft)
    fourier_decay: float = 1.0               # with "fourier": the spectrum's scale falls as 1/f^decay
    residual_jitter: float = 0.0             # ghost networks: each residual branch of each copy scaled by U[1-j, 1+j], new every step (ViTs; 0: the model as is, the paper's)
    grad_clip: float = 1.0                   # max gradient L2 norm, per image
    precision: str = "fp32"                  # "fp32" or "bf16" (autocast of the encoder; image and Adam stay fp32)
    compile: bool = False                    # torch.compile the image encoder
    progress_every: int = 50                 # steps between progress-bar loss readouts and finiteness checks

    def __post_init__(self):
        object.__setattr__(self, "resolution_schedule", tuple(tuple(int(v) for v in s) for s in self.resolution_schedule))
        object.__setattr__(self, "scale_range", tuple(float(v) for v in self.scale_range))
        try:
            object.__setattr__(self, "init_range", tuple(float(v) for v in self.init_range))
        except (TypeError, ValueError):
            raise ClipinvError(f"init_range must be two numbers (low, high) in [0, 1] (the paper's: (0, 1)), got {self.init_range!r}") from None
        self.validate()

    def replace(self, **changes) -> "Recipe":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ClipinvError(f"unknown recipe knob(s) {sorted(unknown)}: see `clipinv invert --help`")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self):
        if int(self.steps) != self.steps or self.steps <= 0:
            raise ClipinvError(f"steps must be a positive whole number, got {self.steps}")
        for name in ("lr", "tv_weight", "l1_weight", "grad_clip", "affine_p", "rotate_degrees", "translate",
                     "jitter_px", "color_shift_mean", "color_shift_log_std", "color_jitter", "noise_std",
                     "smooth_sigma", "l1_center", "fourier_decay", "residual_jitter"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ClipinvError(f"recipe {name} must be a finite number, got {v!r}")
            if v < 0:
                raise ClipinvError(f"recipe {name} must be >= 0, got {v}")
        fill = self.background_fill
        if fill is not None and (isinstance(fill, bool) or not isinstance(fill, (int, float)) or not 0 <= fill <= 1):
            raise ClipinvError(f"background_fill must be None (border padding, the paper's) or a grey level in [0, 1], got {fill!r}")
        if self.lr <= 0:
            raise ClipinvError(f"lr must be > 0, got {self.lr}")
        if int(self.n_augments) != self.n_augments or self.n_augments < 1:
            raise ClipinvError(f"n_augments must be a whole number >= 1, got {self.n_augments}")
        sched = self.resolution_schedule
        if not sched or sched[0][0] != 0:
            raise ClipinvError(f"resolution_schedule must start at step 0, got {sched}")
        for at, side in sched:
            if side <= 0:
                raise ClipinvError(f"image size must be > 0, got {side} in resolution_schedule {sched}")
        if [s for s, _ in sched] != sorted({s for s, _ in sched}):
            raise ClipinvError(f"resolution_schedule steps must increase, got {sched}")
        if self.scale_range[0] <= 0 or self.scale_range[0] > self.scale_range[1]:
            raise ClipinvError(f"scale_range must be 0 < low <= high, got {self.scale_range}")
        if self.residual_jitter >= 1:
            raise ClipinvError(f"residual_jitter must be in [0, 1) (factors in [1-j, 1+j] stay positive), got {self.residual_jitter}")
        if not 0 <= self.l1_center <= 1:
            raise ClipinvError(f"l1_center must be a grey level in [0, 1] (0: black, the paper's), got {self.l1_center}")
        if len(self.init_range) != 2 or not 0 <= self.init_range[0] <= self.init_range[1] <= 1:
            raise ClipinvError(f"init_range must be (low, high) with 0 <= low <= high <= 1 (the paper's: (0, 1)), got {self.init_range}")
        if self.parameterization not in param.PARAMETERIZATIONS:
            raise ClipinvError(f"parameterization must be one of {', '.join(param.PARAMETERIZATIONS)}, got {self.parameterization!r}")
        if self.parameterization != "pixels" and not self.reset_optimizer_on_resize:
            raise ClipinvError("reset_optimizer_on_resize=False keeps Adam's state across a resize only for "
                               "parameterization 'pixels': set reset_optimizer_on_resize=True")
        if self.precision not in ("fp32", "bf16"):
            raise ClipinvError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if int(self.smooth_every) != self.smooth_every or self.smooth_every < 0:
            raise ClipinvError(f"smooth_every must be a whole number >= 0 (0: only at the end), got {self.smooth_every}")
        if self.smooth_every and not self.smooth_sigma:
            raise ClipinvError(f"smooth_every {self.smooth_every} has no effect with smooth_sigma 0: set smooth_sigma too (e.g. 0.5)")
        if not isinstance(self.final_scale, (int, float)) or not 0 < self.final_scale <= 1:
            raise ClipinvError(f"final_scale must be in (0, 1] (1: the image as optimised, the paper's), got {self.final_scale!r}")
        if self.final_scale < 1 and self.background_fill is None:
            raise ClipinvError(f"final_scale {self.final_scale} shrinks the image onto background_fill: set background_fill too (e.g. 0.4)")
        if self.progress_every < 1:
            raise ClipinvError(f"progress_every must be >= 1, got {self.progress_every}")


def resolution_at(recipe: Recipe, step: int) -> int:
    return [side for at, side in recipe.resolution_schedule if at <= step][-1]
