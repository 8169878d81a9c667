"""The live explorer: the widget app in-process (its Invert button, progress bar, redraws, error line),
`clipinv explore` served by Voilà and driven in the system Chromium with every outside host
unresolvable, and the command's one-line errors."""

from __future__ import annotations

import html
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from helpers import chromium
from PIL import Image

from clipinv.book import explorer
from clipinv.safety import blur_flagged, trigger_image
from clipinv.worlds.shapes import TOY_RECIPE

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


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


def test_the_explorer_starts_on_the_emoji_world_and_notes_words_it_never_read():
    ex = explorer.Explorer(steps=3)
    assert (ex.model.value, ex.prompt.value) == ("emoji", "a rocket")
    assert list(ex.model.options[:2]) == ["emoji", "emoji-judge"] and {"toy", "toy-judge"} <= set(ex.model.options)
    ex.prompt.value = "a panda mad scientist"
    ex.button.click()
    text = html.unescape(re.sub("<[^>]+>", " ", ex.status.value))
    assert ex.progress.bar_style == "success" and "to the prompt" in text, text
    assert "emoji never read 'mad' in training" in text, text
    assert Image.open(io.BytesIO(bytes(ex.image.value))).size == (192, 192)  # 48 px, enlarged 4x


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


def test_the_opacity_box_draws_the_image_over_the_grey_and_a_model_choice_resets_it():
    ex = explorer.Explorer(model="toy", prompt="a red circle", steps=3)
    assert ex.opacity.value is False and ex.recipe(ex._bundle("toy")).opacity is False
    ex.opacity.value = True
    recipe = ex.recipe(ex._bundle("toy"))
    assert recipe.opacity and recipe.background_fill == TOY_RECIPE.background_fill and recipe.final_scale == 1.0
    assert TOY_RECIPE.final_scale < 1  # the box shows the object at full size: the grey is already around it
    ex.button.click()
    assert ex.progress.bar_style == "success", ex.status.value
    ex.model.value = "toy-judge"
    assert ex.opacity.value is False
    border = explorer.Explorer(model="toy", recipe={"background_fill": None, "final_scale": 1.0})
    border.opacity.value = True  # a recipe that pads with the border, as the paper's: the image needs a grey
    assert border.recipe(border._bundle("toy")).background_fill == 0.5


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
    flagged = trigger_image()  # NudeNet flags it (clipinv.analyses.nsfw)
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
        ({"model": "toy", "prompt": "a dog"}, "the toy world has no word(s) 'dog'"),
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


def test_served_settings_read_the_server_options_then_the_query_string(monkeypatch):
    options = {"model": "toy", "steps": 5, "device": "cpu"}
    monkeypatch.setenv("QUERY_STRING", "model=toy-judge&prompt=a+blue+square&steps=9999")
    assert explorer.served_settings(options) == {
        "model": "toy-judge",
        "prompt": "a blue square",
        "steps": 5,
        "device": "cpu",
    }


def test_a_page_cannot_make_the_served_explorer_load_another_model(monkeypatch):
    for spec in ("ViT-bigG-14:random", "ViT-B-16:/etc/passwd", "hf-hub:someone/anything"):
        monkeypatch.setenv("QUERY_STRING", f"model={spec}&prompt=a+circle")
        assert explorer.served_settings({"model": "toy"}) == {"model": "toy", "prompt": "a circle"}, spec


# ---------------------------------------------------------------- the command


def command(*args) -> list[str]:
    return [sys.executable, "-m", "clipinv.cli", "explore", *args]


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unknown_model_fails_in_one_line_before_any_server_starts():
    r = subprocess.run(
        command("--model", "no-such-model", "--no-browser", "--port", "0"),
        check=False,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
    )
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "unknown model spec 'no-such-model'" in r.stderr and "`clipinv models`" in r.stderr
    assert "explorer: http" not in r.stdout


def test_a_port_in_use_fails_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            command("--port", str(port), "--no-browser"),
            check=False,
            capture_output=True,
            text=True,
            env=environment(),
            timeout=120,
        )
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"port {port} on 127.0.0.1 is in use: pick another with --port N" in r.stderr


