"""The live explorer's widget app, in-process: its Invert button, progress bar, redraws, error line."""

from __future__ import annotations

import html
import io
import re

import pytest
import torch
from PIL import Image

from clipinv import explorer
from clipinv.nsfw import blur_flagged, trigger_image
from clipinv.toy import TOY_RECIPE


def decoded(png: bytes) -> torch.Tensor:
    from torchvision.transforms.functional import pil_to_tensor

    return pil_to_tensor(Image.open(io.BytesIO(png)).convert("RGB"))


def test_app_builds_the_widgets_at_the_models_recipe():
    import ipywidgets as w

    box = explorer.app(model="toy", prompt="a red circle", steps=7)
    assert isinstance(box, w.VBox)
    kinds = [type(c).__name__ for c in box.children]
    for kind in ("Dropdown", "Text", "FloatSlider", "IntSlider", "Button", "IntProgress", "Image", "HTML"):
        assert kind in kinds, kinds
    sliders = {c.description: c.value for c in box.children if isinstance(c, (w.FloatSlider, w.IntSlider))}
    assert sliders == {"TV": TOY_RECIPE.tv_weight, "L1": TOY_RECIPE.l1_weight, "steps": 7, "copies": 16}
    model = next(c for c in box.children if isinstance(c, w.Dropdown))
    assert model.value == "toy" and {"toy", "toy-judge"} <= set(model.options)
    assert next(c for c in box.children if isinstance(c, w.Button)).description == "Invert"


def test_invert_redraws_while_it_optimises_and_ends_on_the_similarity():
    ex = explorer.Explorer(model="toy", prompt="a red circle", steps=12, redraw_steps=3, redraw_seconds=0)
    placeholder = bytes(ex.image.value)
    frames, progress = [], []
    ex.image.observe(lambda c: frames.append(bytes(c.new)), names="value")
    ex.progress.observe(lambda c: progress.append(c.new), names="value")
    ex.button.click()
    assert ex.progress.max == 12 and ex.progress.value == 12 and ex.progress.bar_style == "success"
    assert [p for p in progress if p < 12] == [3, 6, 9], progress  # the bar moved during the run
    during = frames[:-1]  # the last frame is the final image
    assert len(set(during)) >= 3 and placeholder not in frames, "the image was not redrawn during the run"
    assert all(f.startswith(b"\x89PNG") for f in frames)
    assert Image.open(io.BytesIO(frames[-1])).size == (192, 192)  # 32 px, enlarged 6x
    m = re.fullmatch(r"similarity (-?\d\.\d{3}) to the prompt .*a red circle.*", html.unescape(ex.status.value))
    assert m and -1 <= float(m.group(1)) <= 1, ex.status.value
    assert not ex.button.disabled


def test_the_steps_slider_scales_the_schedule_and_a_model_choice_resets_the_sliders():
    ex = explorer.Explorer(model="toy", steps=40)
    ex.tv.value = 0.02
    recipe = ex.recipe(ex._bundle("toy"))
    assert recipe.steps == 40 and recipe.tv_weight == 0.02 and recipe.resolution_schedule == ((0, 16), (20, 32))
    ex.model.value = "toy-judge"
    assert ex.tv.value == TOY_RECIPE.tv_weight and ex.steps.value == 40 and ex.status.value == ""


def test_a_pages_model_and_recipe_are_used_as_they_are():
    from clipinv import load_model

    bundle = load_model("toy")
    page = TOY_RECIPE.replace(tv_weight=0.003, n_augments=4)
    ex = explorer.Explorer(model=bundle, recipe=page)
    assert ex.model.value == "toy" and ex._bundle("toy") is bundle
    assert (ex.tv.value, ex.copies.value, ex.steps.value) == (0.003, 4, TOY_RECIPE.steps)
    ex.model.value = "toy-judge"  # another model: its own recipe
    assert (ex.tv.value, ex.copies.value) == (TOY_RECIPE.tv_weight, TOY_RECIPE.n_augments)


def test_shown_images_go_through_the_nsfw_blur():
    flagged = trigger_image()  # NudeNet flags it (clipinv.nsfw)
    ex = explorer.Explorer(model="toy")
    ex._show(flagged)
    blurred, mask = blur_flagged(flagged[None])
    assert bool(mask.all())
    assert torch.equal(decoded(ex.image.value), decoded(explorer.png(explorer.enlarged(blurred[0]))))
    ex.blur = False
    ex._show(flagged)
    assert torch.equal(decoded(ex.image.value), decoded(explorer.png(explorer.enlarged(flagged))))


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"prompt": "a dog"}, "the toy world has no word(s) 'dog'"),
        ({"prompt": "   "}, "the prompt is empty"),
        ({"model": "no-such-model"}, "unknown model spec 'no-such-model'"),
    ],
)
def test_a_bad_input_shows_its_one_line_not_a_traceback(settings, message):
    ex = explorer.Explorer(**{"steps": 3, **settings})
    ex.button.click()
    text = html.unescape(re.sub("<[^>]+>", "", ex.status.value))
    assert message in text and "\n" not in text and "Traceback" not in text, text
    assert ex.progress.bar_style == "danger" and not ex.button.disabled


def test_served_settings_read_the_environment_then_the_query_string(monkeypatch):
    monkeypatch.setenv(explorer.ENVIRONMENT, '{"model": "toy", "steps": 5, "device": "cpu"}')
    monkeypatch.setenv("QUERY_STRING", "model=toy-judge&prompt=a+blue+square&steps=9999")
    assert explorer.served_settings() == {"model": "toy-judge", "prompt": "a blue square", "steps": 5, "device": "cpu"}
