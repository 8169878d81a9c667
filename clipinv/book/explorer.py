"""The live explorer of section 0: a prompt, the regularisers, the steps and copies, the image prior and
its opacity channel, a model, *Invert*, a progress bar, and the image redrawn while it optimises, then
its final similarity; under it, what CLIP reads in that image (`ReadingPanel`: its words, read back by the model that drew it, `clipinv.read`).

    from clipinv.book import explorer
    explorer.app(model="emoji", prompt="a rocket")   # an ipywidgets box, for Jupyter or Voilà

`clipinv explore` serves it in the browser with Voilà (`clipinv.book.explorer_server`). The sliders start
at the chosen model's recipe: a page's own `Recipe` (`explorer.app(model=sec.bundle, recipe=sec.recipe)`),
or the model's default with `recipe`'s changes (a dict, as `Section` takes); the steps slider scales
the resolution schedule with it (`scaled_schedule`). Every image shown goes through
the NSFW blur (`clipinv.book.figures.safe_images`) and is enlarged with nearest-neighbour to at least `size` pixels.
A `ClipinvError` (an unknown word, a bad model) shows as its one line under the image.
"""

from __future__ import annotations

import html
import io
import math
import os
import sys
import time
import traceback
from urllib.parse import parse_qs

import torch
import torch.nn.functional as F

from clipinv.book.figures import safe_images
from clipinv.core.images import to_pil
from clipinv.core.invert import invert
from clipinv.core.param import PARAMETERIZATIONS
from clipinv.core.recipe import Recipe, scaled_schedule
from clipinv.errors import ClipinvError
from clipinv.models.load import LOADERS, load_model
from clipinv.worlds import world_of

QUERY_KEYS = ("model", "prompt")  # what a URL may change: http://127.0.0.1:8866/?model=emoji-judge


def shipped_models() -> list[str]:
    """The models that load offline by name: every world's (`clipinv.worlds`), the emoji world's first."""
    from clipinv.worlds import emoji, shapes  # noqa: F401  (each world registers its loader on import)

    names = list(dict.fromkeys(n for loader in LOADERS for n in loader.names()))
    return sorted(names, key=lambda n: world_of(n) != "emoji")  # stable: each world's own order kept


def enlarged(image: torch.Tensor, size: int = 192) -> torch.Tensor:
    """[3, H, W] enlarged by a whole factor (nearest-neighbour: each pixel a square) to >= size pixels."""
    factor = max(1, math.ceil(size / max(image.shape[-2:])))
    return F.interpolate(image[None].float(), scale_factor=factor, mode="nearest")[0]


