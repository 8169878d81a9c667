"""How live the explorer is on this CPU: from pressing *Invert* to the first image drawn, and to the
final image, for one prompt, as a reader meets it. Building the explorer loads the model (its sliders
start at the model's recipe): timed apart; the first press still pays the first run's warm-up, the
later presses do not. The explorer itself runs (`clipinv.book.explorer.Explorer`, its `run`,
its redraw callback), headless, with an empty result cache so nothing is read back from disk.

    python bench/explorer_latency.py                                 # emoji "a rocket", toy "a red circle"
    python bench/explorer_latency.py --models emoji --presses 3 --threads 2
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time

import torch

PROMPTS = {"emoji": "a rocket", "emoji-judge": "a rocket", "toy": "a red circle", "toy-judge": "a red circle"}


def press(ex, prompt: str, seed_prompt: str) -> tuple[float, float]:
    """One press of Invert: seconds to the first frame drawn and to the final image."""
    drawn = []
    show = ex._show

    def timed_show(image):
        drawn.append(time.perf_counter())
        show(image)

    ex._show = timed_show
    ex.prompt.value = f"{prompt}{seed_prompt}"  # a new prompt each press: nothing comes from the cache
    t0 = time.perf_counter()
    ex.run()
    end = time.perf_counter()
    ex._show = show
    if not drawn or "similarity" not in ex.status.value:
        raise RuntimeError(f"the explorer drew nothing: {ex.status.value}")
    return drawn[0] - t0, end - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="emoji,toy")
    p.add_argument("--presses", type=int, default=3, help="presses per model (the first loads the model)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (a laptop's 2 cores: 2)")
    a = p.parse_args()
    os.environ["CLIPINV_CACHE"] = tempfile.mkdtemp(prefix="explorer-bench-")
    torch.set_num_threads(a.threads)
    from clipinv.book.explorer import Explorer

    print(f"# {datetime.datetime.now():%Y-%m-%d %H:%M} {platform.node()} torch {torch.__version__}")
    print(f"# {os.cpu_count()} CPUs, {a.threads} torch threads, load average at start {os.getloadavg()[0]:.1f}")
    print(
        "| model | prompt | steps x copies | explorer built (model loaded) s | first press: first frame s | final s "
        "| later presses: first frame s | final s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for spec in a.models.split(","):
        t0 = time.perf_counter()
        ex = Explorer(model=spec, prompt=PROMPTS.get(spec, "a rocket"), redraw_steps=5, redraw_seconds=0.2)
        built = time.perf_counter() - t0
        first = press(ex, ex.prompt.value, "")
        later = [press(ex, ex.prompt.value.split("!")[0], "!" * (i + 1)) for i in range(a.presses - 1)]
        recipe = ex.recipe(ex._bundle(spec))
        frame = statistics.median(x[0] for x in later) if later else float("nan")
        final = statistics.median(x[1] for x in later) if later else float("nan")
        print(
            f"| {spec} | {PROMPTS.get(spec, 'a rocket')} | {recipe.steps} x {recipe.n_augments} | {built:.1f} | {first[0]:.2f} | "
            f"{first[1]:.1f} | {frame:.2f} | {final:.1f} |"
        )
    print(f"# load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
