"""What a toy model card reports: held-out zero-shot accuracy (`zero_shot`) and how well a model's
inversions are read by an independent judge (`inversion_accuracy`)."""

from __future__ import annotations

import time

import torch

from clipinv.core.invert import invert
from clipinv.models.judge import judge
from clipinv.models.load import load_model
from clipinv.worlds.shapes.model import normalise
from clipinv.worlds.shapes.oracle import pixel_colour, pixel_shape
from clipinv.worlds.shapes.world import POSITIONS, RELATIONS, SIZES, World, class_prompts


@torch.no_grad()
def zero_shot(model, tokenizer, world_seed: int, n: int = 2000, device="cpu", batch: int = 500) -> dict:
    """Held-out zero-shot accuracies on fresh, clean samples (seed `world_seed`).

    colour_shape: 24-way "a {colour} {shape}" on single objects (plus colour and shape alone);
    size: "a {size} {colour} {shape}" 2-way given the true colour and shape; position: 5-way
    "a {colour} {shape} on the {position}"; relation: 4-way "a c1 s1 {relation} a c2 s2" on pairs."""
    model.eval()

    def feats_text(texts):
        t = model.encode_text(tokenizer(texts).to(device)).float()
        return t / t.norm(dim=-1, keepdim=True)

    def feats_img(x):
        out = []
        for i in range(0, len(x), batch):
            f = model.encode_image(normalise(x[i : i + batch]).to(device)).float()
            out.append((f / f.norm(dim=-1, keepdim=True)).cpu())
        return torch.cat(out)

    texts, labels = class_prompts()
    cs_text = feats_text(texts).cpu()
    x, samples = World(pair_rate=0.0).sample(n, seed=world_seed)
    fi = feats_img(x)
    pred = (fi @ cs_text.T).argmax(1)
    truth = torch.tensor([labels.index((s.objects[0].colour, s.objects[0].shape)) for s in samples])
    pc, ps = [labels[i] for i in pred], [labels[i] for i in truth]
    res = {
        "colour_shape": float((pred == truth).float().mean()),
        "colour": sum(a[0] == b[0] for a, b in zip(pc, ps)) / n,
        "shape": sum(a[1] == b[1] for a, b in zip(pc, ps)) / n,
    }
    objs = [s.objects[0] for s in samples]
    size_p = [[f"a {z} {o.colour} {o.shape}" for z in SIZES] for o in objs]
    pos_p = [[f"a {o.colour} {o.shape} on the {p}" for p in POSITIONS] for o in objs]
    res["size"] = _per_sample_accuracy(fi, size_p, [SIZES.index(o.size) for o in objs], feats_text)
    res["position"] = _per_sample_accuracy(fi, pos_p, [POSITIONS.index(o.position) for o in objs], feats_text)
    m = max(200, n // 5)
    x, samples = World(pair_rate=1.0).sample(m, seed=world_seed + 1)
    rel_p = [
        [
            f"a {s.objects[0].colour} {s.objects[0].shape} {r} a {s.objects[1].colour} {s.objects[1].shape}"
            for r in RELATIONS
        ]
        for s in samples
    ]
    res["relation"] = _per_sample_accuracy(
        feats_img(x), rel_p, [RELATIONS.index(s.relation) for s in samples], feats_text
    )
    res["n"] = n
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()}


def _per_sample_accuracy(img_feats, prompts, truth, feats_text) -> float:
    """Share of images whose own candidate prompts (a list per image) rank the true one first."""
    uniq = list(dict.fromkeys(p for ps in prompts for p in ps))
    t = feats_text(uniq).cpu()
    pos = {p: i for i, p in enumerate(uniq)}
    idx = torch.tensor([[pos[p] for p in ps] for ps in prompts])  # [N, K]
    sims = (img_feats @ t.T).gather(1, idx)
    return float((sims.argmax(1) == torch.tensor(truth)).float().mean())


def _share(readings: list, truths: list) -> float:
    """Share of readings [pair][seed] equal to their pair's truth, over every pair and seed."""
    hits = [r == t for row, t in zip(readings, truths) for r in row]
    return round(sum(hits) / len(hits), 4)


def inversion_accuracy(model=None, judge_model=None, recipe=None, pairs=None, seeds=4, progress=True) -> dict:
    """Invert "a {colour} {shape}" with `model` (default `toy`) for the given (colour, shape) pairs
    (default all 24) and read the images 24-way with `judge_model` (default `toy-judge`), with the
    inverted model itself, and with the pixel oracles (the colour, and the shape drawn in the
    prompt's colour). seeds: a count or a list. recipe: default the model's own.

    Returns the shares of images read right (`judged_colour_shape`, `judged_colour`, `judged_shape`,
    `self_judged_*`, `pixel_colour`, `pixel_shape`), the mean cosine similarity to the prompt, the
    seconds the inversion took, each prompt's readings (`per_prompt`) and the images (`images_tensor`)."""
    model = model or load_model("toy")
    judge_model = judge_model or load_model("toy-judge")
    texts, labels = class_prompts()
    pairs = list(pairs or labels)
    prompts = [f"a {c} {s}" for c, s in pairs]
    t0 = time.time()
    inv = invert(model, prompts, seeds=seeds, recipe=recipe, cache=False, progress=progress)
    seconds = time.time() - t0
    n_seeds = len(inv.seeds)
    pred = judge(inv.images, texts, judge=judge_model).argmax(-1)  # [P, S]
    truth = torch.tensor([labels.index(p) for p in pairs]).view(-1, 1).expand_as(pred)
    own = judge(inv.images, texts, judge=model).argmax(-1)  # the inverted model itself
    pc = [[labels[int(i)] for i in row] for row in pred]
    px = pixel_colour(inv.images)
    drawn = pixel_shape(inv.images, [c for c, _ in pairs])
    n = pred.numel()
    per_pair = {
        prompts[i]: {"judged": [f"{a} {b}" for a, b in pc[i]], "pixel": px[i], "pixel_shape": drawn[i]}
        for i in range(len(prompts))
    }
    return {
        "prompts": len(prompts),
        "seeds": seeds if isinstance(seeds, int) else inv.seeds,
        "images": n,
        "judged_colour_shape": round(float((pred == truth).float().mean()), 4),
        "self_judged_colour_shape": round(float((own == truth).float().mean()), 4),
        "self_judged_shape": round(
            sum(labels[int(own[i, j])][1] == pairs[i][1] for i in range(len(pairs)) for j in range(n_seeds)) / n, 4
        ),
        "judged_colour": round(
            sum(pc[i][j][0] == pairs[i][0] for i in range(len(pairs)) for j in range(n_seeds)) / n, 4
        ),
        "judged_shape": round(
            sum(pc[i][j][1] == pairs[i][1] for i in range(len(pairs)) for j in range(n_seeds)) / n, 4
        ),
        "pixel_colour": _share(px, [c for c, _ in pairs]),
        "pixel_shape": _share(drawn, [s for _, s in pairs]),
        "self_similarity": round(float(inv.similarity.mean()), 4),
        "seconds": round(seconds, 1),
        "per_prompt": per_pair,
        "images_tensor": inv.images,
    }
