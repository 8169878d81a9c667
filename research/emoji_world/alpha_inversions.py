"""An opacity channel for the emoji world's inversions (Lucid's transparency trick), judged and drawn.

With `Recipe.opacity` the image has four channels, colour and opacity. Every augmented copy is turned,
shifted and shrunk with transparent padding, then drawn over a random plain background (a random
colour, dark half the time, or plain grey 0.4-0.6 half the time: the backgrounds the emoji models were
trained on, without their pixel noise). A penalty on the mean opacity (`opacity_weight`) and a TV term
on it (`opacity_tv_weight`) ask for a compact, smooth opaque region. The image shown is drawn over the
pages' grey (`background_fill`).

Each recipe here changes the shipped `EMOJI_RECIPE` (the shapes world's tricks on the paper's recipe
scaled to 48 px) in the named knobs only. The prompts are the first session's (fixed before any
inversion was looked at); `emoji-judge` (trained apart, never inverted) reads every image: its own
prompt among the set's, and the right name first / in the first five of all 1,637. One sheet per run:
the glyph on grey, then each recipe's images (prompt-major, seeds in turn).

    python research/emoji_world/alpha_inversions.py shipped opacity --seeds 2 --set both
    python research/emoji_world/alpha_inversions.py shipped --model /tmp/emoji-patch6.safetensors --set both
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this tree's clipinv

from clipinv import invert, load_model
from clipinv.analyses.stats import Rate
from clipinv.worlds.emoji import EMOJI_RECIPE, article, atlas, on_grey
from clipinv.worlds.emoji.training import name_features

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judged_inversions import DEV, HELDOUT, sheet  # the first sessions' prompts and sheets

RECIPES = {
    "shipped": {},
    # the penalty and TV weights chosen on DEV (one seed) among (0.1, 0), (0.2, 0.002), (0.3, 0.005)
    "opacity": {"opacity": True, "opacity_weight": 0.2, "opacity_tv_weight": 0.002, "final_scale": 1.0},
    "ensemble": {},  # the shipped recipe on `emoji` and `emoji-data-16k` together (ENSEMBLES)
}
# recipes that invert more models than `emoji` at once (weight 1/N each); emoji-data-16k is trained from
# scratch on 16,000 captioned pictures (seed 0, as emoji), never a continuation of emoji or the judge
ENSEMBLES = {"ensemble": ["emoji-data-16k"]}


@torch.no_grad()
def judge_reads(judge, text, names, images, truth, chosen_idx):
    f = judge.encode_image(images)
    sims = f @ text.T  # [B, N]
    own = sims[:, chosen_idx].argmax(1)
    own_hits = sum(int(chosen_idx[o] == t) for o, t in zip(own.tolist(), truth))
    top5 = sims.topk(5, dim=1).indices
    top1_hits = sum(int(top5[i, 0] == t) for i, t in enumerate(truth))
    top5_hits = sum(int(t in top5[i].tolist()) for i, t in enumerate(truth))
    return own_hits, top1_hits, top5_hits, [[names[j] for j in top5[i].tolist()] for i in range(len(truth))]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipes", nargs="+", choices=sorted(RECIPES))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--set", choices=["dev", "heldout", "both"], default="dev")
    p.add_argument("--out", default=str(Path(__file__).parent / "session8"))
    p.add_argument("--model", default="emoji", help="the model inverted: emoji, or a trained .safetensors")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model, judge = load_model(a.model), load_model("emoji-judge")
    model_label = Path(a.model).stem
    glyphs, names = atlas.load()
    chosen = {"dev": DEV, "heldout": HELDOUT, "both": DEV + HELDOUT}[a.set]
    idx = [names.index(c) for c in chosen]
    text = name_features(judge, names)
    truth = [names.index(c) for c in chosen for _ in range(a.seeds)]
    columns = [on_grey(glyphs, truth)]
    rows = []
    for label in a.recipes:
        recipe = EMOJI_RECIPE.replace(**RECIPES[label])
        t0 = time.time()
        models = [model] + [load_model(m) for m in ENSEMBLES.get(label, [])]
        inv = invert(models, [article(c) for c in chosen], a.seeds, recipe, cache=False, progress=False)
        ims = inv.images.reshape(-1, *inv.images.shape[-3:])
        o, t1, t5, reads = judge_reads(judge, text, names, ims, truth, idx)
        rows.append({"recipe": label, "model": model_label, "changes": RECIPES[label], "set": a.set, "n": len(truth), "own": o, "top1": t1,
                     "top5": t5, "seconds": round(time.time() - t0, 1), "reads": reads})  # fmt: skip
        columns.append(ims)
    for r in rows:
        n = r["n"]
        print(f"{r['recipe']:<40} own {r['own']}/{n} {Rate.of(r['own'], n)}  top1 {r['top1']}/{n}  "
              f"top5 {r['top5']}/{n}  {r['seconds']} s", flush=True)  # fmt: skip
        with open(out / "alpha.jsonl", "a") as fh:
            fh.write(json.dumps(r) + "\n")
    rows_of_tiles = [[column[r] for column in columns[1:]] for r in range(len(truth))]
    on = "" if a.model == "emoji" else f"_{model_label}"
    sheet(out / f"{a.set}_{'_'.join(a.recipes)}{on}.png", columns[0], rows_of_tiles)


if __name__ == "__main__":
    main()