def png(image: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


class Explorer:
    """The widgets and what *Invert* does; `box` is the app.

    model:  a spec, or a loaded `ModelBundle` (a page's own, used as it is); the others offered are
            `shipped_models()`.
    recipe: a `Recipe` for the starting model (a page's own), or a dict of changes to each model's recipe.
    steps:  where the steps slider starts (default: the recipe's).
    redraw_steps / redraw_seconds: the image and the progress bar are redrawn at most every so many
            steps and seconds (and at the end)."""

    def __init__(
        self,
        model="emoji",
        prompt: str = "a rocket",
        steps: int | None = None,
        device: str = "cpu",
        blur: bool = True,
        recipe: Recipe | dict | None = None,
        size: int = 192,
        redraw_steps: int = 5,
        redraw_seconds: float = 0.2,
    ):
        import ipywidgets as w

        self.device, self.blur, self.size = device, blur, size
        self.redraw_steps, self.redraw_seconds = redraw_steps, redraw_seconds
        self._bundles, self._recipes = {}, {}
        if not isinstance(model, str):
            self._bundles[model.spec] = model
            model = model.spec
        if isinstance(recipe, Recipe):
            self._recipes[model] = recipe
        self.changes = {} if isinstance(recipe, Recipe) else dict(recipe or {})
        self._last = (0, 0.0)
        wide = w.Layout(width="90%")
        self.model = w.Dropdown(
            options=list(dict.fromkeys([model, *shipped_models()])), value=model, description="model"
        )
        self.prompt = w.Text(value=prompt, description="prompt", layout=wide)
        self.tv = w.FloatSlider(min=0.0, max=0.05, step=0.0005, readout_format=".4f", description="TV")
        self.l1 = w.FloatSlider(min=0.0, max=0.001, step=0.00001, readout_format=".5f", description="L1")
        self.steps = w.IntSlider(min=1, max=100, description="steps")
        self.copies = w.IntSlider(min=1, max=32, description="copies")
        self.prior = w.Dropdown(options=list(PARAMETERIZATIONS), description="prior")  # the image's parameterisation
        self.opacity = w.Checkbox(description="opacity channel: the object drawn over random backgrounds", layout=wide)
        self.button = w.Button(description="Invert", button_style="primary")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="")
        self.image = w.Image(format="png")
        self._draw(torch.full((3, 32, 32), 0.5))  # a grey placeholder until the first run
        self.status = w.HTML(value="")
        self.box = w.VBox(
            [self.model, self.prompt, self.tv, self.l1, self.steps, self.copies, self.prior, self.opacity]
            + [self.button, self.progress]
            + [self.image, self.status]
        )
        self.start_steps = steps
        self._reset_sliders()
        self.model.observe(lambda _change: self._reset_sliders(), names="value")
        self.button.on_click(self.run)
        self.reading = ReadingPanel(self)
        self.box.children = (*self.box.children, self.reading.box)

    def _bundle(self, spec: str):
        if spec not in self._bundles:
            self._bundles[spec] = load_model(spec, device=self.device)
        return self._bundles[spec]

    def _base(self, bundle) -> Recipe:
        if bundle.spec not in self._recipes:
            self._recipes[bundle.spec] = (bundle.default_recipe or Recipe()).replace(**self.changes)
        return self._recipes[bundle.spec]

    def _reset_sliders(self):
        """The sliders at the chosen model's recipe, the steps at `steps` if given (an unusable model: its
        error line, the sliders kept)."""
        try:
            base = self._base(self._bundle(self.model.value))
        except ClipinvError as e:
            return self._error(e)
        self.status.value = ""
        self.tv.max = max(0.05, 4 * base.tv_weight)
        self.l1.max = max(0.001, 4 * base.l1_weight)
        self.steps.max = max(4 * base.steps, 100, self.start_steps or 0)
        self.copies.max = max(32, base.n_augments)
        self.tv.value, self.l1.value, self.copies.value = base.tv_weight, base.l1_weight, base.n_augments
        self.steps.value = self.start_steps or base.steps
        self.prior.value = base.parameterization
        self.opacity.value = base.opacity

    def recipe(self, bundle) -> Recipe:
        """The model's recipe with the sliders' values, its resolution schedule scaled to the steps. The opacity
        box, ticked on a recipe without the channel, shows the image at full size over the recipe's grey (or
        mid-grey where it pads with the border): the object already stands on it, as research/emoji_world.md
        measured it."""
        base = self._base(bundle)
        added = self.opacity.value and not base.opacity
        grey = 0.5 if added and base.background_fill is None else base.background_fill
        return base.replace(
            tv_weight=self.tv.value,
            l1_weight=self.l1.value,
            n_augments=self.copies.value,
            parameterization=self.prior.value,
            opacity=self.opacity.value,
            background_fill=grey,
            final_scale=1.0 if added else base.final_scale,
            **scaled_schedule(base, self.steps.value),
        )

    def _error(self, error):
        self.status.value = f'<span style="color:#b00020">{html.escape(str(error))}</span>'

    def _draw(self, image: torch.Tensor):
        big = enlarged(image, self.size)
        self.image.width, self.image.height = str(big.shape[-1]), str(big.shape[-2])  # shown 1:1, not stretched
        self.image.value = png(big)

    def _show(self, image: torch.Tensor):
        shown, _flagged = safe_images(image.detach().float().cpu()[None], blur=self.blur)
        self._draw(shown[0])

    def _frame(self, done: int, images: torch.Tensor, _items):
        """invert's callback: redraw the first image and the bar at most every redraw_steps/_seconds."""
        last_done, last_time = self._last
        now = time.monotonic()
        end = done == self.progress.max
        if not end and (done - last_done < self.redraw_steps or now - last_time < self.redraw_seconds):
            return
        self._last = (done, now)
        self.progress.value = done
        self._show(images[0])

    def run(self, _button=None):
        """Invert the prompt with the sliders' recipe, watching it; errors become the status line."""
        self.button.disabled = True
        self.status.value = "inverting..."
        self.progress.bar_style = ""
        try:
            prompt = self.prompt.value.strip()
            if not prompt:
                raise ClipinvError('the prompt is empty: type one, e.g. "a rocket"')
            bundle = self._bundle(self.model.value)
            recipe = self.recipe(bundle)
            self.progress.value, self.progress.max = 0, recipe.steps
            self._last = (0, time.monotonic())
            result = invert(
                bundle, [prompt], seeds=1, recipe=recipe, device=self.device, progress=False, callback=self._frame
            )
        except ClipinvError as e:
            self.progress.bar_style = "danger"
            self._error(e)
            return
        except Exception as e:  # a bug, not a bad input: its line here, its traceback where the kernel logs
            self.progress.bar_style = "danger"
            self._error(f"{type(e).__name__}: {e} (the traceback is in the terminal that runs the kernel)")
            traceback.print_exc(file=sys.__stderr__)
            return
        finally:
            self.button.disabled = False
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self._show(result.images[0, 0])
        self.reading.image_changed(bundle, result.images[0, 0])
        cached = " (from the cache: change a slider to watch a new run)" if result.record["cached"] else ""
        similarity = float(result.similarity[0, 0])
        note = bundle.unknown_words_note([prompt])
        note = f"<br><i>note: {html.escape(note)}</i>" if note else ""
        self.status.value = (
            f"similarity {similarity:.3f} to the prompt &ldquo;{html.escape(prompt)}&rdquo;{cached}{note}"
        )


