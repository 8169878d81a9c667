"""Figures to play with on a static page: self-contained HTML and JavaScript (images as data: URIs,
inline script and style, nothing loaded from elsewhere), so they work in the built book, served or
opened from file://, without a kernel.

- `record`: one inversion watched step by step through `clipinv.invert`'s callback: a `Film`;
- `scrubber`: a slider over a film's steps: the images (a row per prompt, a column per seed), the
  resolution stages under the slider, the similarity curves with a marker at the shown step;
- `ablation_buttons`: an ablation per button; see its images and numbers next to the full recipe's.

Every image shown goes through the book's NSFW blur (`clipinv.book.figures.safe_images`). A figure stays
under `max_bytes`: it shows fewer frames (or prompts), and says so, rather than grow. The figures
are IPython `HTML` objects; each one's `settings` are for its caption, `nbytes` is its size.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import secrets
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from clipinv.book.figures import cosine_history, safe_images
from clipinv.core.invert import Inversion, invert
from clipinv.core.objective import as_prompt
from clipinv.core.recipe import stage_ends
from clipinv.errors import ClipinvError

MAX_BYTES = 1_500_000
PNG_MAX_SIDE = 96  # images up to this side are PNG (exact pixels), larger ones JPEG
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_COUNT = itertools.count()


@dataclass
class Film:
    """Frames [F, P, S, 3, side, side] (uint8, upsampled to the final side, nearest), the step after
    which each was taken, the run's Inversion, its stages ((last step + 1, side), ...) and the
    recipe's `final_scale`: the last frame is the final image, shrunk onto grey when that is < 1."""

    frames: torch.Tensor
    steps: list
    inversion: Inversion
    stages: list
    final_scale: float = 1.0


def frame_steps(steps: int, n_frames: int, stages) -> list[int]:
    """About `n_frames` evenly spaced steps in 1..steps, and the last step of every stage."""
    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames < 1:
        raise ClipinvError(f"n_frames must be a whole number >= 1, got {n_frames!r}")
    even = {steps} if n_frames == 1 else {round(1 + i * (steps - 1) / (n_frames - 1)) for i in range(n_frames)}
    return sorted(even | {end for end, _ in stages})


def _uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def record(bundle, prompts, seeds, recipe, device=None, n_frames: int = 40) -> Film:
    """Invert `prompts` x `seeds` once, uncached so every step is seen, keeping the images after
    about `n_frames` evenly spaced steps and after the last step of each resolution stage."""
    names = [str(as_prompt(p)) for p in ([prompts] if isinstance(prompts, str) else prompts)]
    seed_list = list(range(seeds)) if isinstance(seeds, int) and not isinstance(seeds, bool) else list(seeds)
    stages = stage_ends(recipe)
    keep = frame_steps(recipe.steps, n_frames, stages)
    at = {step: i for i, step in enumerate(keep)}
    side = recipe.resolution_schedule[-1][1]
    where = {}  # (prompt, seed) -> its (row, column)s
    for p, name in enumerate(names):
        for s, seed in enumerate(seed_list):
            where.setdefault((name, int(seed)), []).append((p, s))
    frames = torch.zeros(len(keep), len(names), len(seed_list), 3, side, side, dtype=torch.uint8)

    def watch(done, images, items):
        if done in at:
            x = _uint8(F.interpolate(images.float(), size=(side, side), mode="nearest"))
            for row, item in enumerate(items):
                for p, s in where[item]:
                    frames[at[done], p, s] = x[row]

    inv = invert(bundle, prompts, seed_list, recipe, device=device, cache=False, progress=False, callback=watch)
    frames[-1] = _uint8(inv.images)  # the final image, as every other figure shows it
    return Film(frames=frames, steps=keep, inversion=inv, stages=stages, final_scale=recipe.final_scale)


