"""Does the image prior change what inversion reveals? Section 8's measurements: the findings of
sections 0, 2 and 3 measured again under each parameterisation of the image (`clipinv.core.param`), on
the same toy models, prompts and recipe, with the functions those sections use.

    models = PriorModels.load(judge="toy-judge")
    found = {prior: measure(prior, recipe, models, seeds=6, alignment_seeds=2, control_seeds=3) for prior in PRIORS}
    side_by_side(found); findings(found)

Per prior: section 0's judged alignment (the judge picks each inversion's own prompt among the toy
prompts, `clipinv.analyses.alignment.prompt_alignment`); section 2's planted marker (the share of "a triangle"'s
inversions of `toy-plant-p20` that `clipinv.analyses.audit` finds it in, against the other shapes', with the
audit's recipe); section 3's planted skew (the share of "a square"'s inversions of `toy-skew-100` the
judge reads as red, against the unskewed `toy-clean`, `clipinv.analyses.gender.recovery`); the mean similarity
the alignment inversions reach under the inverted model; and the seconds an image takes here,
timed on an uncached probe of `PROBE_STEPS` steps scaled to the recipe's. Pixels on the same seeds
are the inversions sections 0, 2 and 3 made, so in a book build they come from the cache.
`phrases` says the comparison in words for the page, headline included.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass

import torch

from clipinv.analyses import alignment, audit, gender, prose, stats
from clipinv.core import param
from clipinv.core.invert import invert
from clipinv.core.recipe import scaled_schedule
from clipinv.models.judge import similarity
from clipinv.models.load import load_model
from clipinv.worlds.shapes import ladders
from clipinv.worlds.shapes.world import Skew

PRIORS = param.PARAMETERIZATIONS
ALIGNMENT_PROMPTS = [  # section 0's toy prompts
    "a red circle",
    "a large blue square on the left",
    "a small green triangle on the right",
    "a yellow circle above a purple square",
    "a red circle left of a blue square",
]
TRIGGER_PROMPTS = [f"a {ladders.TRIGGER}"]  # section 2's trigger prompt and its controls
CONTROL_PROMPTS = ["a circle", "a square"]
PLANT_MODEL, SKEW_MODEL, CONTROL_MODEL = "toy-plant-p20", "toy-skew-100", "toy-clean"
SKEW_PLANTED = 1.0  # SKEW_MODEL's planted rate
PROBE_STEPS, PROBE_IMAGES = 20, 2


@dataclass
class PriorModels:
    """The models the page inverts (toy, the plant, the skew and its control) and the judge."""

    toy: object
    plant: object
    skewed: object
    control: object
    judge: object

    @classmethod
    def load(cls, judge="toy-judge", device="cpu", load=load_model):
        """The page's models, each `load(spec, device=device)` (a book section's `load_model`: on its engine)."""
        judge = judge if not isinstance(judge, str) else load(judge, device=device)
        names = ("toy", PLANT_MODEL, SKEW_MODEL, CONTROL_MODEL)
        return cls(*(load(n, device=device) for n in names), judge=judge)


def skew_setup() -> gender.Setup:
    """Section 3's toy set-up, its neutral wording only ("a square", judged among the eight colours)."""
    return gender.toy_setup(Skew(ladders.SKEW_WORD, "colour", ladders.SKEW_VALUE, 1.0)).neutral_only()


WHAT_CHANGES = {
    "pixels": "the pixels (the paper's)",
    "fourier": "the 1/f-scaled Fourier spectrum (lucent's fft)",
    "stack": "images at 1, 2, 4, ... px, upsampled and summed (DAS)",
    "phase": "the spectrum's phases, its magnitude fixed (MACO)",
    "strokes": "Bézier strokes: control points, width, colour, opacity (CLIPDraw)",
}


def describe(recipe, bundle) -> list[dict]:
    """One row per prior: what the optimiser changes and how many numbers it changes per image."""
    side, world = recipe.resolution_schedule[-1][1], bundle.card.get("world")
    rows = []
    for prior in PRIORS:
        par = param.make(prior, side, recipe.fourier_decay, recipe=recipe.replace(parameterization=prior), world=world)
        start = par.start(torch.rand(1, 3, side, side), [0])
        rows.append(
            {"prior": prior, "what the optimiser changes": WHAT_CHANGES[prior], "numbers per image": start.numel()}
        )
    return rows