def test_the_served_explorer_inverts_in_the_browser_offline():
    """`clipinv explore` in a subprocess; Chromium with every host name unresolvable but 127.0.0.1 types
    a prompt, presses Invert, sees the image change and the bar complete; every request the page makes
    goes to 127.0.0.1; Ctrl-C (SIGINT) stops the server cleanly."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        command("--no-browser", "--port", str(port), "--steps", "12"),
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()
    requests = []
    try:
        deadline = time.monotonic() + 120
        while not (printed := re.search(rf"explorer: ({re.escape(url)}\?token=\S+) ", "".join(lines))):
            assert server.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium(),
                args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
            )
            page = browser.new_page(viewport={"width": 1000, "height": 760})
            page.on("request", lambda r: requests.append(r.url))
            page.on("websocket", lambda ws: requests.append(ws.url))
            page.goto(printed.group(1))  # the URL with its token
            page.wait_for_selector("button:has-text('Invert')", timeout=120_000)  # the kernel ran the app
            image = page.locator("img.widget-image")
            placeholder = image.get_attribute("src")
            page.locator(".widget-text input").fill("a red apple")
            page.click("button:has-text('Invert')")
            page.wait_for_function("document.body.innerText.includes('similarity')", timeout=120_000)
            status = page.inner_text("body")
            width = page.eval_on_selector(".progress-bar", "e => e.style.width")
            final = image.get_attribute("src")
            size = image.evaluate("e => [e.naturalWidth, e.naturalHeight, e.clientWidth]")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
            browser.close()
        assert re.search(r"similarity -?\d\.\d{3} to the prompt .a red apple.", status), status
        assert width == "100%" and final != placeholder and size == [192, 192, 192], (width, size)
        outside = [
            u for u in requests if not u.startswith("data:") and not re.match(r"^(blob:)?\w+://127\.0\.0\.1:", u)
        ]
        assert any(u.startswith(f"ws://127.0.0.1:{port}/") for u in requests), requests
        assert not outside, f"the page asked hosts other than 127.0.0.1: {outside}"
        server.send_signal(signal.SIGINT)  # Ctrl-C
        assert server.wait(timeout=60) == 0 and "explorer: stopped" in "".join(lines[-3:]), "".join(lines)
    finally:
        if server.poll() is None:
            server.terminate()  # stops Voilà and removes the temporary folder, as Ctrl-C does
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def kernels(server: subprocess.Popen) -> list:
    """The kernel processes the server runs."""
    import psutil

    def is_kernel(p) -> bool:
        try:
            return "ipykernel_launcher" in p.cmdline()
        except psutil.Error:  # gone, or a zombie: a kernel that has exited is not running
            return False

    return [p for p in psutil.Process(server.pid).children(recursive=True) if is_kernel(p)]


def get(port: int, path: str, host: str | None = None):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def test_only_the_printed_url_starts_a_kernel_and_an_idle_kernel_is_shut_down():
    """No token (a page elsewhere asking for any model): no kernel. The token but another Host (a
    DNS-rebinding page): 403. The printed URL: a kernel, shut down once it idles with no page on it."""
    port = free_port()
    server = subprocess.Popen(
        command("--no-browser", "--port", str(port), "--cull-after", "3"),
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not (found := re.search(rf"explorer: http://127\.0\.0\.1:{port}/\?token=(\S+) ", "".join(lines))):
            assert server.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        token = found.group(1)
        status, _ = get(port, "/?model=ViT-bigG-14:random")
        assert status in (302, 403), status  # to the login page, or refused
        status, _ = get(port, f"/?token={token}", host=f"attacker.example:{port}")
        assert status == 403
        time.sleep(2)
        assert not kernels(server), "a request without the token started a kernel"
        status, body = get(port, f"/?token={token}")
        assert status == 200 and b"clipinv" in body
        assert kernels(server), "the printed URL started no kernel"
        deadline = time.monotonic() + 60
        while kernels(server):  # no page connected to it: shut down after 3 idle seconds
            assert time.monotonic() < deadline, "an idle kernel was never shut down"
            time.sleep(0.5)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
