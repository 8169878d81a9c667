"""What a plan costs: the throughput figures bench/RESULTS.md records (`clipinv/data/throughput.json`),
the figure that applies to each request of a plan (`clipinv.runs.planning` rows), and `probe`, which times a
few steps on this machine for the requests no recorded figure covers; `beyond_a_day`, which stops a
command from starting unasked an inversion longer than a day (or, uncosted, of very many images).

An inversion's cost is its new seed-steps over the seed-steps/s recorded for its architecture,
device and precision at the largest recorded batch that its new images fill (invert puts them in
batches), scaled from the figure's copies to the recipe's (the encoder's work is per copy).
"""

from __future__ import annotations

import functools
import itertools
import json
import time
from pathlib import Path

FIGURES = Path(__file__).parents[1] / "data" / "throughput.json"
NO_FIGURE = "no figure recorded"


def load_figures(path=FIGURES) -> dict:
    return {"inversion": list(json.loads(Path(path).read_text()).get("inversion", []))}


@functools.cache
def toy_config() -> dict:
    """The model_config of the toy CLIP the figures called `toy` were measured on (the shipped toy's)."""
    return json.loads(FIGURES.read_text())["toy_model_config"]


def arch(model: dict) -> str:
    """What a figure is keyed by: the open_clip architecture, or a world's CLIP by its world and size ("toy": the
    shipped toy's)."""
    cfg = model.get("model_config")
    if cfg:
        if cfg == toy_config():
            return "toy"
        width = cfg.get("vision_width", cfg.get("width"))  # the emoji world's towers share one width
        return f"{model.get('world') or 'toy'} (width {width}, {cfg.get('vision_layers')} layers)"
    spec = model["spec"]
    return spec if spec.startswith("hf-hub:") else spec.split(":", 1)[0]


def device_type(device: str) -> str:
    return str(device).split(":", 1)[0]


def inversion_figure(figures: dict, arch_name: str, device: str, precision: str, copies: int, batch: int):
    """(seed-steps/s for `copies` copies, what it is) for a batch of `batch` images, or None."""
    fits = [
        f
        for f in figures["inversion"]
        if f["arch"] == arch_name
        and f["device"] == device_type(device)
        and f["precision"] == precision
        and not f.get("compile")
        and f["batch"] <= max(1, batch)
    ]
    if not fits:
        return None
    at = max(f["batch"] for f in fits)
    f = min((f for f in fits if f["batch"] == at), key=lambda f: f["seed_steps_per_s"])
    rate = f["seed_steps_per_s"] * f["copies"] / copies
    return rate, f"{f['seed_steps_per_s']:.3g}/s at {f['batch']} per batch, {f['copies']} copies ({f['source']})"


def row_seconds(row: dict, figures: dict, device: str | None = None):
    """(seconds, what figure) for one inversion row (`clipinv.runs.planning`) on `device` (default: the
    row's own)."""
    device = device or row["device"]
    if not row["seed_steps"]:
        return 0.0, "cached"
    per_step, what = 0.0, []
    for model in row["models"]:  # an ensemble: each model's encoder, one after the other
        a = arch(model)
        got = inversion_figure(figures, a, device, row["precision"], row["copies"], row["new"])
        if got is None:
            return None, f"{NO_FIGURE}: {a} {row['precision']} on {device_type(device)}"
        per_step += 1 / got[0]
        what.append(f"{a}: {got[1]}")
    return row["seed_steps"] * per_step, "; ".join(what)


DAY_S = 86400.0  # a run longer than this on its device is not started unasked
UNCOSTED_IMAGES = 10_000  # nor, where no figure gives its time, a run of more images than this


def beyond_a_day(bundles, recipe, device, images: int) -> str | None:
    """Why an inversion of `images` new images is beyond what a command starts unasked (more than a day
    of the device at the recorded throughput), with what it would cost; None where it is not."""
    models = [{"spec": b.spec, "model_config": (b.card or {}).get("model_config")} for b in bundles]
    row = {"kind": "inversion", "models": models, "seed_steps": images * recipe.steps, "new": images}
    row.update(precision=recipe.precision, copies=recipe.n_augments, device=str(device))
    seconds, what = row_seconds(row, load_figures())
    size = f"{images:,} images of {recipe.steps} steps ({images * recipe.steps:,} seed-steps)"
    if seconds is None and images > UNCOSTED_IMAGES:
        return f"{size} is more than {UNCOSTED_IMAGES:,} images, and {what}: pass --large to run it, or fewer seeds"
    if seconds is not None and seconds > DAY_S:
        return (
            f"{size} would take about {seconds / 3600:,.0f} hours on {device_type(device)} ({what}), more than a "
            f"day: pass --large to run it anyway, or fewer seeds"
        )
    return None


# ---------------------------------------------------------------- timing a few steps here
def _stand_in(model: dict, device: str):
    """A model of the row's architecture (its cost, not its weights): a toy world's model itself (they
    load offline), else the open_clip architecture with random weights."""
    from clipinv.models.load import load_model

    if model.get("model_config"):
        return load_model(model["spec"], device=device)
    a = arch(model)
    return load_model(a if a.startswith("hf-hub:") else f"{a}:random", device=device)


def _time_inversion(model: dict, precision: str, copies: int, batch: int, device: str, steps: int = 3) -> float:
    """Seed-steps/s of `batch` images with `copies` copies, from the steps after the first."""
    import torch

    from clipinv.core.invert import optimise
    from clipinv.core.objective import as_prompt
    from clipinv.core.recipe import Recipe

    bundle = _stand_in(model, device)
    recipe = Recipe().replace(
        steps=steps, n_augments=copies, precision=precision, resolution_schedule=((0, bundle.image_size),)
    )
    stamps = []

    def tick(done, images, items):
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    prompts = [as_prompt("a photo")] * batch
    optimise([bundle], prompts, list(range(batch)), recipe, torch.device(device), progress=False, callback=tick)
    dt = sorted(b - a for a, b in itertools.pairwise(stamps))
    return batch / dt[len(dt) // 2]


def probe(rows: list[dict], figures: dict, device: str, log=print) -> dict:
    """Figures measured on `device` for the rows no figure covers there; returns the figures, extended."""
    import torch

    out = {k: list(v) for k, v in figures.items()}
    where = f"probe on this machine ({device_type(device)}, {time.strftime('%Y-%m-%d')})"
    if device_type(device) == "cuda" and not torch.cuda.is_available():
        log(f"[plan] --probe: no CUDA device here, so nothing was timed for {device}")
        return out
    for row in rows:
        seconds, _ = row_seconds(row, out, device)
        if seconds is not None:
            continue
        batch = 1 if device_type(device) == "cpu" else min(8, row["new"])
        for model in row["models"]:
            a = arch(model)
            if inversion_figure(out, a, device, row["precision"], row["copies"], row["new"]):
                continue
            rate = _time_inversion(model, row["precision"], row["copies"], batch, device)
            out["inversion"].append(
                {
                    "arch": a,
                    "device": device_type(device),
                    "precision": row["precision"],
                    "compile": False,
                    "batch": batch,
                    "copies": row["copies"],
                    "seed_steps_per_s": rate,
                    "source": where,
                }
            )
            log(f"[plan] probe: {a} {row['precision']}, {row['copies']} copies, {batch} per batch: {rate:.3g}/s")
    return out