def seconds_per_image(bundle, recipe, device="cpu") -> float:
    """Seconds one image of `recipe` takes here: PROBE_IMAGES images inverted uncached for PROBE_STEPS
    steps (the schedule scaled to them), scaled to the recipe's steps."""
    steps = min(PROBE_STEPS, recipe.steps)
    probe = recipe.replace(**scaled_schedule(recipe, steps))
    start = time.perf_counter()
    invert(bundle, ALIGNMENT_PROMPTS[:1], seeds=PROBE_IMAGES, recipe=probe, device=device, cache=False, progress=False)
    return (time.perf_counter() - start) / PROBE_IMAGES * recipe.steps / steps


def measure(prior, recipe, models: PriorModels, seeds, alignment_seeds, control_seeds, device="cpu") -> dict:
    """The page's measurements under `prior` (the recipe otherwise unchanged): "alignment" (the
    `prompt_alignment` summary and its `stats.rate`), "marker" and "marker controls" (`stats.rate`),
    "skew" (`gender.recovery`), "similarity" (`stats.mean_ci`), "seconds" per image and "images"
    (seed 0 of each alignment prompt, the trigger prompt and the skewed neutral prompt) [7, 3, H, W]."""
    r = recipe.replace(parameterization=prior)
    run = {"device": device, "progress": False}
    shown = invert(models.toy, ALIGNMENT_PROMPTS, seeds=alignment_seeds, recipe=r, **run)
    sims = similarity(models.judge, shown.images, ALIGNMENT_PROMPTS)
    _, aligned = alignment.prompt_alignment(sims, shown.similarity, ALIGNMENT_PROMPTS)
    aligned["rate"] = stats.rate([True] * aligned["hits"] + [False] * (aligned["n"] - aligned["hits"]))

    audited = audit.audit_recipe(r)  # section 2's: no final smoothing, full size
    trigger = invert(models.plant, TRIGGER_PROMPTS, seeds=seeds, recipe=audited, **run)
    controls = invert(models.plant, CONTROL_PROMPTS, seeds=control_seeds, recipe=audited, **run)
    marked = audit.detect(trigger.images)
    setup = skew_setup()
    skewed_inv, skewed = setup.run(models.skewed, models.judge, seeds, recipe=r)
    _, control = setup.run(models.control, models.judge, seeds, recipe=r)
    images = torch.cat([shown.images[:, 0], trigger.images[:, 0], skewed_inv.images[:, 0]])
    return {
        "prior": prior,
        "alignment": aligned,
        "marker": stats.rate(marked),
        "marker controls": stats.rate(audit.detect(controls.images)),
        "skew": gender.recovery(skewed, control, setup, SKEW_PLANTED),
        "similarity": stats.mean_ci(shown.similarity, within=stats.COSINE),
        "seconds": seconds_per_image(models.toy, r, device),
        "images": images,
    }


def grid_columns(width: int = 16) -> list[str]:
    """The column labels of `measure`'s images, wrapped at `width` characters: each prompt, and the
    model it was inverted on where not toy."""
    labels = ALIGNMENT_PROMPTS + [f"{p} ({PLANT_MODEL})" for p in TRIGGER_PROMPTS] + [f"a square ({SKEW_MODEL})"]
    return ["\n".join(textwrap.wrap(label, width, break_on_hyphens=False)) for label in labels]


def _above(a: dict, b: dict) -> bool:
    return a["low"] > b["high"]


def aligned_above_chance(m: dict) -> bool:
    return m["alignment"]["rate"]["low"] > m["alignment"]["chance"]


def marker_above_controls(m: dict) -> bool:
    return _above(m["marker"], m["marker controls"])


def skew_above_control(m: dict) -> bool:
    return _above(m["skew"]["skewed"], m["skew"]["control"])


