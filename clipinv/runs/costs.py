"""What a plan costs: the throughput figures bench/RESULTS.md records (`clipinv/data/throughput.json`),
the figure that applies to each request of a plan (`clipinv.runs.planning` rows), and `probe`, which times a
few steps on this machine for the requests no recorded figure covers; `beyond_a_day`, which stops a
command from starting unasked an inversion longer than a day (or, uncosted, of very many images).

An inversion's cost is its new seed-steps over the seed-steps/s recorded for its architecture,
device and precision at the largest recorded batch that its new images fill (invert puts them in
batches), scaled from the figure's copies to the recipe's (the encoder's work is per copy). A
toy training's cost is its new steps times the ms per step recorded for that model size, device and
batch; where several runs are recorded, the slowest.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path

FIGURES = Path(__file__).parents[1] / "data" / "throughput.json"
NO_FIGURE = "no figure recorded"


def load_figures(path=FIGURES) -> dict:
    data = json.loads(Path(path).read_text())
    return {"inversion": list(data.get("inversion", [])), "training": list(data.get("training", []))}


def arch(model: dict) -> str:
    """What a figure is keyed by: the open_clip architecture, or the toy CLIP's size."""
    cfg = model.get("model_config")
    if cfg:
        from clipinv.worlds.shapes.model import ModelConfig
        from clipinv.worlds.shapes.on_demand import SMALL_CONFIG

        if cfg == dataclasses.asdict(ModelConfig()):
            return "toy"
        if cfg == dataclasses.asdict(ModelConfig(**SMALL_CONFIG)):
            return "toy (small config)"
        return f"toy (width {cfg.get('vision_width')}, {cfg.get('vision_layers')} layers)"
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


def training_figure(figures: dict, arch_name: str, device: str, batch: int):
    """(ms per training step, what it is), or None."""
    fits = [
        f
        for f in figures["training"]
        if f["arch"] == arch_name and f["device"] == device_type(device) and f["batch"] == batch
    ]
    if not fits:
        return None
    f = max(fits, key=lambda f: f["ms_per_step"])
    runs = f" (the slowest of {len(fits)} recorded)" if len(fits) > 1 else ""
    return f["ms_per_step"], f"{f['ms_per_step']:.3g} ms/step at batch {f['batch']}{runs}, {f['source']}"


def row_seconds(row: dict, figures: dict, device: str | None = None):
    """(seconds, what figure) for one ledger row on `device` (default: the row's own)."""
    device = device or row["device"]
    if row["kind"] == "training":
        if not row["new_steps"]:
            return 0.0, "cached"
        a = arch({"model_config": row["model_config"]})
        got = training_figure(figures, a, device, row["batch"])
        if got is None:
            return None, f"{NO_FIGURE}: training {a}, batch {row['batch']} on {device_type(device)}"
        return row["new_steps"] * got[0] / 1000, got[1]
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
    """A model of the row's architecture (its cost, not its weights)."""
    from clipinv.models.load import load_model

    cfg = model.get("model_config")
    if not cfg:
        a = arch(model)
        return load_model(a if a.startswith("hf-hub:") else f"{a}:random", device=device)
    import torch

    from clipinv.worlds.shapes import toy_bundle
    from clipinv.worlds.shapes.model import MEAN, STD, ModelConfig, build_model

    mc = ModelConfig(**cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = build_model(mc).eval().requires_grad_(False)
    return toy_bundle(m, {"mean": MEAN, "std": STD, "model_config": cfg}, mc, spec="probe").to(device)


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


def _time_training(model_config: dict, batch: int, device: str, steps: int = 8) -> float:
    """ms per training step of a toy CLIP of this size at this batch."""
    from clipinv.worlds.shapes.model import ModelConfig
    from clipinv.worlds.shapes.training import TrainConfig, train

    tc = TrainConfig(batch_size=batch, warmup=1, eval_samples=10)
    _, metrics = train(
        steps=steps,
        model_config=ModelConfig(**model_config),
        train_config=tc,
        device=device,
        progress=False,
        evaluate=False,
    )
    return 1000 * metrics["train_seconds"] / steps


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
        if row["kind"] == "training":
            a = arch({"model_config": row["model_config"]})
            ms = _time_training(row["model_config"], row["batch"], device)
            out["training"].append(
                {"arch": a, "device": device_type(device), "batch": row["batch"], "ms_per_step": ms, "source": where}
            )
            log(f"[plan] probe: training {a} at batch {row['batch']}: {ms:.1f} ms/step")
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
