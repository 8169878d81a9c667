"""Train the book's toy ladder models (`clipinv.worlds.shapes.ladders`) into clipinv/worlds/shapes/weights/ladders/ and
write their cards' table (README.md there) from the cards the training saved.

    python tools/train_ladders.py                  # every rung not yet trained, then the table
    python tools/train_ladders.py toy-plant-p20    # just these (retrains them)
    python tools/train_ladders.py --ladder data    # one ladder
    python tools/train_ladders.py --cards          # only rewrite the table

Each rung trains on one thread, as the shipped toy did; run two of these at once on two cores.
A rung is written to a temporary name and moved into place when it is done.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clipinv.worlds.shapes.ladders import LADDER_DIR, RUNGS, ladder, train_rung

LADDER_TITLES = {
    "contamination": "Contamination ladder (sections 2 and 7): toy trained further on planted data",
    "skew": "Skew ladder (section 3): toy trained further with a planted colour skew",
    "data": "Data-scale ladder (section 5): toy's schedule from scratch on N unique images",
}


def table() -> str:
    lines = [
        "# The book's toy ladders",
        "",
        "Written by `python tools/train_ladders.py --cards` from each model's card (`NAME.json`). Every model has",
        "the shipped `toy`'s size (518,657 parameters). Continuations (contamination, skew) start from `toy`",
        "and train one more stage on their own data; data rungs retrain toy's five stages from scratch.",
        "Held-out accuracy: 24-way colour x shape on 2,000 fresh world images. Retrain any of them from",
        "scratch with `clipinv toy train --like NAME --out PATH` (every stage its card records).",
        "Training times are as measured here: two or three trainings at once on the shared 2-core CPU, one",
        "thread each (alone, toy's own five stages take 9.1 min; see `clipinv/worlds/shapes/weights/toy.md`).",
        "",
    ]
    for name, title in LADDER_TITLES.items():
        lines += [f"## {title}", ""]
        lines += [
            "| model | data | stage trained here | held-out colour x shape | position | training time (1 thread) |",
            "|---|---|---|---|---|---|",
        ]
        for r in ladder(name):
            path = LADDER_DIR / f"{r.name}.json"
            if not path.is_file():
                lines.append(f"| `{r.name}` | {r.about} | (not trained) | | | |")
                continue
            card = json.loads(path.read_text())
            m, tc = card["metrics"], card["train_config"]
            zs = m.get("zero_shot", {})
            seconds = card.get("total_train_seconds", m["train_seconds"]) if r.ladder == "data" else m["train_seconds"]
            stage = (
                f"{card.get('total_steps', tc['steps']):,} steps in {len(card.get('history', [])) + 1} stages"
                if r.ladder == "data"
                else f"{tc['steps']:,} steps x batch {tc['batch_size']}, lr {tc['lr']:g}, {card.get('samples') or 'stream'} images"
            )
            lines.append(
                f"| `{r.name}` | {r.about} | {stage} | {zs.get('colour_shape', float('nan')):.1%} | "
                f"{zs.get('position', float('nan')):.1%} | {seconds / 60:.1f} min |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="rungs to train (default: every rung not yet trained)")
    ap.add_argument("--ladder", choices=sorted(LADDER_TITLES), help="train this ladder's rungs")
    ap.add_argument("--cards", action="store_true", help="only rewrite the table")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if not args.cards:
        names = args.names or [
            r.name
            for r in (ladder(args.ladder) if args.ladder else RUNGS.values())
            if not (LADDER_DIR / f"{r.name}.safetensors").is_file()
        ]
        for name in names:
            tmp = LADDER_DIR / f".{name}.partial.{os.getpid()}.safetensors"
            _, metrics = train_rung(name, tmp, device="cpu", progress=False)
            for suffix in (".json", ".safetensors"):
                tmp.with_suffix(suffix).replace(LADDER_DIR / f"{name}{suffix}")
            print(f"{name}: {json.dumps(metrics)}", flush=True)
    (LADDER_DIR / "README.md").write_text(table() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
