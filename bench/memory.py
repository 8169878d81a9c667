"""Does `clipinv.core.batching` size batches right? Its per-image estimate beside the peak memory one real
step of `optimise` takes, for a few batch sizes, on the CPU (peak resident memory, Linux).

    python bench/batching.py --model ViT-S-32:random --copies 13 --batches 1,2,4
    python bench/batching.py --model toy --copies 16 --batches 1,8,32

Each row runs in a fresh process: load the model, reset the peak resident memory
(/proc/self/clear_refs) and run one step (a warm-up step would leave freed memory in the allocator
for the measured step to reuse). "measured / image" is the slope of the peak over
the batch sizes; "saved / image" is what `batching.image_bytes` counts (the tensors kept for the
backward pass); their ratio is what `batching.BACKWARD_FACTOR` must cover.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def one(spec: str, copies: int, batch: int, side: int) -> dict:
    """In this process: peak resident growth (bytes) of one step at `batch` images, and the estimate."""
    import torch

    from clipinv import load_model
    from clipinv.core import batching
    from clipinv.core.invert import optimise
    from clipinv.core.objective import Prompt

    torch.set_num_threads(2)
    bundle = load_model(spec)
    recipe = (bundle.default_recipe or __import__("clipinv").Recipe()).replace(
        steps=1, n_augments=copies, resolution_schedule=((0, side),)
    )
    prompts, seeds = [Prompt("a red circle")] * batch, list(range(batch))
    device = torch.device("cpu")
    estimate = batching.image_bytes([bundle], recipe, device)
    Path("/proc/self/clear_refs").write_text("5")
    base = rss_kb("VmRSS")
    optimise([bundle], prompts, seeds, recipe, device, progress=False)
    peak = rss_kb("VmHWM")
    return {"batch": batch, "peak_growth": (peak - base) * 1024, "estimate": estimate}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ViT-S-32:random")
    ap.add_argument("--copies", type=int, default=13)
    ap.add_argument("--batches", default="1,2,4")
    ap.add_argument("--side", type=int, default=None, help="image side (default: the model's input size)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.model, args.copies, args.one, args.side)))
        return 0
    if args.side is None:
        import clipinv

        args.side = clipinv.load_model(args.model).image_size
    rows = []
    for b in (int(v) for v in args.batches.split(",")):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--model",
                args.model,
                "--copies",
                str(args.copies),
                "--side",
                str(args.side),
                "--one",
                str(b),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"# {args.model}, {args.copies} copies, {args.side} px, one step of optimise on the CPU")
    print(f"{'images':>6} {'peak growth MB':>15} {'saved / image MB':>17}")
    for r in rows:
        print(f"{r['batch']:>6} {r['peak_growth'] / 1e6:>15.1f} {r['estimate'] / 1e6:>17.1f}")
    if len(rows) > 1:
        slope = (rows[-1]["peak_growth"] - rows[0]["peak_growth"]) / (rows[-1]["batch"] - rows[0]["batch"])
        print(
            f"measured / image {slope / 1e6:.1f} MB; saved / image {rows[0]['estimate'] / 1e6:.1f} MB; "
            f"ratio {slope / rows[0]['estimate']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
