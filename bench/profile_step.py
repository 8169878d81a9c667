"""Where one step of the inversion loop spends its time: torch.profiler over `optimise`, its
top-level operations grouped into the loop's parts (augmentation, encoder forward, backward,
loss terms, optimiser, the rest), beside the step's wall time.

    python bench/profile_step.py --model ViT-B-16:random --seeds 1 --copies 13     # the paper's step
    python bench/profile_step.py --device cuda --seeds 64 --precision bf16          # on a GPU

One warm-up step, then `--steps` profiled steps at the final resolution (224 px for ViT-B-16).
Top-level operations are those with no parent in the profiler's tree; on a GPU the table shows
device time per part too, and "idle / host" is the wall time the device was not busy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clipinv import Recipe, load_model
from clipinv.core.invert import optimise
from clipinv.core.objective import Prompt

PARTS = (  # (part, substrings of a top-level operation's name), first match wins
    ("backward", ("evaluate_function", "backward")),
    ("optimiser", ("Optimizer.", "_foreach_", "adam")),
    ("augmentation", ("grid_sampler", "affine_grid", "roll", "interpolate", "upsample")),
    (
        "encoder forward",
        (
            "linear",
            "conv",
            "layer_norm",
            "scaled_dot_product",
            "gelu",
            "matmul",
            "softmax",
            "addmm",
            "bmm",
            "mm",
            "attention",
            "native_layer_norm",
            "batch_norm",
            "relu",
            "max_pool",
            "adaptive_avg_pool",
            "cat",
            "permute",
            "reshape",
            "view",
            "add",
            "mul",
        ),
    ),
    ("loss terms", ("norm", "sum", "sub", "abs", "sqrt", "pow", "mean", "div")),
)


def part_of(name: str) -> str:
    low = name.lower()
    for part, keys in PARTS:
        if any(k.lower() in low for k in keys):
            return part
    return "other"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ViT-B-16:random")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", type=int, default=1, help="images per batch")
    ap.add_argument("--copies", type=int, default=13)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--steps", type=int, default=1, help="profiled steps")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bundle = load_model(args.model, device=device)
    side = bundle.image_size
    recipe = Recipe(resolution_schedule=((0, side),), n_augments=args.copies, precision=args.precision)
    prompts, seeds = [Prompt("a red circle")] * args.seeds, list(range(args.seeds))
    optimise([bundle], prompts, seeds, recipe.replace(steps=1), device, progress=False)  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    timed = recipe.replace(steps=args.steps)
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        optimise([bundle], prompts, seeds, timed, device, progress=False, progress_every=args.steps)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall = time.perf_counter() - t0
    host, dev = {}, {}
    for evt in prof.events():
        if evt.cpu_parent is not None or evt.device_type != torch.autograd.DeviceType.CPU:
            continue
        part = part_of(evt.name)
        host[part] = host.get(part, 0.0) + evt.cpu_time_total / 1e6
        dev[part] = dev.get(part, 0.0) + getattr(evt, "device_time_total", 0.0) / 1e6
    per = args.steps
    print(
        f"# {args.model}, {args.seeds} image(s) x {args.copies} copies, {side} px, {args.precision}, {device}, "
        f"{args.threads} threads, torch {torch.__version__}; {per} profiled step(s)"
    )
    print(
        f"{'part':<18} {'host ms/step':>12} {'share':>6}"
        + (f" {'device ms/step':>14}" if device.type == "cuda" else "")
    )
    order = ["augmentation", "encoder forward", "loss terms", "backward", "optimiser", "other"]
    for part in order:
        if part in host:
            line = f"{part:<18} {1e3 * host[part] / per:>12.1f} {host[part] / wall:>6.1%}"
            if device.type == "cuda":
                line += f" {1e3 * dev[part] / per:>14.1f}"
            print(line)
    busy = sum(dev.values()) if device.type == "cuda" else sum(host.values())
    print(f"{'idle / host':<18} {1e3 * max(0.0, wall - busy) / per:>12.1f} {max(0.0, wall - busy) / wall:>6.1%}")
    print(f"{'step (wall)':<18} {1e3 * wall / per:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
