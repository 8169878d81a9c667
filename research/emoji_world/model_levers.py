"""The emoji model changed in one way at a time: does a changed model make the inversions show shape?

Each lever is `emoji`'s training config with the named knobs changed. Its inversions are judged by the
shipped `emoji-judge` (patch 8, seed 1, never inverted) with `alpha_inversions.py --model PATH`.

- `patch-6`: the same model, data, seed and steps, with 6 px patches (8 x 8 = 64 a picture, not 36).
- `robust-4`, `robust-8`, `robust-16`: `emoji` trained 1,000 steps further on adversarial pictures (each
  pixel moved at most 4/255, 8/255 or 16/255 against the loss, `TrainConfig.adversarial_eps`). Robust
  models' input gradients are reported to look like images (Santurkar et al. 2019, "Image synthesis with
  a single robust classifier"), and an inversion follows those gradients.
- `continued`: their control, the same 1,000 further steps on plain pictures.

    python research/emoji_world/model_levers.py patch-6 --out /tmp/emoji-patch6.safetensors
    python research/emoji_world/model_levers.py robust-8 --out /tmp/emoji-robust8.safetensors
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this tree's clipinv

from clipinv.worlds.emoji import EMOJI_TRAINING
from clipinv.worlds.emoji.training import train

ROBUST = {"init": "emoji", "seed": 700, "steps": 1000, "lr": 5e-4, "warmup": 20}
LEVERS = {
    "patch-6": {"patch_size": 6},
    "robust-4": {**ROBUST, "adversarial_eps": 4 / 255},
    "robust-8": {**ROBUST, "adversarial_eps": 8 / 255},
    "robust-16": {**ROBUST, "adversarial_eps": 16 / 255},
    "continued": ROBUST,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lever", choices=sorted(LEVERS))
    p.add_argument("--out", required=True)
    a = p.parse_args()
    config = dataclasses.replace(EMOJI_TRAINING["emoji"], **LEVERS[a.lever])
    card = train(config, a.out, note={"name": Path(a.out).stem, "command": " ".join(sys.argv)})
    print(card["training"], card["retrieval"])


if __name__ == "__main__":
    main()
