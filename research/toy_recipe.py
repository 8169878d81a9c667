"""The research behind the shipped toy models' numbers and their inversion recipe `TOY_RECIPE`.

Not part of the package: the script that measured the figures the toy model cards report and that
chose `TOY_RECIPE` (recipe tuning rows, recipe comparisons read by replicate judges, "twins" here:
toy-judge retrained from other seeds, `clipinv toy train --like toy-judge --seed S`). It writes only
under --out (default research/results/): the record of measurements `toy_recipe.json` (started from
research/toy_recipe_record.json, the record as of the shipped recipe), the tuning log `tuning.jsonl`
(started from research/tuning.jsonl) and the long reports `shapes.md`, `toy-judge.md` built from them.
See research/README.md.

    python research/toy_recipe.py            # everything, on the shipped models
    # or the 24 pairs split over two processes, then merged:
    python research/toy_recipe.py --threads 1 --part 0/2 &
    python research/toy_recipe.py --threads 1 --part 1/2; wait
    python research/toy_recipe.py --combine research/results/part-0-of-2.json research/results/part-1-of-2.json
    python research/toy_recipe.py --tune '{"tv_weight": 0.003}'   # one row of the tuning table (24 pairs x 2 seeds)
    python research/toy_recipe.py --canvas                        # how toy-judge reads one-colour canvases
    python research/toy_recipe.py --robustness                    # both models on larger and noisier world images
    python research/toy_recipe.py --judges twin2.safetensors ...  # the 96 images judged by twins of toy-judge too
    python research/toy_recipe.py --threads 1 --from-scratch toy  # retrain from scratch, timed, weights compared
    python research/toy_recipe.py --report                        # only rebuild the reports from the record
    # recipe selection: candidates x 24 pairs x seeds 0-7, read by toy-judge and twins of it (the choosing judges)
    python research/toy_recipe.py --panel 'TOY_RECIPE={}' 'sharp={"smooth_sigma": 0}' --panel-judges twin2.safetensors twin3.safetensors --seeds 0-7 --record selection

The bars the recipe was chosen against (the project's issue 3): zero-shot colour x shape >= 98% for
both models; inverting "a {colour} {shape}" for all 24 pairs x 4 seeds with TOY_RECIPE: judged by
toy-judge >= 90%, pixel colour >= 95%; one prompt x 4 seeds <= 30 s on CPU.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import multiprocessing
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from torchvision.transforms.functional import gaussian_blur

RESEARCH = Path(__file__).resolve().parent
sys.path.insert(0, str(RESEARCH.parent))  # this tree's clipinv, as bench/ does

from clipinv.worlds import shapes
from clipinv.errors import ClipinvError
from clipinv.core.invert import invert
from clipinv.models.judge import judge
from clipinv.models.load import load_model
from clipinv.analyses.stats import wilson
from clipinv.worlds.shapes import TOY_RECIPE, WEIGHTS
from clipinv.worlds.shapes.evaluate import inversion_accuracy
from clipinv.worlds.shapes.oracle import fade, pixel_colour, pixel_shape, probe_colour
from clipinv.worlds.shapes.stages import reproduce, stages
from clipinv.worlds.shapes.world import (
    COLOURS,
    PALETTE,
    POSITIONS,
    RADIUS,
    RELATIONS,
    SHAPES,
    SIZES,
    World,
    class_prompts,
)
from clipinv.core.transform import ShrinkOnto

RESULTS = RESEARCH / "results"  # the default --out


def record_path(out) -> Path:
    """out/toy_recipe.json, the record of measurements; on first use a copy of the committed one."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "toy_recipe.json"
    if not path.exists():
        shutil.copyfile(RESEARCH / "toy_recipe_record.json", path)
    return path


def tuning_log(out) -> Path:
    """out/tuning.jsonl, the tuning rows; on first use a copy of the committed research/tuning.jsonl."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "tuning.jsonl"
    if not path.exists():
        shutil.copyfile(RESEARCH / "tuning.jsonl", path)
    return path


def load_record(out) -> dict:
    return json.loads(record_path(out).read_text())


def save_record(out, record: dict):
    record_path(out).write_text(json.dumps(record, indent=1) + "\n")


def _share(readings: list, truths: list) -> float:
    """Share of readings [pair][seed] equal to their pair's truth, over every pair and seed."""
    hits = [r == t for row, t in zip(readings, truths) for r in row]
    return round(sum(hits) / len(hits), 4)


def inversion_bar(model=None, judge_model=None, recipe=None, pairs=None, seeds=4, progress=True) -> dict:
    """`clipinv.worlds.shapes.evaluate.inversion_accuracy` (the images of "a {colour} {shape}" for the given
    pairs, read 24-way by the judge, by the model itself and by the pixel oracles) plus the images'
    pixel-scale texture (`high_frequency`)."""
    out = inversion_accuracy(model, judge_model, recipe=recipe, pairs=pairs, seeds=seeds, progress=progress)
    out["high_frequency"] = round(high_frequency(out["images_tensor"]), 4)
    return out


def one_prompt_seconds(model=None, prompt: str = "a red circle", seeds: int = 4, recipe=None) -> float:
    model = model or load_model("toy")
    t0 = time.time()
    invert(model, [prompt], seeds=seeds, recipe=recipe, cache=False, progress=False)
    return round(time.time() - t0, 1)


