"""CPU time of `clipinv.read`: seconds per image (one reading: one image x one seed) and per step.

Each row reads random images with `clipinv.core.reading.optimise_words` (the library's search, not a copy)
after one short warm-up call with the same shapes: `--steps` timed steps for a batch of `--batch`
images, repeated `--repeats` times; the median is reported, as process (CPU) seconds and wall
seconds. "per image" is a whole reading at the default number of steps (`DEFAULT_STEPS`): the
measured seconds per step times those steps (for the toys, `--steps` is the default itself).

    python bench/reading.py                                  # toy, toy-judge, ViT-B-32:random, ViT-B-16:random
    python bench/reading.py --models toy --batches 1,8,32 --threads 2
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import subprocess
import time

import torch

import clipinv
from clipinv.core.reading import DEFAULT_STEPS, optimise_words, template


def time_row(bundle, batch, n_tokens, method, steps, repeats):
    tpl = template(bundle, n_tokens)
    with torch.no_grad():
        targets = bundle.encode_image(torch.rand(batch, 3, bundle.image_size, bundle.image_size))
    seeds = list(range(batch))
    optimise_words(bundle, targets, seeds, tpl, method, steps=2, progress=False)  # warm-up
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        optimise_words(bundle, targets, seeds, tpl, method, steps=steps, progress=False)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="toy,toy-judge,ViT-B-32:random,ViT-B-16:random")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--tokens", type=int, default=4)
    ap.add_argument("--method", default="pez", choices=clipinv.core.reading.METHODS)
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default: DEFAULT_STEPS for toys, 10 else)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"# clipinv read, CPU time  {datetime.date.today()}  commit {commit}  torch {torch.__version__}  "
        f"{platform.processor() or platform.machine()}  {args.threads} thread(s)  {args.method}, "
        f"{args.tokens} tokens, a reading = {DEFAULT_STEPS} steps"
    )
    print(
        f"{'model':<18} {'batch':>5} {'steps timed':>11} {'CPU s/step/image':>16} {'wall s/step/image':>17} "
        f"{'CPU s per image':>15} {'wall s per image':>16}"
    )
    for spec in args.models.split(","):
        bundle = clipinv.load_model(spec)
        steps = args.steps or (DEFAULT_STEPS if spec.startswith("toy") else 10)
        for batch in (int(b) for b in args.batches.split(",")):
            cpu, wall = time_row(bundle, batch, args.tokens, args.method, steps, args.repeats)
            per_cpu, per_wall = cpu / steps / batch, wall / steps / batch
            print(
                f"{spec:<18} {batch:>5} {steps:>11} {per_cpu:>16.5f} {per_wall:>17.5f} "
                f"{per_cpu * DEFAULT_STEPS:>15.3f} {per_wall * DEFAULT_STEPS:>16.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
