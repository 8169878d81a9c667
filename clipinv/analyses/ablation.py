"""Why these transformations? Each augmentation and regulariser of a recipe switched off in turn.

`variants(recipe)` returns the recipe as given ("full recipe") and one variant per part of it that
is on, with only that part off. Which parts there are, and how each is switched off, is said once,
by the knobs themselves (`clipinv.core.recipe.Recipe`: each knob's `ablation`): e.g. "no affine"
(affine_p 0), "border padding" (background_fill None, the paper's, and so the final image at full
size), "one copy" (n_augments 1), "no TV", "no gradient clip" (the clip raised to 1e6, never
binding), "no resolution schedule" (the final resolution from step 0), "no optimiser reset".

`run` inverts the same prompts x seeds under each and judges them (see `clipinv.analyses.judged_accuracy`).
"""

from __future__ import annotations

import pandas as pd

from clipinv.analyses.judged_accuracy import evaluate, readable, summary
from clipinv.core.recipe import Recipe, ablations
from clipinv.errors import ClipinvError


def variants(recipe: Recipe, which: list[str] | None = None) -> dict[str, Recipe]:
    out = {"full recipe": recipe, **ablations(recipe)}
    if which:
        unknown = [w for w in which if w not in out]
        if unknown:
            raise ClipinvError(f"unknown or inactive ablation(s) {unknown}: this recipe has {list(out)}")
        out = {k: v for k, v in out.items() if k == "full recipe" or k in which}
    return out


def changes(variants: dict[str, Recipe], base: Recipe) -> pd.DataFrame:
    """Per variant, the knobs it sets differently from `base`: 'affine_p=0.0' ('-' for none)."""
    rows = []
    for name, r in variants.items():
        diff = [f"{k}={v}" for k, v in r.to_dict().items() if v != getattr(base, k)]
        rows.append({"variant": name, "what changes": ", ".join(diff) or "-"})
    return pd.DataFrame(rows)


def largest_drop(summary: pd.DataFrame) -> pd.Series:
    """The variant whose judged-correct rate falls furthest below the full recipe's (the first row);
    the full recipe itself when it is the only row."""
    rest = summary.iloc[1:]
    return summary.iloc[0] if rest.empty else rest.sort_values("judged correct", kind="stable").iloc[0]


def run(
    model,
    judge,
    prompts,
    seeds,
    recipe: Recipe | None = None,
    labels=None,
    truth=None,
    template="{}",
    which=None,
    progress=True,
):
    """Invert and judge under every variant. Returns ({variant: Inversion}, per-image frame, summary)."""
    recipe = recipe or model.default_recipe or Recipe()
    invs, frames = {}, []
    for name, r in variants(recipe, which).items():
        inv, df = evaluate(
            model, judge, prompts, seeds, recipe=r, labels=labels, truth=truth, template=template, progress=progress
        )
        df.insert(0, "variant", name)
        invs[name] = inv
        frames.append(df)
    per_image = pd.concat(frames, ignore_index=True)
    return invs, per_image, summary(per_image, "variant")


def headline(summary: pd.DataFrame) -> str:
    """Section 6's line for the front page: the full recipe's judged accuracy and the largest drop's."""
    accuracy = readable(summary, "variant").set_index("variant")["judged correct"]
    worst = largest_drop(summary)["variant"]
    return f"full recipe judged correct {accuracy['full recipe']}; with {worst!r}: {accuracy[worst]}"