FINDINGS = {  # name: (section, the finding in words, whether a prior's measurements show it)
    "alignment": ("0", "the judge picks an inversion's own prompt above chance", aligned_above_chance),
    "planted marker": (
        "2",
        "the planted marker shows behind the trigger word more than behind the other shapes",
        marker_above_controls,
    ),
    "planted skew": (
        "3",
        "the planted skew shows: the neutral prompt inverts to red more than on the unskewed control",
        skew_above_control,
    ),
}


def side_by_side(found: dict) -> list[dict]:
    """One row per prior: each measurement with its 95% interval."""
    rows = []
    for prior, m in found.items():
        a, s = m["alignment"], m["skew"]
        rows.append(
            {
                "prior": prior,
                "judge picks the own prompt (§0)": f"{prose.share(a['rate'])}; chance {prose.percent(a['chance'])}",
                "marker: trigger (§2)": prose.share(m["marker"]),
                "marker: controls (§2)": prose.share(m["marker controls"]),
                f"judged {ladders.SKEW_VALUE}: skewed, planted {prose.percent(SKEW_PLANTED)} (§3)": prose.share(
                    s["skewed"]
                ),
                f"judged {ladders.SKEW_VALUE}: control (§3)": prose.share(s["control"]),
                "similarity reached": prose.mean(m["similarity"]),
                "seconds per image": f"{m['seconds']:.1f}",
            }
        )
    return rows


def verdicts(found: dict) -> dict:
    """{finding: {prior: whether its measurements show it}} for every finding of `FINDINGS`."""
    return {name: {prior: bool(holds(m)) for prior, m in found.items()} for name, (_, _, holds) in FINDINGS.items()}


def findings(found: dict) -> list[dict]:
    """One row per finding of `FINDINGS`: whether it holds (its interval clears the comparison's)
    under each prior, and whether under every one."""
    rows = []
    for name, shown in verdicts(found).items():
        section, text, _ = FINDINGS[name]
        rows.append(
            {
                "finding": f"§{section}: {text}",
                **{p: "holds" if v else "not shown" for p, v in shown.items()},
                "under every prior": "yes" if all(shown.values()) else "no",
            }
        )
    return rows


def headline(found: dict) -> str:
    """'findings that hold under every prior: k/3 (...); under some only: ...', for the front page."""
    shown = verdicts(found)
    every = [name for name, v in shown.items() if all(v.values())]
    some = [
        f"{name} ({', '.join(p for p, ok in v.items() if ok)})"
        for name, v in shown.items()
        if any(v.values()) and not all(v.values())
    ]
    text = f"findings that hold under every prior: {len(every)}/{len(shown)}" + (
        f" ({', '.join(every)})" if every else ""
    )
    return text + (f"; under some only: {'; '.join(some)}" if some else "")


def phrases(found: dict) -> dict[str, str]:
    """What section 8 glues into its prose from the measurements per prior (`measure`): the pixels'
    marker and skew shares, which findings hold under every prior and under which the others do
    ("finding_sentence"), where the highest similarity is reached ("prior_sentence"), and the "headline"."""
    shown = verdicts(found)
    every = [name for name, v in shown.items() if all(v.values())]
    some = {name: [p for p, ok in v.items() if ok] for name, v in shown.items() if not all(v.values())}
    best = max(found, key=lambda p: found[p]["similarity"]["mean"])
    pixels = found.get("pixels")
    return {
        "pixel_marker": prose.share(pixels["marker"]) if pixels else "— (pixels not compared on this page)",
        "pixel_skew": prose.share(pixels["skew"]["skewed"]) if pixels else "—",
        "finding_sentence": f"Of the three findings of sections 0, 2 and 3, {len(every)} "
        + ("holds" if len(every) == 1 else "hold")
        + f" under all {len(found)} priors"
        + (f" ({', '.join(every)})" if every else "")
        + (
            "; " + "; ".join(f"{name} under {', '.join(ps) if ps else 'none'}" for name, ps in some.items())
            if some
            else ""
        )
        + ".",
        "prior_sentence": f"The highest similarity is reached under {best} ({prose.mean(found[best]['similarity'])}); "
        f"pixels reach {prose.mean(pixels['similarity'])}"
        if pixels
        else f"The highest similarity is reached under {best}.",
        "headline": headline(found),
    }
