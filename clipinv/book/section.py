"""What a notebook of the book uses to set itself up: `Section` (its models, recipe and captions
from its parameters).

    from clipinv.book.section import Section

    sec = Section.from_parameters(globals())  # the parameters cell's model, judge, profile, steps, ...

The runner that executes the notebooks is `clipinv.book.runner`; it injects `run`, how the section runs
(`engine_for`).
"""

from __future__ import annotations

import inspect

import torch

from clipinv.analyses import prose
from clipinv.book import figures
from clipinv.core.invert import invert
from clipinv.core.recipe import Recipe, scaled_schedule
from clipinv.errors import ClipinvError
from clipinv.models.load import load_model
from clipinv.runs.planning import Ledger, PlanningEngine
from clipinv.runs.ray_cluster import RayEngine


def engine_for(run: dict | None, device=None):
    """The engine a section's models invert on, from the `run` the runner injects: {"plan": FILE} plans
    (`PlanningEngine`); {"ray": ADDRESS} runs on Ray; {"ledger": FILE} writes what the run computed;
    "section" names the section in the rows. None (or {}): this process."""
    run = run or {}
    if run.get("plan"):
        return PlanningEngine(run["plan"], section=run.get("section"))
    engine = RayEngine(run["ray"], device=device) if run.get("ray") else None
    if run.get("ledger"):
        engine = Ledger(run["ledger"], engine, section=run.get("section"))
    return engine


from clipinv.worlds import world_of


class Section:
    """A notebook's set-up from its parameters: the models, the recipe, captions that name them.

        sec = Section.from_parameters(globals())  # in a page; or Section(model="toy", judge="toy-judge", ...)
        out = sec.invert(prompts, seeds)
        sec.caption("Inversions of ...", seeds=seeds)

    `steps` (None = the model's own recipe) shortens or lengthens the recipe; the resolution
    schedule is scaled with it, so every stage is still visited. `recipe` is a dict of further
    recipe changes (e.g. {"n_augments": 4}). A stand-in model (toy, ARCH:random) gets its admonition.
    `blur_nsfw` (default on) blurs NudeNet-flagged images in `show_images`. `run` (the runner injects
    it; None outside the book) says how the page runs: planned, on Ray (`clipinv section/book --ray`:
    the same results), or with a ledger (`engine_for`). The page's models carry that engine
    (`ModelBundle.engine`), so every inversion of theirs uses it, the analysis modules' too; a model
    the page loads itself goes through `sec.load_model` to get it. Nothing outside the section changes.
    """

    def __init__(
        self,
        model="toy",
        judge="toy-judge",
        profile=None,
        steps=None,
        precision="fp32",
        device="cpu",
        recipe=None,
        note=True,
        blur_nsfw=True,
        ladder_models=None,
        run=None,
    ):
        if device == "cuda" and not torch.cuda.is_available():
            raise ClipinvError(
                "this profile asks for device cuda but no CUDA GPU is visible: "
                "pass -p device cpu (slow) or use the classroom profile"
            )
        self.profile = profile
        self.device = device
        self.blur_nsfw = blur_nsfw
        self.ladder_models = dict(ladder_models or {})  # {world: what a page inverts there instead of `model`}
        self.engine = engine_for(run, device)
        self.bundle = self.load_model(model)
        self.judge = None if not judge else (self.bundle if judge == model else self.load_model(judge))
        base = self.bundle.default_recipe or Recipe()
        changes = dict(recipe or {})
        if precision:
            changes["precision"] = precision
        if steps:
            changes.update(scaled_schedule(base, int(steps)))
        self.recipe = base.replace(**changes)
        if note:
            figures.stand_in_note(self.bundle, self.judge, inverted=self.ladder_models.get(self.world))
        prose.glue("models", self.models_text())

    def load_model(self, spec: str, device=None):
        """`clipinv.load_model` for this page: on its device, its inversions on its engine (a plan's
        model: placeholder features, and random weights where the pretrained ones are missing)."""
        device = device or self.device
        if isinstance(self.engine, PlanningEngine):
            return self.engine.load(spec, device=device)
        bundle = load_model(spec, device=device)
        bundle.engine = self.engine
        return bundle

    @classmethod
    def from_parameters(cls, parameters: dict, **settings) -> Section:
        """The section of a page from its parameters cell, `Section.from_parameters(globals())`: the
        names `Section` takes (model, judge, profile, steps, precision, device, recipe, blur_nsfw) are
        read from `parameters`, the page's own are left; `settings` add or replace any of them."""
        known = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in parameters.items() if k in known}, **settings)

    @property
    def world(self) -> str:
        """The world this page runs on: "toy" (the shapes world's models) or "paper" (real CLIPs)."""
        return world_of(self.bundle.spec)

    def invert(self, prompts, seeds, recipe=None, progress=False, **kw):
        """`clipinv.invert` with this page's model, recipe and device (no progress bar: it would be a
        widget in the executed notebook; the explorer turns it on), on the page's engine (Ray where the
        runner says so, unless a callback watches the images here)."""
        return invert(
            self.bundle, prompts, seeds=seeds, recipe=recipe or self.recipe, device=self.device, progress=progress, **kw
        )

    def models_text(self) -> str:
        """'toy, judged by toy-judge': what made the page's numbers, for its prose and the front page
        (a page that inverts a world's shipped ladder names it: `ladder_models`)."""
        inverted = self.ladder_models.get(self.world, self.bundle.spec)
        return inverted + (f", judged by {self.judge.spec}" if self.judge and self.judge is not self.bundle else "")

    def meta(self, **settings) -> dict:
        return {
            "model": self.bundle.spec,
            "judge": self.judge.spec if self.judge else None,
            "profile": self.profile,
            "steps": self.recipe.steps,
            **settings,
        }

    def caption(self, text: str, **settings):
        return figures.caption(text, **self.meta(**settings))

    def show(self, fig, text: str, **settings):
        return figures.show(fig, text, **self.meta(**settings))

    def show_images(self, images, text: str, row_labels=None, col_labels=None, values=None, size=1.6, **settings):
        """An image grid (`figures.image_grid`) with its caption, NSFW-flagged images blurred unless the
        page turned `blur_nsfw` off; the caption says how many were. Returns the flags [R, C]."""
        fig, flagged = figures.image_grid(
            images, row_labels=row_labels, col_labels=col_labels, values=values, blur=self.blur_nsfw, size=size
        )
        blurred = f"{int(flagged.sum())} NSFW-flagged" if self.blur_nsfw else "off"
        self.show(fig, text, **settings, blurred=blurred)
        return flagged