# ---------------------------------------------------------------- shared pieces
def _uri(image: torch.Tensor) -> str:
    """uint8 [3, H, W] -> a data: URI, PNG for small images, JPEG for large ones."""
    from PIL import Image

    buf, small = io.BytesIO(), image.shape[-1] <= PNG_MAX_SIDE
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    pil.save(buf, "PNG", optimize=True) if small else pil.save(buf, "JPEG", quality=85)
    return f"data:image/{'png' if small else 'jpeg'};base64,{base64.b64encode(buf.getvalue()).decode()}"


def _shown(images: torch.Tensor, blur: bool) -> tuple[list[str], list[bool]]:
    """uint8 [..., 3, H, W] -> the data URIs of the images as shown (NSFW-flagged ones blurred unless
    blur=False) and the flags, both flat."""
    flat = images.reshape(-1, *images.shape[-3:])
    flagged = [False] * len(flat)
    if blur and len(flat):
        blurred, hits = safe_images(flat.float() / 255, blur=True)
        flat, flagged = _uint8(blurred), hits.tolist()
    return [_uri(im) for im in flat], flagged


def _img(uri: str, px: int, cls: str) -> str:
    return f'<img class="{cls}" src="{uri}" alt="" width="{px}" height="{px}" style="width:{px}px">'


def _label(text: str) -> str:
    return f'<div class="ci-label" title="{html.escape(text)}">{html.escape(text)}</div>'


def _note(flagged: bool, cls: str = "ci-flag") -> str:
    return f'<span class="{cls}">{" blurred (NSFW)" if flagged else ""}</span>'


def _uid(kind: str) -> str:
    """An id no other figure on the page has (a counter and a random part: pages join many outputs)."""
    return f"clipinv-{kind}-{next(_COUNT)}-{secrets.token_hex(4)}"


def _figure(uid: str, body: str, script: str, data, settings: dict):
    """The figure: a root element with the id `uid`, its scoped style, its body, and a script that
    finds the root by that id and reads its data (so several figures share a page)."""
    from IPython.display import HTML

    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    page = (
        f'<div id="{uid}" class="clipinv-figure">{STYLE.replace("#ID", "#" + uid)}{body}'
        f'<script>(() => {{ const r = document.getElementById("{uid}"); const d = {payload};\n'
        f"const q = s => [...r.querySelectorAll(s)];\n{script}\n}})();</script></div>"
    )
    out = HTML(page)
    out.settings, out.nbytes = settings, len(page.encode())
    return out


STYLE = """<style>
#ID { max-width:100%; font-size:0.85em; margin:0.5em 0; } #ID, #ID * { box-sizing:border-box; }
#ID img { image-rendering:pixelated; max-width:100%; height:auto; display:block; background:#eee; }
#ID .ci-label { white-space:nowrap; overflow:hidden; text-overflow:ellipsis; max-width:100%; color:#333; }
#ID .ci-cells, #ID .ci-bar, #ID .ci-legend, #ID .ci-controls { display:flex; flex-wrap:wrap; gap:6px; }
#ID .ci-row { margin:0.2em 0 0.5em 0; } #ID .ci-cell { max-width:100%; min-width:0; }
#ID .ci-sub { font-size:0.85em; color:#555; } #ID .ci-flag, #ID .ci-vflag { color:#b00; }
#ID .ci-controls { align-items:center; margin:0.3em 0; } #ID .ci-readout { min-width:min(100%, 26em); }
#ID .ci-slider { flex:1 1 240px; min-width:0; } #ID .ci-stages { display:flex; gap:2px; margin-bottom:0.4em; }
#ID button { font:inherit; font-size:0.85em; border:1px solid #bbb; border-radius:3px; background:#f4f4f4;
  cursor:pointer; padding:1px 6px; max-width:100%; } #ID button[aria-pressed="true"] { background:#1f77b4; color:#fff; }
#ID .ci-stage { min-width:0; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
#ID svg { width:100%; max-width:640px; height:auto; display:block; }
#ID table { border-collapse:collapse; margin:0.3em 0; max-width:100%; } #ID td, #ID th { padding:1px 8px; }
</style>"""


