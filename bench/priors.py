"""The image priors on this machine: seed-steps per second of each parameterisation beside pixels,
and the cost of the strokes rasteriser as the number of strokes grows.

Part 1 times `clipinv.core.invert.optimise` (the library's loop, with `bench/throughput.py`'s timer: a
warm-up call, then `--repeats` timed calls of `--steps` steps) for every prior of
`clipinv.core.param.PARAMETERIZATIONS`, with the model's own recipe at one resolution (its final side),
so every step costs the same. Part 2 times `clipinv.core.stroke_raster.render` alone, forward and backward,
for one image at each stroke count and side: the rasteriser's own cost per image-step, beside the
memory its largest tensor ([strokes, segments, pixels] floats) takes.

    python bench/priors.py                          # toy on the CPU, 2 threads
    python bench/priors.py --model ViT-B-16:random --seeds 2 --steps 3   # the paper's size (slow on a CPU)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import get_model, time_clipinv

from clipinv.core import param, stroke_raster
from clipinv.core.recipe import Recipe


def prior_rows(bundle, device, seeds, steps, warmup, repeats):
    base = bundle.default_recipe or Recipe()
    side = base.resolution_schedule[-1][1]
    rows = []
    for prior in (*param.PARAMETERIZATIONS, "pixels"):  # pixels again last: the drift of a shared machine's load
        recipe = base.replace(parameterization=prior, resolution_schedule=((0, side),))
        times, _cpu, _peak = time_clipinv(bundle, seeds, recipe, device, steps, warmup, repeats)
        rate = seeds * steps / statistics.median(times)
        rows.append(
            (prior if len(rows) < len(param.PARAMETERIZATIONS) else "pixels, again", rate, seeds * steps / min(times))
        )
        print(f"# {rows[-1][0]}: {rate:.2f} seed-steps/s", flush=True)
    return rows, side, base.n_augments


def raster_ms(n, side, repeats, device):
    g = torch.Generator().manual_seed(n)
    strokes = stroke_raster.random_strokes(n, g)[None].to(device).requires_grad_(True)
    stroke_raster.render(strokes, side).sum().backward()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        strokes.grad = None
        stroke_raster.render(strokes, side).sum().backward()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="toy")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--strokes", default="8,16,32,64,128,256", help="stroke counts of the rasteriser table ('': none)")
    ap.add_argument("--sides", default="32,224")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bundle = get_model(args.model, device)

    rows, side, copies = prior_rows(bundle, device, args.seeds, args.steps, args.warmup, args.repeats)
    pixels = (rows[0][1] + rows[-1][1]) / 2
    print(
        f"\n{args.model}, {side} px, {copies} copies, {args.seeds} seeds x {args.steps} steps, "
        f"{args.threads} threads, {device}"
    )
    print("| prior | seed-steps/s (median) | best | vs pixels (mean of its two rows) |\n|---|---|---|---|")
    for prior, rate, best in rows:
        print(f"| {prior} | {rate:.2f} | {best:.2f} | {rate / pixels:.2f}x |")

    counts = [int(n) for n in args.strokes.split(",") if n]
    if not counts:
        return 0
    sides = [int(s) for s in args.sides.split(",")]
    print(f"\nstrokes rasteriser, one image, forward + backward, {stroke_raster.SEGMENTS} segments per stroke")
    print("| strokes | " + " | ".join(f"{s} px: ms (MB)" for s in sides) + " |")
    print("|---|" + "---|" * len(sides))
    for n in counts:
        cells = []
        for s in sides:
            mb = n * stroke_raster.SEGMENTS * s * s * 4 / 2**20
            cells.append(f"{raster_ms(n, s, args.repeats, device):.1f} ({mb:.0f})")
        print(f"| {n} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