def attribute_inversions(model, judge_model, recipe=None, seeds: int = 2, n: int = 6, progress=True) -> dict:
    """Not gated: invert prompts naming a size, a position or a relation, and ask the judge to
    pick the named one among the alternatives (same colours and shapes)."""
    g = torch.Generator().manual_seed(123)

    def pick(seq):
        return seq[int(torch.randint(len(seq), (1,), generator=g))]

    out = {}
    cases = {
        "size": [(pick(COLOURS), pick(SHAPES), z) for z in SIZES for _ in range(n // 2)],
        "position": [(pick(COLOURS), pick(SHAPES), p) for p in POSITIONS for _ in range(max(1, n // 5))],
        "relation": [
            (pick(COLOURS), pick(SHAPES), r, pick(COLOURS), pick(SHAPES))
            for r in RELATIONS
            for _ in range(max(1, n // 4))
        ],
    }
    for kind, items in cases.items():
        if kind == "size":
            options = [[f"a {z} {c} {s}" for z in SIZES] for c, s, _ in items]
            truth = [SIZES.index(z) for *_, z in items]
        elif kind == "position":
            options = [[f"a {c} {s} on the {p}" for p in POSITIONS] for c, s, _ in items]
            truth = [POSITIONS.index(p) for *_, p in items]
        else:
            options = [[f"a {c1} {s1} {r} a {c2} {s2}" for r in RELATIONS] for c1, s1, _, c2, s2 in items]
            truth = [RELATIONS.index(it[2]) for it in items]
        prompts = [opts[t] for opts, t in zip(options, truth)]
        inv = invert(model, prompts, seeds=seeds, recipe=recipe, cache=False, progress=progress)
        ok = 0
        for i, opts in enumerate(options):
            probs = judge(inv.images[i], opts, judge=judge_model)  # [S, K]
            ok += int((probs.argmax(-1) == truth[i]).sum())
        out[kind] = {
            "accuracy": round(ok / (len(items) * seeds), 4),
            "chance": round(1 / len(options[0]), 4),
            "images": len(items) * seeds,
        }
    return out


def oracle_validation(n: int = 2000, seed: int = 77) -> dict:
    """Pixel colour and shape read-outs on real world images (single objects), plain and faded."""
    x, samples = World(pair_rate=0.0).sample(n, seed=seed)
    truth = [s.objects[0].colour for s in samples]
    shapes, colours = [s.objects[0].shape for s in samples], [s.objects[0].colour for s in samples]
    out = {}
    for amount in (0.0, 0.3, 0.5):
        y = fade(x, amount) if amount else x
        out[f"fade_{amount}"] = {
            "oracle": round(sum(a == b for a, b in zip(pixel_colour(y), truth)) / n, 4),
            "probe_readout": round(sum(a == b for a, b in zip(probe_colour(y), truth)) / n, 4),
            "shape_oracle": round(sum(a == b for a, b in zip(pixel_shape(y, colours), shapes)) / n, 4),
        }
    return out


def canvas_reading(judge_model=None, noise: float = 0.3, seed: int = 0) -> dict:
    """How the judge reads a canvas filled with one palette colour, plain and with pixel noise (as
    inversions have): which colour and shape it picks among the 24 "a {colour} {shape}". An
    inversion fills the canvas with its prompt's colour, so this is what it is read as when its own
    shape does not show."""
    judge_model = judge_model or load_model("toy-judge")
    texts, labels = class_prompts()
    side = judge_model.image_size
    flat = torch.stack([torch.tensor(PALETTE[c]).view(3, 1, 1).expand(3, side, side) for c in COLOURS])
    g = torch.Generator().manual_seed(seed)
    out = {}
    for kind, x in (
        ("plain", flat),
        (f"noise {noise}", (flat + noise * torch.randn(flat.shape, generator=g)).clamp(0, 1)),
    ):
        picked = [labels[int(i)] for i in judge(x, texts, judge=judge_model).argmax(-1)]
        out[kind] = {
            "colour": round(sum(p[0] == c for p, c in zip(picked, COLOURS)) / len(COLOURS), 4),
            "shapes": {s: sum(p[1] == s for p in picked) for s in SHAPES},
            "canvases": len(COLOURS),
        }
    return out


def high_frequency(images: torch.Tensor) -> float:
    """Standard deviation of what a Gaussian blur (sigma 1 px) removes from images [..., 3, H, W]:
    the pixel-scale texture and noise an image carries."""
    x = images.reshape(-1, *images.shape[-3:]).float()
    return float((x - gaussian_blur(x, [5, 5], [1.0, 1.0])).std())


def judge_robustness(
    models=None, n: int = 600, seed: int = 5, radii=(4.5, 8.0, 10.0, 12.0, 14.0), noises=(0.0, 0.1, 0.2)
) -> dict:
    """Zero-shot colour x shape (24-way) of each model on fresh single-object world images redrawn
    with every object at one radius (the world draws 4.5 and 8 px, each +-15%), and on the world's
    own images with extra Gaussian pixel noise: how far each model reads shapes beyond the images it
    was trained on (inversions are textured, and often larger than the world's objects)."""
    models = models or {name: load_model(name) for name in ("toy", "toy-judge")}
    texts, labels = class_prompts()
    world = World(pair_rate=0.0)
    x, samples = world.sample(n, seed=seed)
    truth = torch.tensor([labels.index((s.objects[0].colour, s.objects[0].shape)) for s in samples])

    def accuracy(images, bundle):
        return round(float((judge(images, texts, judge=bundle).argmax(-1) == truth).float().mean()), 4)

    out = {"images": n, "world_high_frequency": round(high_frequency(x), 4), "radius": {}, "noise": {}}
    for r in radii:
        redrawn = [
            dataclasses.replace(
                s, objects=[dataclasses.replace(o, radius=o.radius * r / RADIUS[o.size]) for o in s.objects]
            )
            for s in samples
        ]
        images = world.render(redrawn, torch.Generator().manual_seed(seed + 1))
        out["radius"][str(r)] = {name: accuracy(images, b) for name, b in models.items()}
    g = torch.Generator().manual_seed(seed + 2)
    for std in noises:
        images = (x + std * torch.randn(x.shape, generator=g)).clamp(0, 1) if std else x
        out["noise"][str(std)] = {name: accuracy(images, b) for name, b in models.items()}
    return out


def judge_spread(judges: dict, model=None, recipe=None, seeds: int = 4, progress: bool = False) -> dict:
    """The bar's images (all 24 pairs x `seeds`, the toy recipe, the same images as the card's) judged
    24-way by each of `judges` ({name: bundle}), e.g. toy-judge and twins of it trained from other
    seeds (`clipinv toy train --like toy-judge --seed S`): how much the judged figure depends on which
    independent twin judges. Each row names the judge's stage seeds and weights hash."""
    model = model or load_model("toy")
    texts, labels = class_prompts()
    inv = invert(model, texts, seeds=seeds, recipe=recipe, cache=False, progress=progress)
    truth = torch.arange(len(labels)).view(-1, 1).expand(inv.images.shape[:2])
    rows, probs, right = {}, [], []
    for name, bundle in judges.items():
        probs.append(judge(inv.images, texts, judge=bundle))
        ok = (probs[-1].argmax(-1) == truth).float()
        right.append(ok)
        rows[name] = {
            "judged_colour_shape": round(float(ok.mean()), 4),
            "per_shape": {
                sh: round(float(ok[[i for i, lab in enumerate(labels) if lab[1] == sh]].mean()), 4) for sh in SHAPES
            },
            "stage_seeds": [st["train_config"]["seed"] for st in stages(bundle.card)] if bundle.card else None,
            "zero_shot_colour_shape": bundle.card.get("metrics", {}).get("zero_shot", {}).get("colour_shape"),
            "weights_hash": bundle.weights_hash,
        }
    right = torch.stack(right)
    return {
        "images": int(truth.numel()),
        "model_weights_hash": model.weights_hash,
        "recipe": (recipe or model.default_recipe).to_dict(),
        "judges": rows,
        # over all the judges: every one right, at least one right, their probabilities averaged
        "all_right": round(float(right.min(0).values.mean()), 4),
        "any_right": round(float(right.max(0).values.mean()), 4),
        "mean_probability": round(float((sum(probs).argmax(-1) == truth).float().mean()), 4),
    }


# `clipinv.Recipe`'s knobs and defaults (the paper's) when the record was made, in their order then:
# recorded recipes are read against these, so the record reads the same whichever knobs the
# package's Recipe gains or drops later
RECORDED_KNOBS = {
    "steps": 3400,
    "lr": 0.1,
    "resolution_schedule": ((0, 64), (900, 128), (1800, 224)),
    "reset_optimizer_on_resize": True,
    "n_augments": 13,
    "affine_p": 0.5,
    "rotate_degrees": 30.0,
    "translate": 0.1,
    "scale_range": (0.7, 1.2),
    "jitter_px": 0.0,
    "background_fill": None,
    "color_shift_mean": 0.0,
    "color_shift_log_std": 0.0,
    "color_jitter": 0.0,
    "noise_std": 0.0,
    "smooth_sigma": 0.0,
    "smooth_every": 0,
    "final_scale": 1.0,
    "tv_weight": 0.005,
    "l1_weight": 0.0,
    "l1_center": 0.0,
    "init_range": (0.0, 1.0),
    "parameterization": "pixels",
    "fourier_decay": 1.0,
    "residual_jitter": 0.0,
    "grad_clip": 1.0,
    "precision": "fp32",
    "compile": False,
    "progress_every": 50,
}
NOT_IMAGE_KNOBS = ("compile", "progress_every")  # they do not change the images


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, (list, tuple)) else v


def recipe_dict(recipe) -> dict:
    """A recipe (a `Recipe` or its dict, as the record's json stores it, perhaps from before a knob was
    added) with every knob, the missing ones at their defaults, lists as tuples, the knobs that do not
    change the images left out."""
    given = recipe.to_dict() if hasattr(recipe, "to_dict") else dict(recipe)
    return {k: _tuples(v) for k, v in dict(RECORDED_KNOBS, **given).items() if k not in NOT_IMAGE_KNOBS}


def recipe_key(recipe) -> dict:
    """`recipe_dict` in json types: one comparable form of a recipe."""
    return json.loads(json.dumps(recipe_dict(recipe)))


def kept_judge_spread(recorded: dict, model, recipe) -> dict | None:
    """The `judge_spread` a card's recorded inversion figures hold, if it was measured on this model's
    weights and this recipe (as the card's json stores them), else None."""
    old = recorded.get("judge_spread")
    same_recipe = old and recipe_key(old["recipe"]) == recipe_key(recipe)
    return old if same_recipe and old["model_weights_hash"] == model.weights_hash else None


def squares_win(reading: dict) -> bool:
    """True when most noisy one-colour canvases are read as squares (the card's explanation)."""
    noisy = next(v for k, v in reading.items() if k != "plain")
    return noisy["shapes"]["square"] > noisy["canvases"] / 2


def recipe_change(recipe: dict, base: dict) -> str:
    """`recipe` as changes to `base` ("TOY_RECIPE" when none), e.g. "affine_p=0.5, background_fill=None"."""
    a, b = recipe_dict(recipe), recipe_dict(base)  # tuples: the names print them
    diff = [f"{k}={a[k]}" for k in a if a[k] != b.get(k)]
    return ", ".join(diff) or "TOY_RECIPE"


def shape_confusion(per_prompt: dict) -> dict:
    """{true shape: {judged shape: count}} from an `inversion_bar` result's per_prompt."""
    out = {s: {t: 0 for t in SHAPES} for s in SHAPES}
    for prompt, r in per_prompt.items():
        truth = prompt.split()[-1]
        for judged in r["judged"]:
            out[truth][judged.split()[-1]] += 1
    return out


def pixel_shape_confusion(per_prompt: dict) -> dict:
    """{true shape: {shape drawn, or "none": count}} from an `inversion_bar` result's per_prompt."""
    out = {s: {t: 0 for t in (*SHAPES, "none")} for s in SHAPES}
    for prompt, r in per_prompt.items():
        for drawn in r["pixel_shape"]:
            out[prompt.split()[-1]][drawn] += 1
    return out


def from_scratch(name: str) -> dict:
    """Retrain a shipped toy model from scratch with every stage its card records (what
    `clipinv toy train --like NAME` runs), timed, and compare the weights with the shipped ones."""
    card = json.loads((WEIGHTS / f"{name}.json").read_text())
    with tempfile.TemporaryDirectory(prefix="clipinv-from-scratch-") as tmp:
        t0 = time.time()
        bundle, metrics = reproduce(card, Path(tmp) / f"{name}.safetensors", progress=False)
        wall = time.time() - t0
        new = json.loads((Path(tmp) / f"{name}.json").read_text())
    return {
        "command": f"clipinv toy train --like {name} --out PATH",
        "wall_seconds": round(wall, 1),
        "train_seconds": new["total_train_seconds"],
        "steps": new["total_steps"],
        "threads": metrics.get("threads"),
        "weights_hash": bundle.weights_hash,
        "identical": bundle.weights_hash == card["weights_hash"],
        "colour_shape": metrics["zero_shot"]["colour_shape"],
        "date": time.strftime("%Y-%m-%d"),
    }


def gpu_run(folder, note: str = "") -> dict:
    """One `clipinv toy train --like NAME` run on a lent GPU, read from the files `bench/gpu_session.sh`
    brings back (part 1): the retrained card (`toy-gpu.json`), the wall time its log ends with
    (`train.log`) and the device (`gpu.txt`)."""
    folder = Path(folder)
    need = [folder / f for f in ("toy-gpu.json", "train.log", "gpu.txt")]
    missing = [str(f) for f in need if not f.exists()]
    if missing:
        raise SystemExit(
            f"--gpu-run {folder}: missing {', '.join(missing)}; give a folder bench/gpu_session.sh part 1 or 5 wrote"
        )
    card = json.loads(need[0].read_text())
    wall = re.findall(r"toy train --like (\S+) wall: ([0-9.]+) s", need[1].read_text())
    if not wall:
        raise SystemExit(f"--gpu-run {folder}: train.log has no 'wall:' line (the run did not finish)")
    lines = need[2].read_text().splitlines()
    gpu = lines[1].split(",")[0].strip() if len(lines) > 1 else "a GPU"
    m = card["metrics"]
    graph = m.get("step") == "cuda-graph"
    return {
        "command": f"clipinv toy train --like {wall[-1][0]} --out PATH --device cuda" + " --cuda-graph" * graph,
        "wall_seconds": float(wall[-1][1]),
        "train_seconds": card["total_train_seconds"],
        "steps": card["total_steps"],
        "device": m["device"],
        "gpu": gpu,
        "torch": lines[2].split()[1] if len(lines) > 2 and lines[2].startswith("torch") else None,
        "colour_shape": m["zero_shot"]["colour_shape"],
        "step": m.get("step", "dynamic"),
        "note": note,
        "date": time.strftime("%Y-%m-%d", time.localtime(need[0].stat().st_mtime)),
    }


def gpu_bar_reading(runs: list[dict]) -> str:
    """The "<= 3 min on a GPU" bar over recorded runs, judged separately for each training step
    (the default, and `--cuda-graph`): met where every run of that step took <= 180 s wall."""
    steps = list(dict.fromkeys(g.get("step", "dynamic") for g in runs))

    def verdict(rs):
        met = [g for g in rs if g["wall_seconds"] <= 180]
        return (
            f"{'met' if len(met) == len(rs) else 'NOT met in every run'}: {len(met)} of {len(rs)} runs within "
            f"3 min (" + ", ".join(f"{g['wall_seconds'] / 60:.1f} min" for g in rs)
        )

    if steps == ["dynamic"]:
        return verdict(runs) + ", above)"
    names = {"dynamic": "the default step", "cuda-graph": "with --cuda-graph", "fixed": "fixed shapes"}
    return (
        "; ".join(
            f"{names.get(st, st)}: " + verdict([g for g in runs if g.get("step", "dynamic") == st]) + ")"
            for st in steps
        )
        + ", above"
    )


TUNING_PAIRS = [(c, ("circle", "square", "triangle")[i % 3]) for i, c in enumerate(COLOURS)]


def tune(changes: dict, log, seeds: int = 2, model=None, judge_model=None, pairs: str = "all") -> dict:
    """One row of the recipe tuning table: TOY_RECIPE with `changes`, on all 24 pairs (`pairs="all"`)
    or 8 (`"8"`: each colour once, session 1's protocol) x `seeds` seeds; appended as a json line to
    the file `log` (`tuning_log(out)`)."""
    if pairs not in ("all", "8"):
        raise ValueError(f"pairs must be 'all' (24 pairs) or '8' (each colour once), got {pairs!r}")
    recipe = TOY_RECIPE.replace(**changes)
    bar = inversion_bar(
        model, judge_model, recipe=recipe, pairs=None if pairs == "all" else TUNING_PAIRS, seeds=seeds, progress=False
    )
    row = {
        "change": ", ".join(f"{k}={v}" for k, v in changes.items()) or "TOY_RECIPE",
        "recipe": recipe.to_dict(),
        "pairs": bar["prompts"],
        "shape_confusion": shape_confusion(bar["per_prompt"]),
        "judged": bar["judged_colour_shape"],
        "judged_shape": bar["judged_shape"],
        "pixel": bar["pixel_colour"],
        "seconds": bar["seconds"],
        "images": bar["images"],
        "threads": torch.get_num_threads(),
    }
    with open(log, "a") as f:
        f.write(json.dumps(row) + "\n")
    return row


def _panel_images(changes: dict, pairs: list, seeds: list, threads: int) -> torch.Tensor:
    """One worker of `panel`: toy's inversions of "a {colour} {shape}" for `pairs` x `seeds`."""
    torch.set_num_threads(threads)
    return invert(
        load_model("toy"),
        [f"a {c} {s}" for c, s in pairs],
        seeds=seeds,
        recipe=TOY_RECIPE.replace(**changes),
        cache=False,
        progress=False,
    ).images


def panel_images(changes: dict, seeds, jobs: int = 1) -> torch.Tensor:
    """toy's inversions [24 pairs, seeds, 3, H, W] (class_prompts order) with TOY_RECIPE + `changes`;
    `jobs` > 1 splits the pairs over that many processes, 1 thread each."""
    _, labels = class_prompts()
    seeds = list(seeds)
    if jobs <= 1:
        return _panel_images(changes, labels, seeds, torch.get_num_threads())
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
        parts = list(
            ex.map(_panel_images, [changes] * jobs, [labels[k::jobs] for k in range(jobs)], [seeds] * jobs, [1] * jobs)
        )
    images = torch.empty(len(labels), len(seeds), *parts[0].shape[2:])
    for k, part in enumerate(parts):
        images[k::jobs] = part
    return images


def panel(candidates: dict, judges: dict, seeds=tuple(range(8)), jobs: int = 1) -> list[dict]:
    """Recipe selection, reproducibly: each candidate ({name: changes to TOY_RECIPE}) inverts all 24
    pairs x `seeds` with `toy`, and every judge in `judges` ({name: bundle}) reads the same images
    24-way. The protocol of the card's recipe: choose by the mean accuracy of judges other than
    toy-judge (twins, `clipinv toy train --like toy-judge --seed S`), ties broken by their mean
    probability of the true caption, then read toy-judge on the bar and on fresh seeds. `jobs`
    processes split the pairs (1 thread each), the fastest layout on the 2-core CPU."""
    texts, labels = class_prompts()
    seeds = list(seeds)
    rows, full_size = [], {}  # candidates that differ only in final_scale share one optimisation
    for name, changes in candidates.items():
        recipe = TOY_RECIPE.replace(**changes)
        key = json.dumps(recipe.replace(final_scale=1.0).to_dict(), sort_keys=True)
        if key not in full_size:
            t0 = time.time()
            full_size[key] = panel_images(dict(changes, final_scale=1.0), seeds, jobs), time.time() - t0
        images, seconds = full_size[key]  # the optimisation's time, whichever candidate ran it
        images = ShrinkOnto(recipe.final_scale, recipe.background_fill)(images.flatten(0, 1)).view(images.shape)
        truth = torch.arange(len(labels)).view(-1, 1).expand(images.shape[:2])
        row = {
            "name": name,
            "changes": changes,
            "recipe": recipe.to_dict(),
            "images": int(truth.numel()),
            "seeds": seeds,
            "seconds": round(seconds, 1),
            "judged": {},
            "p_true": {},
        }
        for jname, bundle in judges.items():
            probs = judge(images, texts, judge=bundle)
            row["judged"][jname] = round(float((probs.argmax(-1) == truth).float().mean()), 4)
            row["p_true"][jname] = round(float(probs.gather(-1, truth[..., None]).mean()), 4)  # the tie-break
        row["pixel_colour"] = _share(pixel_colour(images), [c for c, _ in labels])
        row["pixel_shape"] = _share(pixel_shape(images, [c for c, _ in labels]), [s for _, s in labels])
        rows.append(row)
    return rows


def record_panel(rows: list, judges: dict, purpose: str, out, choice: bool = True) -> dict:
    """Add a `panel` run to the recorded inversion figures in `out` (kept across re-measures: each
    row names its whole recipe) and rewrite the reports. judges: {name: bundle}, as given to `panel`.
    choice: whether its twins chose (or confirm) `TOY_RECIPE`; False for a reading of routes that
    were not shipped, whose twins then count as judges that took no part in the choice."""

    def label(name, bundle):  # a twin by its first stage seed (`clipinv toy train --seed S`), not its path here
        if name == "toy-judge" or not bundle.card:
            return name
        return f"twin seed {stages(bundle.card)[0]['train_config']['seed']}"

    names = {name: label(name, bundle) for name, bundle in judges.items()}
    rows = [dict(row, **{k: {names[j]: v for j, v in row[k].items()} for k in ("judged", "p_true")}) for row in rows]
    results = load_record(out)["toy"]["inversion"]
    entry = {
        "purpose": purpose,
        "choice": choice,
        "date": time.strftime("%Y-%m-%d"),
        "seeds": rows[0]["seeds"],
        "judges": {names[name]: bundle.weights_hash for name, bundle in judges.items()},
        "rows": rows,
    }
    results.setdefault("panels", []).append(entry)
    write_cards(out, results)
    return entry


def choosing_twins(inv: dict) -> set:
    """Weights hashes of the twins that chose (or confirmed) the recipe: those of every recorded panel
    but the ones recorded as no choice (`record_panel(choice=False)`)."""
    return {
        h
        for entry in inv.get("panels", [])
        if entry.get("choice", True)
        for j, h in entry["judges"].items()
        if j != "toy-judge"
    }


def panel_table(rows: list, test_judge: str = "toy-judge") -> str:
    """`panel` rows as a markdown table, the selection criterion first: the other judges' mean
    accuracy, ties broken by their mean probability of the true caption."""
    names = [j for j in rows[0]["judged"] if j != test_judge]
    head = (
        ["recipe", "images", "mean of " + (", ".join(names) or "none"), "their mean p(true)"]
        + names
        + [test_judge, "pixel colour", "shape drawn", "seconds"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        mean = sum(r["judged"][j] for j in names) / len(names) if names else float("nan")
        p_true = sum(r["p_true"][j] for j in names) / len(names) if names else float("nan")
        cells = [r["name"], str(r["images"]), f"{100 * mean:.1f}%", f"{100 * p_true:.1f}%"] + [
            f"{100 * r['judged'][j]:.1f}%" for j in names
        ]
        cells += [
            f"{100 * r['judged'][test_judge]:.1f}%" if test_judge in r["judged"] else "-",
            f"{100 * r['pixel_colour']:.1f}%",
            f"{100 * r['pixel_shape']:.1f}%",
            str(r["seconds"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def combine(parts: list) -> dict:
    """Merge inversion_bar results of disjoint prompt sets (run in parallel processes)."""
    n = sum(p["images"] for p in parts)
    out = {
        "prompts": sum(p["prompts"] for p in parts),
        "seeds": parts[0]["seeds"],
        "images": n,
        "seconds": round(sum(p["seconds"] for p in parts), 1),
        "per_prompt": {},
    }
    for key in (
        "judged_colour_shape",
        "judged_colour",
        "judged_shape",
        "pixel_colour",
        "self_similarity",
        "self_judged_colour_shape",
        "self_judged_shape",
    ):
        out[key] = round(sum(p[key] * p["images"] for p in parts) / n, 4)
    if all("pixel_shape" in p for p in parts):
        out["pixel_shape"] = round(sum(p["pixel_shape"] * p["images"] for p in parts) / n, 4)
    if all("high_frequency" in p for p in parts):  # pooled over the parts (each part's residual has mean ~0)
        out["high_frequency"] = round((sum(p["high_frequency"] ** 2 * p["images"] for p in parts) / n) ** 0.5, 4)
    for p in parts:
        out["per_prompt"].update(p["per_prompt"])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--tune",
        default=None,
        metavar="JSON",
        help="one tuning row: recipe changes as json, e.g. '{\"n_augments\": 16}'",
    )
    ap.add_argument(
        "--tune-pairs",
        choices=("all", "8"),
        default="all",
        help="--tune on all 24 pairs (48 images) or 8, each colour once (16 images, the early protocol)",
    )
    ap.add_argument(
        "--out",
        default=str(RESULTS),
        metavar="DIR",
        help="where everything is written: the record, the tuning log, the reports, --part and --panel "
        "files (default research/results/)",
    )
    ap.add_argument("--report", action="store_true", help="only rebuild the reports in --out from the record")
    ap.add_argument(
        "--part",
        default=None,
        metavar="K/N",
        help="only the K-th of N slices of the 24 pairs; writes DIR/part-K-of-N.json",
    )
    ap.add_argument(
        "--combine",
        nargs="*",
        default=None,
        metavar="PART.json",
        help="merge --part files, measure the rest (speed, attributes, oracle) and write the record",
    )
    ap.add_argument("--skip-attributes", action="store_true")
    ap.add_argument(
        "--from-scratch",
        nargs="+",
        default=None,
        metavar="NAME",
        help="retrain these shipped models from scratch (every stage of their cards), time it, compare the "
        "weights, and record it in their cards (minutes each: the card records how many)",
    )
    ap.add_argument(
        "--gpu-run",
        nargs=2,
        default=None,
        metavar=("NAME", "FOLDER"),
        help="record in NAME's card a from-scratch run on a GPU, read from the files bench/gpu_session.sh "
        "brought back (FOLDER with toy-gpu.json, train.log, gpu.txt); --gpu-note says what code ran",
    )
    ap.add_argument("--gpu-note", default="", help="with --gpu-run: what ran (commit, options)")
    ap.add_argument(
        "--canvas",
        action="store_true",
        help="measure how toy-judge reads one-colour canvases and record it in the toy card",
    )
    ap.add_argument(
        "--robustness",
        action="store_true",
        help="measure both models on world images drawn larger and noisier, and record it in the toy card",
    )
    ap.add_argument(
        "--judges",
        nargs="+",
        default=None,
        metavar="PATH",
        help="judge the bar's 96 images with toy-judge and these toy models too (e.g. twins of toy-judge from "
        "`clipinv toy train --like toy-judge --seed S --out PATH`), and record it in the toy card",
    )
    ap.add_argument(
        "--panel",
        nargs="+",
        default=None,
        metavar="NAME=JSON",
        help="recipe selection: each candidate (changes to TOY_RECIPE, e.g. 'smooth={\"smooth_sigma\": 0.5}') inverts "
        "24 pairs x --seeds, read by toy-judge and --panel-judges; prints a table, writes DIR/panel.json",
    )
    ap.add_argument(
        "--panel-judges",
        nargs="*",
        default=[],
        metavar="PATH",
        help="the judges --panel chooses by: twins of toy-judge (`clipinv toy train --like toy-judge --seed S --out PATH`)",
    )
    ap.add_argument(
        "--seeds", default="0-7", metavar="A-B", help="--panel's seeds, a range A-B or a list 0,1,2 (default 0-7)"
    )
    ap.add_argument(
        "--record",
        default=None,
        metavar="PURPOSE",
        help="add the --panel run to the toy card under this heading (e.g. 'selection', 'fresh seeds')",
    )
    ap.add_argument(
        "--not-a-choice",
        action="store_true",
        help="with --record: the panel is a reading (routes not shipped, or more judges), not a choice of TOY_RECIPE",
    )
    ap.add_argument("--jobs", type=int, default=2, help="--panel's processes, 1 thread each (default 2)")
    ap.add_argument("--machine", default="idle 2-core CPU", help="how to describe the machine in the card")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)

    def shipped(flag, name):
        if name not in shapes.TOY_MODELS:
            raise SystemExit(f"{flag} {name}: not a shipped toy model; pick from {', '.join(shapes.TOY_MODELS)}")
        return name

    def add_to_card(name, edit):  # a training-time figure of one shipped model, kept in the record
        record = load_record(out)
        edit(record[name])
        save_record(out, record)

    if args.report:
        write_cards(out)
        return None
    if args.from_scratch:
        for name in [shipped("--from-scratch", n) for n in args.from_scratch]:
            row = dict(from_scratch(name), machine=args.machine)
            print(name, json.dumps(row))
            add_to_card(name, lambda card: card.update(from_scratch=row))
        write_cards(out)
        return None
    if args.gpu_run:
        name, folder = shipped("--gpu-run", args.gpu_run[0]), args.gpu_run[1]
        row = gpu_run(folder, args.gpu_note)
        print(name, json.dumps(row))
        add_to_card(name, lambda card: card.update(from_scratch_gpu=card.get("from_scratch_gpu", []) + [row]))
        write_cards(out)
        return None
    if args.panel:
        return run_panel(args)
    model, judge_model = load_model("toy"), load_model("toy-judge")
    _check_toy_paths("--judges", args.judges or [])
    if args.canvas or args.robustness or args.judges:  # one more reading added to the card's recorded inversion figures
        results = load_record(out)["toy"]["inversion"]
        if args.canvas:
            key, value = "canvas_reading", canvas_reading(judge_model)
        elif args.robustness:
            key, value = "judge_robustness", judge_robustness({"toy": model, "toy-judge": judge_model})
        else:
            judges = {"toy-judge": judge_model, **{path: load_model(path) for path in args.judges}}
            key, value = "judge_spread", judge_spread(judges, model=model)
        results[key] = value
        print(json.dumps(value))
        write_cards(out, results)
        return results
    if args.tune is not None:
        row = tune(json.loads(args.tune), tuning_log(out), model=model, judge_model=judge_model, pairs=args.tune_pairs)
        print(json.dumps({k: v for k, v in row.items() if k != "recipe"}))
        return row
    _, labels = class_prompts()
    if args.part:
        k, n = (int(v) for v in args.part.split("/"))
        bar = inversion_bar(model, judge_model, pairs=labels[k::n], progress=False)
        bar.pop("images_tensor")
        bar["threads"] = torch.get_num_threads()
        out.mkdir(parents=True, exist_ok=True)
        with open(out / f"part-{k}-of-{n}.json", "w") as f:
            json.dump(bar, f)
        print(json.dumps({k: v for k, v in bar.items() if k != "per_prompt"}))
        return bar
    results = {
        "recipe": shapes.TOY_RECIPE.to_dict(),
        "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
        "machine": args.machine,
    }
    if args.combine:
        results["inversion"] = combine([json.loads(open(p).read()) for p in args.combine])
        results["inversion"]["threads"] = json.loads(open(args.combine[0]).read()).get("threads")
        results["inversion"]["parallel_processes"] = len(args.combine)
    else:
        bar = inversion_bar(model, judge_model)
        bar.pop("images_tensor")
        results["inversion"] = bar
    print(json.dumps({k: v for k, v in results["inversion"].items() if k != "per_prompt"}))
    if shapes.TOY_RECIPE.background_fill is not None:  # the same images with the paper's border padding instead
        bar = inversion_bar(
            model, judge_model, recipe=shapes.TOY_RECIPE.replace(background_fill=None, final_scale=1.0), progress=False
        )  # no grey to shrink onto: at full size
        results["border_padding"] = {
            k: bar[k]
            for k in (
                "images",
                "judged_colour_shape",
                "judged_colour",
                "judged_shape",
                "pixel_colour",
                "pixel_shape",
                "self_judged_colour_shape",
            )
        }
        print("border padding:", json.dumps(results["border_padding"]))
    results["one_prompt_4_seeds_seconds"] = one_prompt_seconds(model)
    print("one prompt x 4 seeds:", results["one_prompt_4_seeds_seconds"], "s")
    if not args.skip_attributes:
        results["attributes"] = attribute_inversions(model, judge_model, progress=False)
        print(json.dumps(results["attributes"]))
    results["oracle_validation"] = oracle_validation()
    print(json.dumps(results["oracle_validation"]))
    results["canvas_reading"] = canvas_reading(judge_model)
    results["judge_robustness"] = judge_robustness({"toy": model, "toy-judge": judge_model})
    recorded = load_record(out)["toy"].get("inversion", {})
    old = kept_judge_spread(recorded, model, shapes.TOY_RECIPE)
    if old:
        results["judge_spread"] = old  # its extra judges are not shipped: kept while the model and recipe stay
    panels = recorded.get("panels")
    if panels:
        results["panels"] = panels  # each row names its whole recipe, so they stay true under a new TOY_RECIPE
    write_cards(out, results)
    return results


def _check_toy_paths(flag: str, paths: list):
    for path in paths:
        if not shapes.is_toy_checkpoint(path):
            raise SystemExit(
                f"{flag} {path}: not a toy model saved by `clipinv toy train --out PATH` "
                "(a .safetensors with its card .json beside it)"
            )


def _parse_seeds(text: str) -> list[int]:
    try:
        if "-" in text:
            a, b = (int(v) for v in text.split("-"))
            seeds = list(range(a, b + 1))
        else:
            seeds = [int(v) for v in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise SystemExit(f"--seeds {text}: give a range A-B (e.g. 0-7) or a list of whole numbers >= 0 (e.g. 0,1,2)")
    return seeds


def run_panel(args) -> list:
    candidates = {}
    for item in args.panel:
        name, sep, text = item.partition("=")
        try:
            changes = json.loads(text) if sep else None
            if not isinstance(changes, dict):
                raise ValueError
            shapes.TOY_RECIPE.replace(**changes)
        except ClipinvError as e:
            raise SystemExit(f"--panel {item}: {e}")
        except ValueError:
            raise SystemExit(
                f"--panel {item}: give NAME=JSON, the JSON an object of recipe changes, e.g. 'smooth={{\"smooth_sigma\": 0.5}}'"
            )
        candidates[name] = changes
    _check_toy_paths("--panel-judges", args.panel_judges)
    seeds = _parse_seeds(args.seeds)
    judges = {"toy-judge": load_model("toy-judge"), **{path: load_model(path) for path in args.panel_judges}}
    rows = panel(candidates, judges, seeds=seeds, jobs=args.jobs)
    print(panel_table(rows))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "panel.json", "w") as f:
        json.dump(rows, f, indent=1)
    if args.record:
        record_panel(rows, judges, args.record, out, choice=not args.not_a_choice)
    return rows


def write_cards(out, results: dict | None = None):
    """Keep the measured inversion figures (default: those recorded) in the record in `out`, and
    write the long reports `out/shapes.md` and `out/toy-judge.md`, each from the package's card (read
    only) and what the record holds of that model; toy's report lists the tuning log too."""
    record = load_record(out)
    rows = [json.loads(line) for line in tuning_log(out).read_text().splitlines() if line.strip()]
    for name in ("toy", "toy-judge"):
        card = dict(json.loads((WEIGHTS / f"{name}.json").read_text()), **record[name])
        inv = None
        if name == "toy":
            results = results if results is not None else record["toy"]["inversion"]
            record["toy"]["inversion"] = results
            inv = dict(results, tuning=rows)
        (Path(out) / f"{name}.md").write_text(card_markdown(card, inv))
    save_record(out, record)


def other_seeds_reading(inv: dict) -> str:
    """How `toy-judge` read this recipe's inversions on seeds other than the bar's, in the recorded panels
    (a panel's seeds may include the bar's, and it says so): the bar's 96 images are one draw of
    seeds, and a pass or a miss can depend on it."""
    b = inv["inversion"]
    bar_seeds = set(range(b["seeds"]) if isinstance(b["seeds"], int) else b["seeds"])
    readings = {
        tuple(row["seeds"]): (row["seeds"], row["judged"]["toy-judge"], row["images"])
        for _, row in todays_rows(inv)
        if "toy-judge" in row["judged"] and set(row["seeds"]) != bar_seeds
    }.values()  # one per seed set
    if not readings:
        return ""
    return (
        "; the same recipe on other seeds (recipe panels below): "
        + ", ".join(
            f"seeds {s[0]}-{s[-1]} {100 * v:.1f}% ({n} images"
            + (", the bar's among them" if bar_seeds & set(s) else "")
            + ")"
            for s, v, n in readings
        )
        + (
            ", below the bar: the pass depends on which seeds are drawn"
            if b["judged_colour_shape"] >= 0.9 and min(v for _, v, _ in readings) < 0.9
            else ""
        )
    )


def todays_rows(inv: dict):
    """(panel entry, row) of every recorded panel row that ran the card's recipe."""
    today = recipe_key(inv["recipe"])
    return [
        (entry, row) for entry in inv.get("panels", []) for row in entry["rows"] if recipe_key(row["recipe"]) == today
    ]


def unchosen_twins_reading(inv: dict) -> str:
    """How the twins of `toy-judge` that took no part in choosing the recipe (`choosing_twins`) read
    this recipe's inversions: on the bar's images (`judge_spread`) and in the recorded panels. The
    choosing twins' readings are biased upwards by the choice; these are not."""
    chose = choosing_twins(inv)
    parts, seen = [], set()
    js = inv.get("judge_spread")
    if js and recipe_key(js["recipe"]) == recipe_key(inv["recipe"]):
        v = [
            r["judged_colour_shape"]
            for n, r in js["judges"].items()
            if n != "toy-judge" and r["weights_hash"] not in chose
        ]
        if v:
            parts.append(f"the bar's {js['images']} images " + " / ".join(f"{100 * x:.1f}%" for x in v))
            bar = inv["inversion"]["seeds"]
            seen.add(
                tuple(range(bar)) if isinstance(bar, int) else tuple(bar)
            )  # a panel of the bar's seeds: the same images
    for entry, row in todays_rows(inv):
        names = [j for j, h in entry["judges"].items() if j != "toy-judge" and h not in chose]
        if names and tuple(row["seeds"]) not in seen:
            seen.add(tuple(row["seeds"]))
            parts.append(
                f"seeds {row['seeds'][0]}-{row['seeds'][-1]} ({row['images']} images) "
                + " / ".join(f"{100 * row['judged'][j]:.1f}%" for j in names)
            )
    return (
        ("; twins of `toy-judge` that took no part in choosing the recipe read it: " + ", ".join(parts))
        if parts
        else ""
    )


def card_markdown(card: dict, inv: dict | None) -> str:
    m, tc, mc = card["metrics"], card["train_config"], card["model_config"]
    zs = m.get("zero_shot", {})
    size = (WEIGHTS / f"{card['name']}.safetensors").stat().st_size
    lines = [
        f"# Model card: `{card['name']}`",
        "",
        "A tiny CLIP (open_clip's own `CLIP` class) trained from scratch on clipinv's synthetic shapes world "
        "(`clipinv.worlds.shapes.world`): 8 colours x 3 shapes x 2 sizes x 5 positions on a textured grey background, "
        f"{int(100 * card['world']['pair_rate'])}% two-object scenes with relations, captions from 7 templates. "
        "A stand-in for a pretrained CLIP: its inversions say nothing about OpenAI's or LAION's models.",
        "",
        "## Data",
        f"- world: {json.dumps({k: v for k, v in card['world'].items()})}",
        f"- a fixed training set of {card['samples']} samples drawn with seed {tc['seed']}; training augmentation: "
        f"random affine (p {tc['affine_p']}, rotation +-{tc['rotate_degrees']} deg, translation {tc['translate']}, "
        f"scale {tc['scale_range']}) and Gaussian noise {tc['noise_std']}",
        "- held-out evaluation: fresh samples from seed + 1,000,003 (never seen in training)",
        "",
        "## Model",
        f"- vision: ViT {mc['image_size']} px, patch {mc['patch_size']}, width {mc['vision_width']}, "
        f"{mc['vision_layers']} layers; text: {mc['text_layers']} layer(s) x width {mc['text_width']}, "
        f"context {mc['context_length']}, word-level vocabulary of {mc['vocab_size']} ids; embedding {mc['embed_dim']}",
        f"- parameters: {card['parameters']:,}; weights file: {size / 1e6:.2f} MB; weights hash {card['weights_hash']}",
        "",
        "## Training (measured)",
        f"- {card.get('total_steps', tc['steps'])} steps x batch {tc['batch_size']} in {len(card.get('history', [])) + 1} "
        "stage(s), each continuing the previous one on a fresh fixed training set of its own seed; AdamW with warmup "
        f"and cosine decay, weight decay {tc['weight_decay']}; soft contrastive loss (same caption = positives)",
    ]
    for i, h in enumerate(card.get("history", []) + [{"train_config": tc, "samples": card["samples"], "metrics": m}]):
        hm, htc = h["metrics"], h["train_config"]
        zs_h = hm.get("zero_shot", {})
        lines.append(
            f"  - stage {i + 1}: {htc['steps']} steps, lr {htc['lr']}, data seed {htc['seed']} ({h['samples']} samples), "
            f"{hm['train_seconds']} s, loss {hm['loss_first']} -> {hm['loss_last']}, held-out colour x shape "
            f"{100 * zs_h.get('colour_shape', float('nan')):.1f}%"
        )
    lines += [
        f"- total training time: {card.get('total_train_seconds', m['train_seconds'])} s on {m['device']} "
        f"({m.get('threads')} thread per model, two models side by side on the 2-core CPU); "
        + card.get("training_note", ""),
    ]
    fs = card.get("from_scratch")
    if fs:
        lines.append(
            f"- from scratch ({fs['command']}, measured {fs['date']}): {fs['wall_seconds'] / 60:.1f} min wall "
            f"({fs['train_seconds']} s in the training loops) for {fs['steps']} steps, {fs['threads']} thread on "
            f"{fs.get('machine', 'a 2-core CPU')}; weights {'identical to' if fs['identical'] else 'NOT identical to'} the "
            f"shipped ones (hash {fs['weights_hash']}); held-out colour x shape {100 * fs['colour_shape']:.1f}%"
        )
    for g in card.get("from_scratch_gpu", []):
        lines.append(
            f"- from scratch on a GPU ({g['command']}, measured {g['date']}, {g['gpu']}, torch {g['torch']}"
            f"{', ' + g['note'] if g.get('note') else ''}): {g['wall_seconds'] / 60:.1f} min wall ({g['wall_seconds']} s; "
            f"{g['train_seconds']} s in the training loops) for {g['steps']} steps; held-out colour x shape "
            f"{100 * g['colour_shape']:.1f}%"
        )
    lines += [
        "",
        "## Held-out zero-shot accuracy (measured, fresh samples)",
        f'- colour x shape (24-way, "a {{colour}} {{shape}}"): {100 * zs.get("colour_shape", float("nan")):.1f}% '
        f"(colour {100 * zs.get('colour', float('nan')):.1f}%, shape {100 * zs.get('shape', float('nan')):.1f}%), "
        f"n = {zs.get('n')}",
        f"- size (2-way): {100 * zs.get('size', float('nan')):.1f}%; position (5-way): "
        f"{100 * zs.get('position', float('nan')):.1f}%; two-object relation (4-way): {100 * zs.get('relation', float('nan')):.1f}%",
    ]
    if inv:
        b = inv["inversion"]
        r = inv["recipe"]
        lines += [
            "",
            "## Toy inversion recipe (`clipinv.worlds.shapes.TOY_RECIPE`, this model's default)",
            f"- steps {r['steps']}, Adam lr {r['lr']}, resolution schedule "
            f"{' -> '.join(f'{side} px at step {at}' for at, side in r['resolution_schedule'])}, "
            f"{r['n_augments']} augmented copies, affine p {r['affine_p']} (rotation +-{r['rotate_degrees']}, "
            f"translation {r['translate']}, scale {tuple(r['scale_range'])}, padding "
            f"{'border' if r.get('background_fill') is None else 'plain grey ' + str(r['background_fill'])}), TV weight {r['tv_weight']}, grad clip {r['grad_clip']}"
            + (
                f", ColorShift mean {r['color_shift_mean']} / log std {r['color_shift_log_std']}"
                if r.get("color_shift_mean") or r.get("color_shift_log_std")
                else ""
            )
            + (
                f", the final image smoothed by a Gaussian blur of sigma {r['smooth_sigma']} px"
                + (f" (and every {r['smooth_every']} steps)" if r.get("smooth_every") else "")
                if r.get("smooth_sigma")
                else ""
            )
            + (
                f", then shown shrunk to {r['final_scale']} of its side on the grey"
                if r.get("final_scale", 1.0) < 1
                else ""
            ),
            "- why: the paper's recipe scaled to 32 px (schedule 16 -> 32 ending at the input size; 200 steps to "
            "fit the 30 s budget; TV 0.001 because the probe found strong TV hurts transfer; 16 copies, measured in "
            "session 1). Changes to the paper's augmentation: every copy gets the affine, shrunk to "
            f"{tuple(r['scale_range'])} of its size and padded with plain grey {r.get('background_fill')} (about the "
            "world's background) instead of its border pixels. With border padding an inversion fills the canvas "
            "with its colour, and an independent model reads such a canvas as a square (below); on grey the "
            "copy's outline shows, so the optimiser draws the shape. "
            + (
                f"The paper code's ColorShift, off there by default, is on (mean {r['color_shift_mean']}, log std "
                f"{r['color_shift_log_std']}): no copy sees the exact colour, so the inversion leans on shape. Its "
                "strength and the scale range were picked by how the two twins of `toy-judge` trained from other seeds (the "
                "`judge_spread` twins below, not shipped) read 24 pairs x 8 seeds; `toy-judge`'s reading was not the "
                "criterion. "
                if r.get("color_shift_mean") or r.get("color_shift_log_std")
                else ""
            )
            + (
                f"The last step is followed by a Gaussian blur of sigma {r['smooth_sigma']} px (Yosinski et al. 2015's "
                "blur regulariser, applied once): it removes pixel-scale texture the optimiser leaves (the texture figure "
                "below is after the blur, near the world's images), which independent judges read worse (noise, below); "
                "the shapes drawn stay as they were (the panels' shape-drawn column). Its sigma was picked by the same two "
                "twins (the selection panel below). "
                if r.get("smooth_sigma")
                else ""
            )
            + (
                f"Last, the image is shrunk to {r['final_scale']} of its side and centred on the grey (`final_scale`, "
                "after the blur; the optimisation is unchanged): the world's large objects span half the canvas, while "
                "the optimiser draws its object as big as the canvas, whose edge the shrunk copies showed the model as "
                "the object's outline. The shipped models, trained on the world's sizes, read canvas-sized objects worse "
                "(`judge_robustness`, below). The value was set by the world's geometry, not by the best reading, and then checked on "
                "fresh seeds 16-23 with a fresh twin of `toy-judge` (seed 6) by a rule fixed before that run: ship it if "
                "`toy-judge` reads it >= 90% there and the twins' mean reads it no worse than full size (the decision "
                "panel below). Before that run, scales 0.4 to 1.0 had been read on seeds 0-15 (the exploration panel below, "
                "a reading, not a choice): there the judges of the earlier rule, twins 2 and 3, read 0.75 best, the "
                "scale `toy-judge` read worst; 0.5 was kept for the geometry. A twin trained after the decision (seed 7), "
                "which took no part, reads the shrunk images worse than full size (the panel after the decision): "
                "independent judges differ in how they read them, and the gain is not every judge's. "
                if r.get("final_scale", 1.0) < 1
                else ""
            )
            + "The tuning table below measures each choice.",
            "",
            f"## Inversions (measured by `python research/toy_recipe.py`, {inv.get('date', 'date not recorded')})",
            f'- "a {{colour}} {{shape}}", all {b["prompts"]} pairs x {b["seeds"]} seeds, judged by `toy-judge` '
            f"(24-way): **{100 * b['judged_colour_shape']:.1f}%** (colour {100 * b['judged_colour']:.1f}%, "
            f"shape {100 * b['judged_shape']:.1f}%); colour read off the pixels: **{100 * b['pixel_colour']:.1f}%**; "
            f"mean cosine similarity to the prompt {b['self_similarity']}; "
            + (
                f"{b['seconds']} s summed over {b['parallel_processes']} processes side by side ({b.get('threads')} thread "
                f"each, {inv.get('machine', 'a 2-core CPU')})"
                if b.get("parallel_processes", 1) > 1
                else f"{b['seconds']} s for all {b['images']} images in one batch ({inv.get('threads')} threads, "
                f"{inv.get('machine', 'a 2-core CPU')})"
            ),
        ]
        if "border_padding" in inv:
            bp = inv["border_padding"]
            lines.append(
                f"- the same {bp['images']} prompts x seeds with the paper's border padding in place of the grey "
                f"(`background_fill=None`{', so at full size' if r.get('final_scale', 1.0) < 1 else ''}): judged {100 * bp['judged_colour_shape']:.1f}% (colour "
                f"{100 * bp['judged_colour']:.1f}%, shape {100 * bp['judged_shape']:.1f}%), pixel colour "
                f"{100 * bp['pixel_colour']:.1f}%, by `toy` itself {100 * bp['self_judged_colour_shape']:.1f}%"
                + (f", shape drawn (`pixel_shape`) {100 * bp['pixel_shape']:.1f}%" if "pixel_shape" in bp else "")
            )
        if "self_judged_colour_shape" in b:
            lines.append(
                f"- the same images judged by `toy` itself (the inverted model, a biased judge): "
                f"{100 * b['self_judged_colour_shape']:.1f}% (shape {100 * b['self_judged_shape']:.1f}%): what "
                "the inversion encodes for its own model but does not transfer to an independent one"
            )
        if b.get("per_prompt"):
            conf = shape_confusion(b["per_prompt"])
            lines.append(
                "- where shape goes wrong (true shape: judged circle / square / triangle): "
                + "; ".join(f"{t} {' / '.join(str(conf[t][j]) for j in SHAPES)}" for t in SHAPES)
            )
        if "pixel_shape" in b:
            drawn = pixel_shape_confusion(b["per_prompt"])
            lines.append(
                f"- not gated: the shape drawn in the prompt's colour, read off the pixels (`oracle.pixel_shape`, no model): "
                f"**{100 * b['pixel_shape']:.1f}%**; true shape: drawn circle / square / triangle / none: "
                + "; ".join(f"{t} {' / '.join(str(drawn[t][j]) for j in (*SHAPES, 'none'))}" for t in SHAPES)
                + (
                    ": below the judged shape, so the judge reads shapes from cues (corners, edges, texture) that the "
                    "inversions do not draw as a silhouette"
                    if b["pixel_shape"] < b["judged_shape"]
                    else ""
                )
            )
        if "canvas_reading" in inv:
            lines.append(
                "- how `toy-judge` reads a canvas filled with one palette colour (what a border-padded inversion "
                "looks like from afar): "
                + "; ".join(
                    f"{k}: colour right {100 * v['colour']:.0f}%, shapes "
                    + ", ".join(f"{s} {n}" for s, n in v["shapes"].items())
                    + f" of {v['canvases']}"
                    for k, v in inv["canvas_reading"].items()
                )
                + " (`canvas_reading`)"
                + (
                    ": a shape the inversion does not draw is read as the canvas's own square"
                    if squares_win(inv["canvas_reading"])
                    else ""
                )
            )
        if "judge_robustness" in inv:
            jr = inv["judge_robustness"]
            names = list(next(iter(jr["radius"].values())))
            lines.append(
                f"- how far the models read shapes beyond their training images (`judge_robustness`, {jr['images']} fresh "
                "single-object world images, 24-way colour x shape, "
                + " / ".join(f"`{m}`" for m in names)
                + "): every "
                "object redrawn at radius "
                + "; ".join(
                    f"{r} px {' / '.join(f'{100 * v[m]:.1f}%' for m in names)}" for r, v in jr["radius"].items()
                )
                + " (the world draws 4.5 and 8 px); with extra pixel noise of std "
                + "; ".join(f"{k} {' / '.join(f'{100 * v[m]:.1f}%' for m in names)}" for k, v in jr["noise"].items())
            )
            if "high_frequency" in b:
                lines.append(
                    f"- pixel-scale texture (std of what a 1 px Gaussian blur removes): inversions "
                    f"{b['high_frequency']}, world images {jr['world_high_frequency']}"
                )
        if "judge_spread" in inv:
            js = inv["judge_spread"]
            chose = choosing_twins(inv)
            lines.append(
                f"- the same {js['images']} images judged by independent twins of `toy-judge` (`judge_spread`; same training "
                "recipe, other seeds, not shipped: `clipinv toy train --like toy-judge --seed S`), judged colour x shape "
                "(circle / square / triangle right): "
                + "; ".join(
                    f"{'`toy-judge`' if n == 'toy-judge' else 'twin'} with stage seeds {r['stage_seeds']} "
                    + (
                        ""
                        if n == "toy-judge"
                        else "(chose the recipe) "
                        if r["weights_hash"] in chose
                        else "(took no part in choosing the recipe) "
                    )
                    + f"(held-out zero-shot {100 * r['zero_shot_colour_shape']:.1f}%): {100 * r['judged_colour_shape']:.1f}% "
                    f"({' / '.join(f'{100 * v:.0f}%' for v in r['per_shape'].values())})"
                    for n, r in js["judges"].items()
                )
                + f"; over these {len(js['judges'])} judges: all right {100 * js['all_right']:.1f}%, at least one right "
                f"{100 * js['any_right']:.1f}%, their probabilities averaged {100 * js['mean_probability']:.1f}%"
            )
        lines += [
            f"- one prompt x 4 seeds: **{inv['one_prompt_4_seeds_seconds']} s** (invert only, same machine)",
            "",
            "## Bars of issue 3",
            f"- zero-shot colour x shape >= 98%: {'met' if zs.get('colour_shape', 0) >= 0.98 else 'NOT met'}",
            f"- inversions judged >= 90%: {'met' if b['judged_colour_shape'] >= 0.9 else 'NOT met'} on the bar's "
            f"{b['images']} images ({100 * b['judged_colour_shape']:.1f}%)"
            + other_seeds_reading(inv)
            + unchosen_twins_reading(inv)
            + f"; pixel colour >= 95%: {'met' if b['pixel_colour'] >= 0.95 else 'NOT met'}",
            f"- one prompt x 4 seeds <= 30 s: {'met' if inv['one_prompt_4_seeds_seconds'] <= 30 else 'NOT met'}",
        ]
        if fs:
            lines.append(
                f"- training from scratch <= 30 min on the CPU: {'met' if fs['wall_seconds'] <= 1800 else 'NOT met'} "
                f"({fs['wall_seconds'] / 60:.1f} min, above)"
            )
        gpu = card.get("from_scratch_gpu", [])
        if gpu:
            lines.append("- training from scratch <= 3 min on a GPU: " + gpu_bar_reading(gpu))
        if "attributes" in inv:
            a = inv["attributes"]
            lines.append(
                "- not gated, judged by `toy-judge` among the alternatives: "
                + "; ".join(
                    f"{k} {100 * v['accuracy']:.0f}% (chance {100 * v['chance']:.0f}%, {v['images']} images)"
                    for k, v in a.items()
                )
                + (
                    f" (the final shrink scales an object's distance from the centre by {r['final_scale']}, and the "
                    "position prompts ask where it is)"
                    if r.get("final_scale", 1.0) < 1 and "position" in a
                    else ""
                )
            )
        if "oracle_validation" in inv:
            o = inv["oracle_validation"]
            lines.append(
                "- pixel colour oracle on real world images (plain / faded 30% / faded 50% towards grey): "
                + " / ".join(f"{100 * v['oracle']:.1f}%" for v in o.values())
                + "; the probe's read-out: "
                + " / ".join(f"{100 * v['probe_readout']:.1f}%" for v in o.values())
            )
            if all("shape_oracle" in v for v in o.values()):
                lines.append(
                    "- pixel shape oracle on the same images (plain / faded 30% / faded 50%): "
                    + " / ".join(f"{100 * v['shape_oracle']:.1f}%" for v in o.values())
                )
        for entry in inv.get("panels", []):
            rows = [dict(row, name=recipe_change(row["recipe"], r)) for row in entry["rows"]]
            twins = [j for j in entry["judges"] if j != "toy-judge"]
            how = (
                "their mean accuracy decides, ties broken by their mean probability of the true caption"
                if entry.get("choice", True)
                else "no recipe was chosen on this panel: it is a reading (of routes "
                "not shipped, or of the shipped recipe by more judges), not a choice"
            )
            lines += [
                "",
                f"## Recipe panel: {entry['purpose']} (measured {entry['date']})",
                "",
                f"Every row inverts all 24 pairs x seeds {entry['seeds'][0]}-{entry['seeds'][-1]} with `toy` "
                "(`python research/toy_recipe.py --panel NAME=JSON ... --panel-judges TWIN.safetensors ... --seeds A-B`); "
                f"every judge reads the same images 24-way. The other judges are {len(twins)} twin(s) of `toy-judge` "
                "(same recipe, other seeds, not shipped: `clipinv toy train --like toy-judge --seed S --out PATH`; "
                "weights hashes " + ", ".join(entry["judges"][j] for j in twins) + f"): {how}. `toy-judge` is the "
                "bar's judge. Rows are named by their differences to today's `TOY_RECIPE`.",
                "",
                panel_table(rows),
            ]
        if "tuning" in inv:
            lines += [
                "",
                "## Recipe tuning (measured)",
                "",
                "`TOY_RECIPE` with the changes named, judged by `toy-judge` (`python research/toy_recipe.py --tune JSON`, "
                "with the shipped models) with its 95% Wilson interval. Newer rows invert all 24 pairs x 2 seeds (48 "
                "images); the older ones 8 pairs (each colour once, mostly circles and squares, the hard shapes) x 2 "
                "seeds (16 images), which decide little. Rows logged before a change of `TOY_RECIPE` are named by "
                "their differences to today's. `circle -> square` counts circles judged squares.",
                "",
                "| recipe change | images | judged | judged shape | circle -> square | pixel colour | seconds | threads |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for row in sorted(inv["tuning"], key=lambda row: (-row["images"], -row["judged"])):
                row = dict(row, change=recipe_change(row["recipe"], r))
                lo, hi = wilson(round(row["judged"] * row["images"]), row["images"])
                shape = f"{100 * row['judged_shape']:.1f}%" if "judged_shape" in row else "-"
                conf = row.get("shape_confusion")
                c2s = f"{conf['circle']['square']} of {sum(conf['circle'].values())}" if conf else "-"
                lines.append(
                    f"| {row['change']} | {row['images']} | {100 * row['judged']:.1f}% ({100 * lo:.0f}-{100 * hi:.0f}%) | "
                    f"{shape} | {c2s} | {100 * row['pixel']:.1f}% | {row['seconds']} | {row.get('threads', '-')} |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