# ---------------------------------------------------------------- the scrubber
SCRUB_JS = """const sl = r.querySelector(".ci-slider"), im = q("img.ci-img"), fl = q(".ci-flag"), n = im.length;
const mk = r.querySelector(".ci-marker"), ro = r.querySelector(".ci-readout"), pb = r.querySelector(".ci-play");
let timer = null;
function show(i) { i = +i; sl.value = i; ro.textContent = d.labels[i];
  im.forEach((e, k) => { const u = d.frames[i * n + k]; if (e.src !== u) e.src = u; });
  fl.forEach((e, k) => { e.textContent = d.flagged.includes(i * n + k) ? " blurred (NSFW)" : ""; });
  mk.setAttribute("x1", d.x[i]); mk.setAttribute("x2", d.x[i]); }
function stop() { clearInterval(timer); timer = null; pb.textContent = "\\u25b6 play"; }
sl.addEventListener("input", () => { stop(); show(sl.value); });
q(".ci-stage").forEach(b => b.addEventListener("click", () => { stop(); show(b.dataset.frame); }));
pb.addEventListener("click", () => { if (timer) return stop(); if (+sl.value >= d.labels.length - 1) show(0);
  pb.textContent = "\\u275a\\u275a pause"; timer = setInterval(() => {
    const i = +sl.value + 1; if (i >= d.labels.length) stop(); else show(i); }, 150); });
show(sl.value);"""


def _spread(items: list, k: int) -> list:
    """k of items evenly spaced, the first and the last included (k = 1: the last)."""
    if k >= len(items):
        return list(items)
    return [items[round(len(items) - 1 - i * (len(items) - 1) / max(1, k - 1))] for i in range(k)][::-1]


def _fit(sizes: list[int], required: list[int], budget: int) -> list[int]:
    """Which frames to show within `budget` bytes: the required ones and as many others, evenly
    spread, as fit; with too little room for those, fewer required ones (the last always)."""
    others = [i for i in range(len(sizes)) if i not in required]
    tries = itertools.chain(
        (sorted({*required, *_spread(others, k)}) for k in range(len(others), -1, -1)),
        (_spread(required, k) for k in range(len(required) - 1, 0, -1)),
    )
    for pick in tries:
        if sum(sizes[i] for i in pick) <= budget:
            return pick
    raise ClipinvError(f"a single frame takes {sizes[-1]} bytes, more than the figure may: raise max_bytes")


def _curves(film: Film, steps: list[int], width=640, height=220) -> tuple[str, list[float]]:
    """An inline SVG of cosine vs step per prompt (mean over seeds), and the marker's x at each step."""
    cos = cosine_history(film.inversion).mean(1)  # [P, T]
    total, (left, right, top, bottom) = cos.shape[-1], (46, 8, 8, 26)
    lo, hi = float(cos.min()), float(cos.max())
    pad = 0.05 * (hi - lo) if hi - lo > 1e-6 else 0.05
    lo, hi = lo - pad, hi + pad

    def x(step):
        return round(left + (step - 1) / max(1, total - 1) * (width - left - right), 1)

    def y(v):
        return round(top + (hi - v) / (hi - lo) * (height - top - bottom), 1)

    def vline(at, cls="", style='stroke="#888" stroke-dasharray="4 3"'):
        return f'<line class="{cls}" x1="{x(at)}" x2="{x(at)}" y1="{top}" y2="{height - bottom}" {style}/>'

    svg = f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="cosine similarity per step">'
    svg += f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
    svg += 'fill="none" stroke="#ccc"/>'
    for v in (lo + pad, (lo + hi) / 2, hi - pad):
        svg += f'<text x="{left - 4}" y="{y(v) + 4}" text-anchor="end" font-size="11" fill="#555">{v:.2f}</text>'
    start = 1
    for end, side in film.stages:  # a dashed line where each stage after the first begins
        svg += (vline(start - 0.5) if start > 1 else "") + f'<text x="{x(start) + 3}" y="{top + 12}" '
        svg += f'font-size="11" fill="#777">{side} px</text>'
        start = end + 1
    idx = sorted({round(i * (total - 1) / 299) for i in range(300)}) if total > 300 else range(total)
    for p in range(cos.shape[0]):
        pts = " ".join(f"{x(i + 1)},{y(float(cos[p, i]))}" for i in idx)
        svg += f'<polyline points="{pts}" fill="none" stroke="{PALETTE[p % len(PALETTE)]}" stroke-width="1.5"/>'
    svg += f'<text x="{(width + left) / 2}" y="{height - 6}" text-anchor="middle" font-size="11" fill="#555">step'
    svg += "</text>" + vline(steps[-1], "ci-marker", 'stroke="#000" stroke-width="1.5"') + "</svg>"
    return svg, [x(s) for s in steps]


