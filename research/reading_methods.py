"""Which searcher reads toy-world images back into words better: PEZ's projected embeddings or a
Gumbel-softmax over the vocabulary (`clipinv.core.reading`)?

On rendered single-object images of the toy world, where the truth is known, each searcher reads
every image with a few seeds; a reading recovers an image when its words contain the object's colour
and its shape. Reported per model and searcher: the colour, shape and both rates with 95% Wilson
intervals, the mean cosine of the text read to its image, and the CPU seconds per (image, seed).
The shipped default (`read(method=...)`) is the searcher with the higher "both" rate. The record is
written to research/reading_methods_record.json (or --out).

    python research/reading_methods.py                 # 96 images x 2 seeds, toy and toy-judge
    python research/reading_methods.py --images 24 --seeds 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import clipinv
from clipinv.analyses import prose, stats
from clipinv.core.reading import read
from clipinv.analyses.roundtrip import chance_of_word, words_of
from clipinv.worlds.shapes.world import World


def measure(model, images, samples, method, seeds, n_tokens, steps):
    start = time.process_time()
    r = read(model, images, n_tokens=n_tokens, seeds=seeds, method=method, steps=steps, cache=False, progress=False)
    seconds = (time.process_time() - start) / (len(samples) * seeds)
    colour, shape = [], []
    for i, s in enumerate(samples):
        for j in range(seeds):
            seen = set(words_of(r.texts[i][j]))
            colour.append(s.objects[0].colour in seen)
            shape.append(s.objects[0].shape in seen)
    both = [c and h for c, h in zip(colour, shape)]
    return {
        "method": method,
        "colour": stats.rate(colour),
        "shape": stats.rate(shape),
        "both": stats.rate(both),
        "mean cosine": round(float(r.similarity.mean()), 4),
        "cpu seconds per item": round(seconds, 4),
        "chance of one word": round(chance_of_word(n_tokens, r.record["vocabulary"]), 4),
        "example": [samples[0].caption, r.texts[0][0]],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=4)
    ap.add_argument("--steps", type=int, default=clipinv.core.reading.DEFAULT_STEPS)
    ap.add_argument("--world-seed", type=int, default=7)
    ap.add_argument("--models", nargs="+", default=["toy", "toy-judge"])
    ap.add_argument("--out", default=str(Path(__file__).with_name("reading_methods_record.json")))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    images, samples = World(pair_rate=0).sample(args.images, seed=args.world_seed)
    rows = []
    for spec in args.models:
        model = clipinv.load_model(spec)
        for method in clipinv.core.reading.METHODS:
            row = {"model": spec, **measure(model, images, samples, method, args.seeds, args.tokens, args.steps)}
            rows.append(row)
            print(
                f"{spec:<10} {method:<7} colour {prose.rate_of(row['colour'])}  shape {prose.rate_of(row['shape'])}  "
                f"both {prose.rate_of(row['both'])}  cosine {row['mean cosine']:.3f}  "
                f"{row['cpu seconds per item']:.3f} s/item"
            )
    record = {"settings": vars(args), "rows": rows}
    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out} exists: pass another --out (records are never overwritten)")
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(out)


if __name__ == "__main__":
    main()
