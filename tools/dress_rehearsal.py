"""A dress rehearsal of the paper profile on this machine, offline: every section through the real
loader (open_clip's pretrained path) on random weights written where the downloaded ones would lie
(`tools/offline_hub.py`), with steps, seeds, copies and the sections' own sizes cut to the minimum.
Prints each section's time, the kernel's peak memory and how many images it computed, beside what
`--plan` said it would compute.

    python tools/dress_rehearsal.py                       # all nine sections
    python tools/dress_rehearsal.py --sections 00_method 03_gender
    python tools/dress_rehearsal.py --plan-only           # the paper profile's full-size plan, on these weights

The weights (about 4.7 GB for the six specs) are written once into --hub and kept; the book is
built off a copy of the sources in a temporary folder with its own results cache, so nothing of
the user's book or cache is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from offline_hub import PeakMemory, profile_specs, use_offline_hub, write_weights

from clipinv.book.plan import declared_overrides, plan, show
from clipinv.book.runner import SECTIONS, copy_sources, glued, run_section
from clipinv.runs import planning

MINIMAL = {"device": "cpu", "steps": 2, "seeds": 1, "recipe": {"n_augments": 1}}
# each section's own sizes, cut (the paper profile's models and prompts stay)
CUT = {
    "00_method": {"stage_prompts": 1},
    "02_nsfw": {"vocab_words": 100},
    "04_bag_of_words": {"n_captions": 8, "n_shuffles": 2},
    "06_ablations": {"n_prompts": 2},
    "07_contamination_audit": {"levels": [0.0, 0.2], "control_seeds": 1, "validation_images": 50},
    "08_image_prior": {"alignment_seeds": 1, "control_seeds": 1},
}


def overrides(root: Path, name: str) -> dict:
    return declared_overrides(root, name, {**MINIMAL, **CUT.get(name, {})})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", nargs="+", default=list(SECTIONS), metavar="NAME")
    ap.add_argument("--hub", default=str(Path.home() / ".cache" / "clipinv" / "rehearsal-hub"))
    ap.add_argument("--plan-only", action="store_true", help="print the full-size paper plan and stop")
    ap.add_argument("--no-plan", action="store_true", help="skip the plan before each section")
    args = ap.parse_args(argv)

    hub = Path(args.hub)
    t0 = time.perf_counter()
    write_weights(hub, profile_specs(REPO, "paper"))
    print(
        f"[rehearsal] weights for {len(profile_specs(REPO, 'paper'))} specs in {hub} ({time.perf_counter() - t0:.0f} s)"
    )
    use_offline_hub(hub)

    with tempfile.TemporaryDirectory(prefix="clipinv-rehearsal-") as tmp:
        tmp = Path(tmp)
        root = copy_sources(tmp, REPO)
        os.environ["CLIPINV_CACHE"] = str(tmp / "cache")
        if args.plan_only:
            show(plan(root, args.sections, "paper"))
            return 0
        rows = []
        for name in args.sections:
            planned = []
            if not args.no_plan:
                result = plan(root, [name], "paper", overrides(root, name))
                planned = result["rows"]
            book_ledger = tmp / f"{name}.ledger.jsonl"
            with PeakMemory() as peak:
                res = run_section(root, name, "paper", overrides(root, name), ledger=book_ledger)
            ran = planning.rows(book_ledger)
            new = sum(r.get("new", 0) for r in ran if r["kind"] == "inversion")
            rows.append(
                {
                    "section": name,
                    "seconds": round(res["seconds"]),
                    "peak GB": round(peak.peak_gb, 1),
                    "images computed": new,
                    "plan said": sum(r.get("new", 0) for r in planned if r["kind"] == "inversion") if planned else "-",
                    "models": glued(res["output"]).get("models", "").strip("'"),
                }
            )
            print(f"[rehearsal] {rows[-1]}", flush=True)
        import pandas as pd

        with pd.option_context("display.width", 250, "display.max_colwidth", 80):
            print(pd.DataFrame(rows).to_string(index=False))
        print(
            f"[rehearsal] total {sum(r['seconds'] for r in rows)} s, largest peak {max(r['peak GB'] for r in rows)} GB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