def _scrubber_html(film: Film, pick, uris, flagged, labels, px: int, max_bytes: int, blur: bool):
    inv, steps, uid = film.inversion, [film.steps[i] for i in pick], _uid("scrubber")
    n_seeds, last = len(inv.seeds), len(pick) - 1
    svg, xs = _curves(film, steps)
    stage_side = [next(side for end, side in film.stages if s <= end) for s in steps]
    readout = [f"step {s} of {film.stages[-1][0]} \u00b7 {side} px stage" for s, side in zip(steps, stage_side)]
    readout[-1] += " \u00b7 the final image" + (f", shrunk to {film.final_scale:g}" if film.final_scale < 1 else "")
    first = last * len(labels) * n_seeds  # the images in the page as written: the last frame's
    rows = "".join(
        f'<div class="ci-row">{_label(lab)}<div class="ci-cells">'
        + "".join(
            f'<div class="ci-cell">{_img(uris[k], px, "ci-img")}<div class="ci-sub">seed {seed}{_note(flagged[k])}'
            f"</div></div>"
            for k, seed in ((first + p * n_seeds + s, seed) for s, seed in enumerate(inv.seeds))
        )
        + "</div></div>"
        for p, lab in enumerate(labels)
    )
    ends = [max((i for i, s in enumerate(steps) if s <= end), default=None) for end, _ in film.stages]
    bar, prev = "", 0
    for (end, side), i in zip(film.stages, ends):  # a button per stage, as wide as its share of the slider
        if i is not None:
            bar += f'<button class="ci-stage" data-frame="{i}" style="flex:{max(i - prev, 0.5)} 1 0" '
            bar += f'title="the last step of the {side} px stage">{side} px \u2192 step {end}</button>'
            prev = i
    legend = "".join(
        f'<span><span style="color:{PALETTE[p % len(PALETTE)]}">\u2501\u2501</span> {html.escape(lab)}</span>'
        for p, lab in enumerate(labels)
    )
    n_all = len(film.steps)
    shown, cut = f"{len(pick)} of {n_all}", "" if len(pick) == n_all else f", to stay under {max_bytes:,} bytes"
    body = (
        f'<div class="ci-controls"><button class="ci-play">\u25b6 play</button><input class="ci-slider" '
        f'type="range" min="0" max="{last}" value="{last}" step="1" list="{uid}-ticks" aria-label="step">'
        f'<span class="ci-readout">{html.escape(readout[-1])}</span></div><datalist id="{uid}-ticks">'
        + "".join(f'<option value="{i}"></option>' for i in ends if i is not None)
        + f'</datalist><div class="ci-stages">{bar}</div>{rows}{svg}<div class="ci-legend">{legend}</div>'
        f'<div class="ci-sub">Cosine similarity of the augmented copies to the prompt, mean over seeds.'
        + (f" Showing {shown} frames{cut}." if cut else "")
        + "</div>"
    )
    data = {"frames": uris, "flagged": [k for k, f in enumerate(flagged) if f], "x": xs, "labels": readout}
    settings = {"frames": shown + cut, "blurred": f"{sum(flagged)} NSFW-flagged" if blur else "off"}
    return _figure(uid, body, SCRUB_JS, data, settings)


