"""The figures to play with (`clipinv.book.playable`): self-contained, within their byte budget, every
image through the NSFW blur, and working in Chromium opened from file:// with the network off."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import chromium

from clipinv import ClipinvError, load_model
from clipinv.book import playable
from clipinv.core.invert import Inversion
from clipinv.safety import THRESHOLD, blur, nsfw_scores, trigger_image

PROMPTS = ["a red circle", "a blue square"]


@pytest.fixture(scope="module")
def toy_film():
    """A real toy inversion, 2 prompts x 2 seeds, 6 steps in two stages (16 px, then 32 px)."""
    toy = load_model("toy")
    recipe = toy.default_recipe.replace(steps=6, resolution_schedule=((0, 16), (3, 32)), n_augments=2)
    return playable.record(toy, PROMPTS, [0, 1], recipe, device="cpu", n_frames=4)


def fake_inversion(n_prompts=2, n_seeds=2, steps=60, side=32, seed=0) -> Inversion:
    g = torch.Generator().manual_seed(seed)
    return Inversion(
        images=torch.rand(n_prompts, n_seeds, 3, side, side, generator=g),
        similarity=torch.rand(n_prompts, n_seeds, generator=g),
        history={"distance": torch.rand(n_prompts, n_seeds, steps, generator=g)},
        prompts=[f"prompt {i}" for i in range(n_prompts)],
        seeds=list(range(n_seeds)),
    )


def noise_film(n_frames=60, side=32) -> playable.Film:
    """Frames of noise (PNG cannot shrink them), one per step, in two stages."""
    inv = fake_inversion(steps=n_frames, side=side)
    frames = torch.randint(0, 256, (n_frames, 2, 2, 3, side, side), dtype=torch.uint8, generator=torch.Generator())
    return playable.Film(frames, list(range(1, n_frames + 1)), inv, [(n_frames // 2, 16), (n_frames, 32)])


def data_of(fig) -> dict:
    return json.loads(re.search(r"const d = (\{.*?\});\n", fig.data).group(1))


def root_id(fig) -> str:
    return re.search(r'\bid="([^"]+)"', fig.data).group(1)


def decode(uri: str) -> torch.Tensor:
    from PIL import Image

    arr = np.array(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))
    return torch.from_numpy(arr).permute(2, 0, 1).float() / 255


def assert_self_contained(page: str):
    assert not re.search(r"https?:|(src|href)\s*=\s*[\"']?//", page), "a figure refers to something outside it"
    assert re.findall(r"\bsrc=\"([^\"]*)\"", page) and all(
        s.startswith("data:image/") for s in re.findall(r"\bsrc=\"([^\"]*)\"", page)
    )
    assert "<link" not in page and "require" not in page and "ipywidgets" not in page


# ---------------------------------------------------------------- what is recorded
def test_frame_steps_spreads_them_and_adds_every_stage_end():
    stages = [(100, 16), (200, 32)]
    assert playable.frame_steps(200, 5, stages) == [1, 51, 100, 150, 200]
    assert playable.frame_steps(200, 1, stages) == [100, 200]
    assert playable.frame_steps(6, 40, [(3, 16), (6, 32)]) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ClipinvError, match="n_frames"):
        playable.frame_steps(200, 0, stages)


def test_record_keeps_the_steps_asked_for_at_the_final_side_ending_on_the_final_image(toy_film):
    assert toy_film.steps == [1, 3, 4, 6] and toy_film.stages == [(3, 16), (6, 32)]
    assert tuple(toy_film.frames.shape) == (4, 2, 2, 3, 32, 32) and toy_film.frames.dtype == torch.uint8
    first = toy_film.frames[0].float()  # taken at 16 px, upsampled nearest: 2x2 blocks of one colour
    assert torch.equal(first, first[..., ::2, ::2].repeat_interleave(2, -1).repeat_interleave(2, -2))
    assert not torch.equal(toy_film.frames[1], toy_film.frames[2])
    final = (toy_film.inversion.images.clamp(0, 1) * 255).round().to(torch.uint8)
    assert torch.equal(toy_film.frames[-1], final)


# ---------------------------------------------------------------- the scrubber's page
def test_scrubber_is_self_contained_with_its_frames_and_stage_marks(toy_film):
    fig = playable.scrubber(toy_film)
    page, data = fig.data, data_of(fig)
    assert_self_contained(page)
    assert len(data["frames"]) == 4 * 2 * 2 and len(data["labels"]) == len(data["x"]) == 4
    assert [int(re.search(r"step (\d+)", s).group(1)) for s in data["labels"]] == toy_film.steps
    assert data["x"] == sorted(data["x"]) and data["x"][0] < data["x"][-1]
    stages = re.findall(r'class="ci-stage" data-frame="(\d+)"[^>]*>(\d+) px', page)
    assert stages == [("1", "16"), ("3", "32")]  # the frames of steps 3 and 6
    assert page.count("<option value=") == 2 and page.count('stroke-dasharray="4 3"') == 1
    assert page.count("ci-marker") >= 1 and page.count("<polyline") == 2
    assert "image-rendering:pixelated" in page and re.search(r'<img class="ci-img"[^>]*width="128"', page)
    assert fig.settings == {"frames": "4 of 4", "blurred": "0 NSFW-flagged"}


def test_two_figures_on_a_page_have_their_own_ids(toy_film):
    a, b = playable.scrubber(toy_film), playable.scrubber(toy_film)
    ids = re.findall(r'\bid="([^"]+)"', a.data + b.data)
    assert len(ids) == len(set(ids)) == 4  # a root and a datalist each
    for fig in (a, b):
        root = root_id(fig)
        assert f'getElementById("{root}")' in fig.data and f"#{root} img" in fig.data


def test_scrubber_shows_fewer_frames_to_stay_under_max_bytes():
    film = noise_film(60)
    everything = playable.scrubber(film, blur=False, max_bytes=10**8)
    assert len(data_of(everything)["labels"]) == 60 and "Showing" not in everything.data
    budget = everything.nbytes // 3
    fig = playable.scrubber(film, blur=False, max_bytes=budget)
    shown = [int(re.search(r"step (\d+)", s).group(1)) for s in data_of(fig)["labels"]]
    assert fig.nbytes <= budget and len(fig.data.encode()) == fig.nbytes
    assert 3 < len(shown) < 60 and {30, 60} <= set(shown), shown  # the stage ends are kept
    assert f"Showing {len(shown)} of 60 frames, to stay under {budget:,} bytes." in fig.data
    assert fig.settings["frames"] == f"{len(shown)} of 60, to stay under {budget:,} bytes"
    with pytest.raises(ClipinvError, match="max_bytes"):
        playable.scrubber(film, blur=False, max_bytes=20_000)


def test_flagged_frames_are_blurred_and_marked_unless_blur_is_off():
    inv = fake_inversion(1, 1, steps=2, side=160)
    trigger = (trigger_image() * 255).round().to(torch.uint8)
    frames = torch.stack([torch.full_like(trigger, 128), trigger])[:, None, None]
    film = playable.Film(frames, [1, 2], inv, [(2, 160)])
    blurred = playable.scrubber(film)
    shown = data_of(blurred)
    assert shown["flagged"] == [1] and blurred.settings["blurred"] == "1 NSFW-flagged"
    assert "blurred (NSFW)" in blurred.data  # under the image as written (the last frame)
    assert float(nsfw_scores(decode(shown["frames"][1])[None])) < THRESHOLD
    as_blurred = blur((trigger / 255)[None])[0]  # the book's blur of it, what the page must hold
    assert (decode(shown["frames"][1]) - as_blurred).abs().mean() < 0.02
    assert (decode(shown["frames"][0]) - 128 / 255).abs().max() < 0.01  # the unflagged frame as it is
    plain = data_of(playable.scrubber(film, blur=False))
    assert plain["flagged"] == [] and (decode(plain["frames"][1]) - as_blurred).abs().mean() > 0.08


# ---------------------------------------------------------------- the ablation picker's page
def ablation_run(n_prompts=3, side=32):
    invs = {name: fake_inversion(n_prompts, 2, side=side, seed=i) for i, name in enumerate(VARIANTS)}
    summary = pd.DataFrame(
        [
            {"variant": name, "n": 6, "judged correct": acc, "acc low": acc * 0.6, "acc high": acc + 0.1}
            | {"similarity": sim, "sim low": sim - 0.02, "sim high": sim + 0.02}
            | {"judge similarity": sim - 0.1, "jsim low": float("nan"), "jsim high": float("nan")}
            for name, acc, sim in zip(VARIANTS, (0.8333, 0.5, 0.1667), (0.812, 0.9, 0.7))
        ]
    )
    return invs, summary


VARIANTS = ("full recipe", "no affine", "no TV")


def test_numbers_are_written_as_the_book_writes_them():
    _, summary = ablation_run()
    row = summary.iloc[0].to_dict()
    assert playable.numbers(row) == ["83% (50\u201393%)", "0.812 (0.792\u20130.832)", "0.712", "6"]
    assert playable.numbers({"similarity": float("nan")})[1:] == ["\u2013", "\u2013", "\u2013"]


def test_picker_is_self_contained_and_holds_every_ablation():
    invs, summary = ablation_run()
    fig = playable.ablation_buttons(invs, summary)
    assert_self_contained(fig.data)
    variants = data_of(fig)["variants"]
    assert [v["name"] for v in variants] == ["no affine", "no TV"]
    assert all(len(v["images"]) == 3 for v in variants)  # 3 prompts x seed 0
    assert variants[0]["numbers"][0] == "50% (30\u201360%)" and "83% (50\u201393%)" in fig.data
    assert fig.data.count('class="ci-pick"') == 2 and fig.data.count('class="ci-full"') == 3
    two_seeds = playable.ablation_buttons(invs, summary, seeds=2)
    assert all(len(v["images"]) == 6 for v in data_of(two_seeds)["variants"])


def test_picker_shows_fewer_prompts_to_stay_under_max_bytes():
    invs, summary = ablation_run(n_prompts=8)
    everything = playable.ablation_buttons(invs, summary, blur=False)
    fig = playable.ablation_buttons(invs, summary, blur=False, max_bytes=everything.nbytes // 2)
    n = len(data_of(fig)["variants"][0]["images"])
    assert fig.nbytes <= everything.nbytes // 2 and 1 <= n < 8
    assert f"Showing {n} of 8 prompts, to stay under" in fig.data and fig.settings["prompts"].startswith(
        f"{n} of 8, to stay"
    )
    with pytest.raises(ClipinvError, match="summary"):
        playable.ablation_buttons(invs, summary.iloc[:2])


# ---------------------------------------------------------------- in the browser
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium(),
            args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        yield b
        b.close()


def open_page(browser, path, width=1280):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    return page, errors, requests


def widths(page) -> list:
    return page.eval_on_selector_all(
        ".clipinv-figure", "els => els.map(e => [e.scrollWidth, e.parentElement.clientWidth])"
    )


def test_in_chromium_the_slider_moves_the_images_and_the_marker(browser, toy_film, tmp_path):
    figs = [playable.scrubber(toy_film), playable.scrubber(toy_film)]
    path = tmp_path / "scrubbers.html"
    path.write_text(f"<!doctype html><meta charset=utf-8><main>{figs[0].data}<p>text</p>{figs[1].data}</main>")
    page, errors, requests = open_page(browser, path)
    a, b = ("#" + root_id(f) for f in figs)

    def state(root):
        return page.eval_on_selector(
            root,
            "r => [r.querySelector('img.ci-img').src, r.querySelector('.ci-marker').getAttribute('x1'),"
            " r.querySelector('.ci-readout').textContent]",
        )

    end_a, end_b = state(a), state(b)
    assert end_a[2].startswith("step 6 of 6")
    page.fill(f"{a} .ci-slider", "1")
    moved = state(a)
    assert moved[0] != end_a[0] and float(moved[1]) < float(end_a[1]) and moved[2].startswith("step 3 of 6")
    assert state(b) == end_b  # the other figure on the page did not move
    page.click(f"{a} .ci-stage >> nth=0")  # the 16 px stage's last step: frame 1 again
    assert state(a) == moved
    assert not errors and all(u.startswith(("file:", "data:")) for u in requests), (errors, requests)
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 900})
        assert all(w <= c for w, c in widths(page)), (width, widths(page))


def test_in_chromium_picking_an_ablation_changes_its_images_and_numbers(browser, tmp_path):
    invs, summary = ablation_run(n_prompts=6)
    fig = playable.ablation_buttons(invs, summary)
    path = tmp_path / "picker.html"
    path.write_text(f"<!doctype html><meta charset=utf-8><main>{fig.data}</main>")
    page, errors, _ = open_page(browser, path, width=768)

    def state():
        return page.evaluate(
            "() => [[...document.querySelectorAll('img.ci-var')].map(i => i.src),"
            " [...document.querySelectorAll('.ci-num')].map(e => e.textContent),"
            " document.querySelector('th.ci-name').textContent, document.querySelector('img.ci-full').src]"
        )

    first = state()
    assert first[1][0] == "50% (30\u201360%)" and first[2] == "no affine"
    page.click(".ci-pick >> text=no TV")
    second = state()
    assert second[2] == "no TV" and second[1][:2] == ["17% (10\u201327%)", "0.700 (0.680\u20130.720)"]
    assert all(x != y for x, y in zip(first[0], second[0])) and second[1] != first[1]
    assert second[3] == first[3]  # the full recipe's images stay
    assert page.get_attribute(".ci-pick >> text=no TV", "aria-pressed") == "true"
    assert not errors
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 900})
        assert all(w <= c for w, c in widths(page)), (width, widths(page))
