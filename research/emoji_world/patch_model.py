"""The emoji model with smaller patches: does a vision tower that sees more, smaller patches of each
emoji make its inversions show the object's shape?

`emoji` reads a 48 px picture through 6 x 6 patches of 8 px. This trains the same model, the same data,
seed and steps, with patches of 6 px (8 x 8 = 64 a picture): one change. Its inversions are judged by the
shipped `emoji-judge` (patch 8, seed 1, never inverted) with `alpha_inversions.py --model PATH`.

    python research/emoji_world/patch_model.py --patch 6 --out /tmp/emoji-patch6.safetensors
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this tree's clipinv

from clipinv.worlds.emoji import EMOJI_TRAINING
from clipinv.worlds.emoji.training import train


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--patch", type=int, default=6)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    config = dataclasses.replace(EMOJI_TRAINING["emoji"], patch_size=a.patch)
    card = train(config, a.out, note={"name": Path(a.out).stem, "command": " ".join(sys.argv)})
    print(card["training"], card["retrieval"])


if __name__ == "__main__":
    main()
