"""The shipped emoji models' inversions, judged by the shipped judge: the issue's inversion bars.

Inverts `emoji` with each recipe named on the command line, every DEV and HELDOUT prompt (fixed in the
first session, before any inversion was looked at) x --seeds, and asks `emoji-judge` (trained apart:
seed 1, its own augmentation, never inverted) three things of each image: its own prompt among the
23 inverted (the page's), and the right name first / among its first five of all the world's names.
Writes one JSON row per recipe to --out/inversions.jsonl and a sheet per recipe (the glyph on grey,
then one column per seed; `--blind` leaves the glyph out) for a person to look at.

    python research/emoji_world/judged_inversions.py plain toy-like fourier-toy --seeds 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this tree's clipinv

from clipinv import Recipe, invert, load_model  # noqa: E402
from clipinv.analyses.stats import Rate
from clipinv.worlds.emoji import article, atlas, on_grey
from clipinv.worlds.emoji.training import name_features

DEV = ["rocket", "red apple", "zebra", "jack-o-lantern", "microscope", "rainbow", "honeybee", "taco", "snowman",
       "candle", "penguin"]  # fmt: skip
HELDOUT = ["banana", "ghost", "anchor", "umbrella", "sailboat", "crab", "tulip", "hamburger", "light bulb", "bicycle",
           "cactus", "cat face"]  # fmt: skip
# the paper's recipe scaled to 48 px (the probe's), which every other recipe here changes
PLAIN = Recipe(steps=300, lr=0.05, resolution_schedule=((0, 24), (100, 48)), n_augments=8, affine_p=1.0,
               rotate_degrees=10.0, translate=0.15, scale_range=(0.5, 1.0), tv_weight=0.001)  # fmt: skip
TOY_LIKE = {"scale_range": (0.25, 1.0), "background_fill": 0.4, "color_shift_mean": 0.05,
            "color_shift_log_std": 0.1, "smooth_sigma": 0.94, "final_scale": 0.5}  # fmt: skip
RECIPES = {
    "plain": {},
    "toy-like": TOY_LIKE,
    "fourier-toy": {"parameterization": "fourier", **TOY_LIKE},
    "fourier": {"parameterization": "fourier"},
    "strokes": {"parameterization": "strokes"},
    "copies-16": {"n_augments": 16},
}


def sheet(path: Path, refs, images, cell: int = 96) -> None:
    from PIL import Image

    rows = [([] if refs is None else [refs[r]]) + list(images[r]) for r in range(len(images))]
    im = Image.new("RGB", (len(rows[0]) * cell, len(rows) * cell), (255, 255, 255))
    for r, tiles in enumerate(rows):
        for c, t in enumerate(tiles):
            a = (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype("uint8")
            im.paste(Image.fromarray(a).resize((cell, cell), Image.NEAREST), (c * cell, r * cell))
    im.save(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipes", nargs="+", choices=sorted(RECIPES))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--model", default="emoji")
    p.add_argument("--judge", default="emoji-judge")
    p.add_argument("--out", default=str(Path(__file__).parent / "session3"))
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, judge = load_model(a.model), load_model(a.judge)
    assert model.weights_hash != judge.weights_hash, "the judge is the inverted model"
    glyphs, names = atlas.load()
    chosen = DEV + HELDOUT
    idx = [names.index(n) for n in chosen]
    text = name_features(judge, names)
    for label in a.recipes:
        recipe = PLAIN.replace(**RECIPES[label])
        t0, load0 = time.time(), os.getloadavg()[0]
        result = invert(model, [article(n) for n in chosen], seeds=a.seeds, recipe=recipe, cache=False, progress=False)
        seconds = time.time() - t0
        images = result.images  # [P, S, 3, H, W]
        feats = judge.encode_image(images.flatten(0, 1))
        truth = torch.tensor(idx).repeat_interleave(a.seeds)
        own = (feats @ text[idx].T).argmax(1)
        own_hits = int((torch.tensor(idx)[own] == truth).sum())
        top = (feats @ text.T).topk(5, dim=1).indices
        top1, top5 = int((top[:, 0] == truth).sum()), int((top == truth[:, None]).any(1).sum())
        n = len(truth)
        row = {
            "recipe": label,
            "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in RECIPES[label].items()},
            "model": a.model,
            "judge": a.judge,
            "prompts": len(chosen),
            "seeds": a.seeds,
            "images": n,
            "own_among_page": own_hits,
            "top1_among_all": top1,
            "top5_among_all": top5,
            "names": len(names),
            "seconds": round(seconds),
            "load_average_at_start": round(load0, 1),
            "first_reads": [names[int(i)] for i in top[:: a.seeds, 0]],
        }
        with open(out / "inversions.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        refs = on_grey(glyphs, idx)
        sheet(out / f"{label}.png", refs, images)
        sheet(out / f"{label}_blind.png", None, images)
        rates = {k: Rate.of(row[k], n).share for k in ("own_among_page", "top1_among_all", "top5_among_all")}
        print(label, rates, f"{seconds:.0f}s", flush=True)


if __name__ == "__main__":
    main()
