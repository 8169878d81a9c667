"""Why these transformations? Each augmentation and regulariser of a recipe switched off in turn.

`variants(recipe)` returns the recipe as given ("full recipe") and one variant per component that
is active in it, with only that component off:

- "no affine" (affine_p = 0): no random rotation/translation/scale of the copies;
- "border padding" (background_fill = None, the paper's): shrunk copies padded with their border
  pixels instead of plain grey (only if the recipe pads with grey, as the toy recipe does), and
  so the final image at full size (final_scale = 1), there being no plain grey to shrink it onto;
- "one copy" (n_augments = 1): a single augmented copy per step instead of 13;
- "no TV" (tv_weight = 0), "no L1" (only if l1 > 0);
- "no roll jitter", "no colour jitter", "no noise", "no colour shift" (only if on in the recipe);
- "no smoothing" (smooth_sigma = 0: the image is never replaced by its Gaussian blur; only if on);
- "full size" (final_scale = 1: the final image is not shrunk onto the background; only if on);
- "no gradient clip" (the clip raised to 1e6, i.e. never binding);
- "no resolution schedule": optimise at the final resolution from step 0;
- "no optimiser reset": keep Adam's moments (resized) across resolution changes.

`run` inverts the same prompts x seeds under each and judges them (see `clipinv.quality`).
"""

from __future__ import annotations

import pandas as pd

from .recipe import Recipe
from .quality import evaluate, summary


def variants(recipe: Recipe, which: list[str] | None = None) -> dict[str, Recipe]:
    out = {"full recipe": recipe}
    if recipe.affine_p > 0:
        out["no affine"] = recipe.replace(affine_p=0.0)
        if recipe.background_fill is not None:
            out["border padding"] = recipe.replace(background_fill=None, final_scale=1.0)
    if recipe.n_augments > 1:
        out["one copy"] = recipe.replace(n_augments=1)
    if recipe.tv_weight > 0:
        out["no TV"] = recipe.replace(tv_weight=0.0)
    if recipe.l1_weight > 0:
        out["no L1"] = recipe.replace(l1_weight=0.0)
    if recipe.jitter_px > 0:
        out["no roll jitter"] = recipe.replace(jitter_px=0.0)
    if recipe.color_jitter > 0:
        out["no colour jitter"] = recipe.replace(color_jitter=0.0)
    if recipe.noise_std > 0:
        out["no noise"] = recipe.replace(noise_std=0.0)
    if recipe.color_shift_mean > 0 or recipe.color_shift_log_std > 0:
        out["no colour shift"] = recipe.replace(color_shift_mean=0.0, color_shift_log_std=0.0)
    if recipe.smooth_sigma > 0:
        out["no smoothing"] = recipe.replace(smooth_every=0, smooth_sigma=0.0)
    if recipe.final_scale < 1:
        out["full size"] = recipe.replace(final_scale=1.0)
    if recipe.grad_clip < 1e6:
        out["no gradient clip"] = recipe.replace(grad_clip=1e6)
    if len(recipe.resolution_schedule) > 1:
        final = recipe.resolution_schedule[-1][1]
        out["no resolution schedule"] = recipe.replace(resolution_schedule=((0, final),))
        if recipe.reset_optimizer_on_resize:
            out["no optimiser reset"] = recipe.replace(reset_optimizer_on_resize=False)
    if which:
        unknown = [w for w in which if w not in out]
        if unknown:
            from .errors import ClipinvError

            raise ClipinvError(f"unknown or inactive ablation(s) {unknown}: this recipe has {list(out)}")
        out = {k: v for k, v in out.items() if k == "full recipe" or k in which}
    return out


def run(model, judge, prompts, seeds, recipe: Recipe | None = None, labels=None, truth=None, template="{}",
        which=None, progress=True):
    """Invert and judge under every variant. Returns ({variant: Inversion}, per-image frame, summary)."""
    recipe = recipe or model.default_recipe or Recipe()
    invs, frames = {}, []
    for name, r in variants(recipe, which).items():
        inv, df = evaluate(model, judge, prompts, seeds, recipe=r, labels=labels, truth=truth,
                           template=template, progress=progress)
        df.insert(0, "variant", name)
        invs[name] = inv
        frames.append(df)
    per_image = pd.concat(frames, ignore_index=True)
    return invs, per_image, summary(per_image, "variant")