def scrubber(film: Film, blur: bool = True, max_bytes: int = MAX_BYTES, size: int = 128, labels=None):
    """A slider over the film's frames: every prompt's (rows) and seed's (columns) image at that step,
    the resolution stages under it (a click shows a stage's last step), the cosine curves (mean over
    seeds) with a marker at the step. NSFW-flagged images are blurred unless blur=False. When all
    frames would take more than `max_bytes`, fewer are shown (stage ends and the last kept first)."""
    labels = [str(lab) for lab in labels or film.inversion.prompts]
    px, n_img = max(size, film.frames.shape[-1]), film.frames[0, :, :, 0, 0, 0].numel()
    sizes = [sum(len(_uri(im)) + 3 for im in f.reshape(-1, *f.shape[-3:])) for f in film.frames]
    required = sorted({max(i for i, s in enumerate(film.steps) if s <= end) for end, _ in film.stages})
    blank = _scrubber_html(film, [len(sizes) - 1], [""] * n_img, [False] * n_img, labels, px, max_bytes, blur)
    budget = max_bytes - blank.nbytes - sizes[-1]  # the last frame is in the page twice: as written, and in the data
    while True:
        pick = _fit(sizes, required, budget)
        uris, flagged = _shown(film.frames[pick], blur)  # only the frames shown are scanned
        fig = _scrubber_html(film, pick, uris, flagged, labels, px, max_bytes, blur)
        if fig.nbytes <= max_bytes:
            return fig
        budget -= fig.nbytes - max_bytes  # the blurred images or the frames' labels took more than measured


# ---------------------------------------------------------------- the ablation picker
PICK_JS = """const bs = q(".ci-pick"), im = q("img.ci-var"), fl = q(".ci-vflag"), nm = q(".ci-name"), nu = q(".ci-num");
function pick(k) { const v = d.variants[k]; v.images.forEach((u, j) => { im[j].src = u; });
  fl.forEach((e, j) => { e.textContent = v.flagged.includes(j) ? " blurred (NSFW)" : ""; });
  nm.forEach(e => { e.textContent = v.name; }); v.numbers.forEach((t, j) => { nu[j].textContent = t; });
  bs.forEach((b, j) => b.setAttribute("aria-pressed", String(j === k))); }
bs.forEach((b, j) => b.addEventListener("click", () => pick(j)));
if (d.variants.length) pick(0);"""

# the picker's table, a row each: (name, the summary's column, its interval's low and high columns, unit)
NUMBERS = (
    ("judged correct", "judged correct", "acc low", "acc high", "%"),
    ("similarity (inverted model)", "similarity", "sim low", "sim high", ""),
    ("judge similarity", "judge similarity", "jsim low", "jsim high", ""),
)


def numbers(row: dict) -> list[str]:
    """A summary row as the picker shows it: '83% (55\u201395%)', '0.812 (0.790\u20130.834)', ..., n
    (without an interval where it is missing, a dash where the number is)."""

    def missing(v):
        return v is None or math.isnan(v)

    out = []
    for _, col, lo, hi, unit in NUMBERS:
        v, low, high = (row.get(c) for c in (col, lo, hi))
        text = [f"{x * 100:.0f}" if unit == "%" else f"{x:.3f}" for x in (v, low, high) if not missing(x)]
        interval = f" ({text[1]}\u2013{text[2]}{unit})" if len(text) == 3 else ""
        out.append(text[0] + unit + interval if not missing(v) else "\u2013")
    return out + [str(row.get("n", "\u2013"))]


