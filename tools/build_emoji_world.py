"""Build the emoji world the package ships: the glyph atlas from the font, and each model from scratch.

    python tools/build_emoji_world.py atlas          # needs fonts-noto-color-emoji and `pip install emoji`
    python tools/build_emoji_world.py train emoji    # ~30 CPU minutes; reproduces the shipped weights
    python tools/build_emoji_world.py train emoji-judge --out /tmp/judge.safetensors

`train` writes to the package's weights folder unless --out says elsewhere; weights come out the same for
the same torch version and --threads (the card records both).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clipinv.worlds.emoji import EMOJI_TRAINING, WEIGHTS, atlas
from clipinv.worlds.emoji.training import train


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("atlas", help="draw every RGI emoji the font has into weights/atlas.png + names.json")
    t = sub.add_parser("train", help="train a shipped model from scratch")
    t.add_argument("name", choices=sorted(EMOJI_TRAINING))
    t.add_argument("--out", help="where to save (default: the package's weights folder)")
    t.add_argument("--steps", type=int, help="fewer steps than the shipped model's, for a quick try")
    a = p.parse_args(argv)
    if a.what == "atlas":
        glyphs, names = atlas.build()
        atlas.save(glyphs, names)
        print(f"{len(names)} emoji -> {atlas.ATLAS} ({atlas.ATLAS.stat().st_size / 1e6:.1f} MB), {atlas.NAMES}")
        return
    config = EMOJI_TRAINING[a.name]
    if a.steps:
        config = dataclasses.replace(config, steps=a.steps)
    out = Path(a.out) if a.out else WEIGHTS / f"{a.name}.safetensors"
    command = f"python tools/build_emoji_world.py train {a.name}" + (f" --steps {a.steps}" if a.steps else "")
    card = train(config, out, note={"name": a.name, "command": command})
    r = card["retrieval"]
    print(json.dumps(card["training"]))
    print(
        f"{out}: right name among {card['names']} for {r['renders']} fresh renders: top-1 {r['top1']:.1%}, top-5 {r['top5']:.1%}"
    )


if __name__ == "__main__":
    main()
