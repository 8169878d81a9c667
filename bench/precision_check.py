"""Does bf16 (+ torch.compile) keep the toy's inversion quality? Issue 6's quality bar, on the device.

Inverts "a {colour} {shape}" with `toy` and `TOY_RECIPE` in fp32, then with the same seeds in bf16
(and, with --compile, bf16 + compile), and reads every image with `toy-judge`. It prints the mean
final similarity and the judged accuracy of each, and the bar: the mean similarity within 0.01 of
fp32 and the judged accuracy within one image of it. The exit status is 1 when a bar is missed.
`tests/test_precision.py` checks bf16 on the CPU at a small size; compile takes too long there to
test, so this script is for a GPU session (bench/gpu_session.sh part 4).

    python bench/precision_check.py --device cuda --compile          # 24 pairs x 4 seeds
    python bench/precision_check.py --device cpu --pairs 6 --seeds 1 # a smoke run here
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clipinv.core.invert import invert
from clipinv.models.judge import judge
from clipinv.models.load import load_model
from clipinv.worlds.shapes import TOY_RECIPE
from clipinv.worlds.shapes.world import class_prompts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--pairs", type=int, default=24, help="the first N of the 24 colour x shape pairs")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--compile", action="store_true", help="also bf16 + torch.compile")
    args = ap.parse_args(argv)
    if not 1 <= args.pairs <= 24 or args.seeds < 1:
        raise SystemExit("--pairs must be 1-24 and --seeds >= 1")
    device = torch.device(args.device)
    model, judge_model = load_model("toy", device=device), load_model("toy-judge", device=device)
    texts, _ = class_prompts()
    prompts = texts[: args.pairs]
    truth = torch.arange(args.pairs).view(-1, 1)
    variants = [("fp32", {}, False), ("bf16", {"precision": "bf16"}, False)]
    if args.compile:
        variants.append(("bf16 + compile", {"precision": "bf16"}, True))
    print(
        f"# toy inverted with TOY_RECIPE, {args.pairs} pairs x {args.seeds} seeds, judged by toy-judge; "
        f"device {device}, torch {torch.__version__}"
    )
    print(f"{'precision':<16} {'mean similarity':>15} {'judged':>8} {'seconds':>8}")
    rows = {}
    for name, changes, compile in variants:
        t0 = time.perf_counter()
        out = invert(
            model,
            prompts,
            seeds=args.seeds,
            recipe=TOY_RECIPE.replace(**changes),
            device=device,
            cache=False,
            progress=False,
            compile=compile,
        )
        seconds = time.perf_counter() - t0
        probs = judge(out.images, texts, judge=judge_model)
        right = int((probs.argmax(-1).cpu() == truth).sum())
        rows[name] = (float(out.similarity.mean()), right)
        print(
            f"{name:<16} {rows[name][0]:>15.4f} {right / (args.pairs * args.seeds):>7.1%} {seconds:>8.1f}", flush=True
        )
    sim32, right32 = rows["fp32"]
    ok = True
    for name, (sim, right) in list(rows.items())[1:]:
        sim_ok, judged_ok = abs(sim - sim32) <= 0.01, abs(right - right32) <= 1
        ok &= sim_ok and judged_ok
        print(
            f"{name}: similarity {sim - sim32:+.4f} vs fp32 ({'within' if sim_ok else 'NOT within'} 0.01); "
            f"judged {right - right32:+d} images ({'within' if judged_ok else 'NOT within'} one)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