class ReadingPanel:
    """What CLIP reads: the image on screen read back into words by the model that drew it
    (`clipinv.read`, a few seeds), each reading with its cosine to the image."""

    def __init__(self, explorer: Explorer, n_tokens: int = 4, seeds: int = 3):
        import ipywidgets as w

        self.explorer, self.n_tokens, self.seeds = explorer, n_tokens, seeds
        self.image, self.bundle = None, None
        self.button = w.Button(description="Read it back", disabled=True, tooltip="invert first: then read the image")
        self.words = w.HTML(value="<i>invert a prompt, then read its image back into words</i>")
        title = w.HTML(value="<b>What CLIP reads</b> in the image on screen (its own vocabulary, clipinv.read)")
        self.box = w.VBox([title, self.button, self.words])
        self.button.on_click(self.run)

    def image_changed(self, bundle, image: torch.Tensor):
        self.bundle, self.image = bundle, image.detach().cpu()
        self.button.disabled = False
        self.words.value = ""

    def run(self, _button=None):
        from clipinv.core.reading import read

        self.button.disabled = True
        self.words.value = "reading..."
        try:
            r = read(self.bundle, self.image, n_tokens=self.n_tokens, seeds=self.seeds, progress=False)
        except ClipinvError as e:
            self.words.value = f'<span style="color:#b00020">{html.escape(str(e))}</span>'
            return
        finally:
            self.button.disabled = False
        order = r.similarity[0].argsort(descending=True).tolist()
        lines = [f"&ldquo;{html.escape(r.texts[0][j])}&rdquo; (cosine {float(r.similarity[0, j]):.3f})" for j in order]
        self.words.value = "<br>".join(lines)


def app(
    model="emoji",
    prompt: str = "a rocket",
    steps: int | None = None,
    device: str = "cpu",
    blur: bool = True,
    recipe: Recipe | dict | None = None,
    **options,
):
    """The explorer as an ipywidgets box (the arguments, and `size`, `redraw_steps`, `redraw_seconds`: `Explorer`)."""
    return Explorer(model=model, prompt=prompt, steps=steps, device=device, blur=blur, recipe=recipe, **options).box


def served_settings(options: dict | None = None) -> dict:
    """app()'s keywords in the notebook `clipinv explore` serves: its `options` (written into the served
    notebook by the server), then `model` and `prompt` from the page's query string (Voilà's own channel:
    it starts each kernel with the page's QUERY_STRING in its environment). A page picks only the model
    the server was started with or a shipped one: no other spec is loaded."""
    settings = dict(options or {})
    query = parse_qs(os.environ.get("QUERY_STRING", ""))
    settings.update({k: query[k][-1] for k in QUERY_KEYS if query.get(k)})
    started = (options or {}).get("model", "emoji")
    if settings.get("model", started) not in (started, *shipped_models()):
        settings["model"] = started
    return settings