def ablation_buttons(invs: dict, summary, prompts=None, seeds=1, blur=True, max_bytes=MAX_BYTES, size=128):
    """Buttons, one per ablation: the chosen one's images (each prompt x the first `seeds` seeds) under
    the full recipe's, and its numbers (`summary`, `clipinv.analyses.ablation.run`'s: a row per variant) next
    to the full recipe's. `invs`: {variant: Inversion}, the full recipe first. NSFW-flagged images are
    blurred unless blur=False. When all would take more than `max_bytes`, fewer prompts are shown."""
    names, rows = list(invs), {r["variant"]: r for r in summary.to_dict("records")}
    if not names or any(n not in rows for n in names):
        raise ClipinvError(f"pass ablation.run's inversions and its summary: variants {names}, summary {list(rows)}")
    labels = [str(lab) for lab in prompts or invs[names[0]].prompts]
    images = torch.stack([_uint8(inv.images[:, :seeds]) for inv in invs.values()])  # [V, P, S, 3, H, W]
    (n_var, n_prompts, n_seeds), px = images.shape[:3], max(size, images.shape[-1])
    uris, flagged = _shown(images, blur)
    index = torch.arange(len(uris)).view(n_var, n_prompts, n_seeds).tolist()  # index[variant][prompt][seed]

    def cell(v, i):  # the full recipe's image, or the chosen ablation's (the script fills it in)
        name, cls = ("full recipe", "ci-full") if v == 0 else ('<span class="ci-name"></span>', "ci-var")
        note = _note(v == 0 and flagged[i], "ci-flag" if v == 0 else "ci-vflag")
        return f'<div class="ci-cell">{_img(uris[i], px, cls)}<div class="ci-sub">{name}{note}</div></div>'

    table = "".join(
        f'<tr><td>{html.escape(row[0])}</td><td>{html.escape(value)}</td><td class="ci-num"></td></tr>'
        for row, value in zip((*NUMBERS, ("images",)), numbers(rows[names[0]]))
    )
    buttons = "".join(f'<button class="ci-pick" aria-pressed="false">{html.escape(n)}</button>' for n in names[1:])
    for n_p in range(n_prompts, 0, -1):
        cells = "".join(
            f'<div class="ci-cell" style="width:{px * n_seeds + 6 * (n_seeds - 1)}px">'
            + _label(labels[p])
            + "".join(
                f'<div class="ci-cells">{"".join(cell(v, i) for i in index[v][p])}</div>' for v in range(min(2, n_var))
            )
            + "</div>"
            for p in range(n_p)
        )
        shown, cut = f"{n_p} of {n_prompts}", "" if n_p == n_prompts else f", to stay under {max_bytes:,} bytes"
        body = (
            f'<div class="ci-bar">{"switch off: " + buttons if buttons else "no ablation in this run"}</div>'
            f'<table><tr><th></th><th>full recipe</th><th class="ci-name"></th></tr>{table}</table>'
            f'<div class="ci-cells">{cells}</div><div class="ci-sub">Judged correct: 95% Wilson interval; '
            f"similarities: means, 95% t intervals.{f' Showing {shown} prompts{cut}.' if cut else ''}</div>"
        )
        on_page = [[i for p in range(n_p) for i in index[v][p]] for v in range(n_var)]
        data = [
            {"name": n, "numbers": numbers(rows[n]), "images": [uris[i] for i in on_page[v]]}
            | {"flagged": [j for j, i in enumerate(on_page[v]) if flagged[i]]}
            for v, n in enumerate(names)
            if v
        ]
        blurred = f"{sum(flagged[i] for v in on_page for i in v)} NSFW-flagged" if blur else "off"
        settings = {"prompts": shown + cut, "blurred": blurred}
        fig = _figure(_uid("ablations"), body, PICK_JS, {"variants": data}, settings)
        if fig.nbytes <= max_bytes:
            return fig
    raise ClipinvError(f"one prompt's images make a {fig.nbytes}-byte figure, over max_bytes {max_bytes}")
