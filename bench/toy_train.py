"""Training speed of a toy CLIP, one option of `clipinv.worlds.shapes.training.train` at a time.

The toy model is tiny (a 3-layer ViT of width 128 on 32 px), so on a GPU a step is bound by the
CPU's kernel launches and host-device syncs, not by arithmetic. Each row trains the same model from
the same seed for `--steps` steps (stage 1 of `toy`'s card: batch 96, a fixed set of `--samples`
world images) and reports milliseconds per step, steps/s and what 6,800 steps (`toy`'s five
stages) would take at that rate, and the mean loss of its last 20 steps (the rows train the same
model on the same batches, so a row whose loss strays computes something else). The first row
reads the loss every step (a sync each step), the second every 20 steps (`train`'s default). The
third gives every tensor a fixed shape (the text tower sees all 96 captions, repeats masked out of
the loss); the fourth captures that step once as a CUDA graph and replays it (CUDA only). On
2026-11-26 an H100 also timed pinned non-blocking batch copies and fused AdamW
(bench/results/2026-11-26-h100/): no row moved beyond noise, so `train` kept neither.

    python bench/toy_train.py --device cuda
    python bench/toy_train.py --device cpu --steps 40       # a smoke run here
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clipinv.worlds.shapes.loss import caption_rows
from clipinv.worlds.shapes.model import ModelConfig, normalise
from clipinv.worlds.shapes.tokenizer import ToyTokenizer
from clipinv.worlds.shapes.training import TrainConfig, augment, train
from clipinv.worlds.shapes.world import World

VARIANTS = [  # (name, options of train)
    ("loss read every step", {"read_loss_every": 1}),
    ("loss read every 20 steps (the default)", {"read_loss_every": 20}),
    ("fixed shapes, eager (what the graph captures)", {"step": "fixed"}),
    ("CUDA graph of the whole step (--cuda-graph)", {"step": "cuda-graph"}),  # CUDA only
]


def host_ms(x_all, captions, tc, reps=200) -> float:
    """Milliseconds of host work `train` does per step before the device's part (fixed-shape step)."""
    g = torch.Generator().manual_seed(0)
    tok = ToyTokenizer(ModelConfig().context_length)

    def one():
        idx = torch.randint(len(captions), (tc.batch_size,), generator=g)
        caps = [captions[i] for i in idx]
        normalise(augment(x_all[idx], tc, g))
        tok(caps)
        caption_rows(caps)

    for _ in range(10):
        one()
    t = time.perf_counter()
    for _ in range(reps):
        one()
    return (time.perf_counter() - t) * 1000 / reps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--samples", type=int, default=8000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(TrainConfig().threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"# toy training speed  torch {torch.__version__}  device {device} ({name})  {args.steps} steps per row")
    t = time.perf_counter()
    x_all, drawn = World().sample(args.samples, seed=0)
    print(f"# drawing {args.samples} world images: {time.perf_counter() - t:.2f} s (once per stage)")
    tc = TrainConfig(steps=args.steps, warmup=20)
    print(
        f"# the host's work per step (pick a batch, augment, normalise, tokenise its captions): "
        f"{host_ms(x_all, [s.caption for s in drawn], tc):.2f} ms, the floor of a replayed CUDA graph's step"
    )
    # warm-up: CUDA context, kernels, allocator
    train(steps=20, samples=args.samples, train_config=tc, device=str(device), progress=False, evaluate=False)
    print(f"{'what':<48} {'ms/step':>8} {'steps/s':>8} {'6800 steps':>11} {'loss, last 20':>14}")
    rows = []
    for what, opts in VARIANTS:
        if opts.get("step") == "cuda-graph" and device.type != "cuda":
            print(f"{what:<48} {'(CUDA only)':>8}")
            continue
        _, m = train(
            steps=args.steps,
            samples=args.samples,
            train_config=tc,
            device=str(device),
            progress=False,
            evaluate=False,
            **opts,
        )
        ms = m["train_seconds"] * 1000 / args.steps
        rows.append({"what": what, **opts, "ms_per_step": ms, "loss_last": m["loss_last"]})
        print(f"{what:<48} {ms:>8.2f} {1000 / ms:>8.1f} {6800 * ms / 1000:>9.0f} s {m['loss_last']:>14.4f}", flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"device": str(device), "name": name, "torch": torch.__version__, "steps": args.steps, "rows": rows},
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
