"""Two book sections at a time or one: how the 2-core CPU is best shared.

`make book` runs the CPU profiles' sections two at a time, each kernel on one thread
(`clipinv book --jobs 2`). This times the same work both ways: two inversion workloads (each `--seeds`
seeds of one prompt, the model's own recipe scaled to `--steps` steps, uncached) run one after the other in one
process on every core, and run side by side in two processes on one thread each. Wall seconds of each,
for the emoji and the toy model.

    python bench/section_threads.py            # about 3 minutes on the 2-core CPU
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

WORK = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
from clipinv.core.invert import invert
from clipinv.core.recipe import scaled_schedule
from clipinv.models.load import load_model
m = load_model(sys.argv[2])
recipe = m.default_recipe.replace(**scaled_schedule(m.default_recipe, int(sys.argv[4])))
for _ in range(int(sys.argv[5])):
    invert(m, ["a rocket" if sys.argv[2] == "emoji" else "a red circle"], seeds=int(sys.argv[3]),
           recipe=recipe, progress=False, cache=False)
"""


def run(threads: int, model: str, seeds: int, steps: int, workloads: int, processes: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    args = [sys.executable, "-c", WORK, str(threads), model, str(seeds), str(steps), str(workloads)]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(args, env=env) for _ in range(processes)]
    if any(p.wait() for p in procs):
        raise SystemExit(f"a {model} workload failed")
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--steps", type=int, default=60)
    a = p.parse_args(argv)
    cores = os.cpu_count() or 1
    rows = []
    for model in ("emoji", "toy"):
        one = run(cores, model, a.seeds, a.steps, workloads=2, processes=1)
        two = run(max(1, cores // 2), model, a.seeds, a.steps, workloads=1, processes=2)
        rows.append((model, one, two))
    print(f"two workloads of {a.seeds} seeds x {a.steps} steps, uncached, on {cores} cores")
    print(
        f"{'model':8} {'one process, ' + str(cores) + ' threads':>26} {'two processes, 1 thread each':>30} {'speed-up':>9}"
    )
    for model, one, two in rows:
        print(f"{model:8} {one:24.1f} s {two:28.1f} s {one / two:8.2f}x")


if __name__ == "__main__":
    main()
