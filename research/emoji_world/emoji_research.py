"""What makes a small CLIP trained on emoji draw recognisable objects when inverted.

Usage:
    python research/emoji_world/emoji_research.py train --seed 0 --variant probe --steps 2000
    python research/emoji_world/emoji_research.py invert --model probe_s0 --judges probe_s1 \
        --recipe 'plain={}' 'shrunk={"scale_range": [0.25, 1.0], "background_fill": 0.4}' [--heldout]
    python research/emoji_world/emoji_research.py rejudge probe_s0__plain__dev --judges probe_s1  # display control
    python research/emoji_world/emoji_research.py table      # results.md from the logs
    python research/emoji_world/emoji_research.py figure grid.png probe_s0__plain__dev probe_s0__fourier__dev

A research record, not part of the package. The world is the feasibility probe's
(/work/shared/probes/emoji_probe.py): every single-code-point emoji Noto Color Emoji renders (Debian's
fonts-noto-color-emoji) at 48 px with its lower-cased Unicode name, captions from five templates,
open_clip's real BPE tokenizer remapped onto the ids the captions use, and a ~1.6 M-parameter
open_clip `CLIP` trained from scratch. Inversion runs through the package's own loop
(`clipinv.core.invert.optimise`) with a `clipinv.Recipe`, so every recipe knob measured here is one the
package already has. Judges are models trained apart (other seeds), never the inverted one.

It writes only under --out (default research/results/emoji_world/, ignored by git): the glyph cache,
models (`models/NAME.safetensors` + `.json`), `training.jsonl`, `inversions.jsonl`, PNG sheets and
`results.md`. Prompts are fixed below, chosen before any inversion was looked at: DEV (the probe's
eleven) picks recipes, HELDOUT is only read for the final comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
import unicodedata
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F
from open_clip.model import CLIPTextCfg, CLIPVisionCfg
from PIL import Image, ImageDraw, ImageFont
from safetensors.torch import load_file, save_file

RESEARCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RESEARCH.parent))  # this tree's clipinv, as bench/ does

from clipinv.core import objective  # noqa: E402
from clipinv.models.bundle import ModelBundle, freeze, weights_hash  # noqa: E402
from clipinv.core.invert import optimise  # noqa: E402
from clipinv.core.recipe import Recipe  # noqa: E402

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
SIDE, CONTEXT = 48, 16
MEAN, STD = 0.5, 0.25
SKIP = ("MODIFIER", "COMPONENT", "REGIONAL", "VARIATION", "TAG ")
TEMPLATES = ["{}", "an emoji of {}", "a picture of {}", "{} emoji", "a drawing of {}"]

# fixed before looking at any inversion: the probe's prompts (dev) and twelve others (held out)
DEV = [
    "rocket",
    "red apple",
    "zebra face",
    "jack-o-lantern",
    "microscope",
    "rainbow",
    "honeybee",
    "taco",
    "snowman",
    "candle",
    "penguin",
]
HELDOUT = [
    "banana",
    "ghost",
    "anchor",
    "umbrella",
    "sailboat",
    "crab",
    "tulip",
    "hamburger",
    "electric light bulb",
    "bicycle",
    "cactus",
    "cat face",
]

# the training variants: the probe's augmentations, and one change each
VARIANTS = {
    "probe": dict(scale=(0.55, 1.0), plain_p=0.0, grey_p=0.0, width=128),
    # glyphs also drawn small (down to the inversion's shrunk copies) and half the time on plain grey
    "small-plain": dict(scale=(0.25, 1.0), plain_p=0.5, grey_p=0.0, width=128),
    "wide": dict(scale=(0.55, 1.0), plain_p=0.0, grey_p=0.0, width=192),
}

# the plain inversion recipe (the probe's, in the package's knobs) that the variants change one knob of
BASE = dict(
    steps=300,
    lr=0.05,
    resolution_schedule=((0, 24), (100, 48)),
    n_augments=8,
    affine_p=1.0,
    rotate_degrees=10.0,
    translate=0.15,
    scale_range=(0.5, 1.0),
    tv_weight=0.001,
)


def art(name: str) -> str:
    return ("an " if name[0] in "aeiou" else "a ") + name


# ---------------------------------------------------------------- the world
def glyphs(out: Path):
    """Every single-code-point emoji the font renders: RGBA [N, 4, 48, 48] in [0, 1] and names (cached)."""
    cache = out / "glyphs.pt"
    if cache.exists():
        d = torch.load(cache, weights_only=True)
        return d["glyphs"], d["names"]
    font = ImageFont.truetype(FONT, 109)
    images, names = [], []
    for cp in list(range(0x1F300, 0x1FAFF)) + list(range(0x2600, 0x27C0)):
        name = unicodedata.name(chr(cp), None)
        if not name or any(s in name for s in SKIP):
            continue
        im = Image.new("RGBA", (136, 128), (0, 0, 0, 0))
        ImageDraw.Draw(im).text((0, 0), chr(cp), font=font, embedded_color=True)
        box = im.getchannel("A").getbbox()
        if box is None:
            continue
        im = im.crop(box)
        side = max(im.size)
        square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        square.paste(im, ((side - im.size[0]) // 2, (side - im.size[1]) // 2))
        square = square.resize((SIDE, SIDE), Image.LANCZOS)
        images.append(torch.frombuffer(bytearray(square.tobytes()), dtype=torch.uint8).view(SIDE, SIDE, 4))
        names.append(name.lower())
    g = torch.stack(images).permute(0, 3, 1, 2).float() / 255
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"glyphs": g, "names": names}, cache)
    return g, names


class Tokenizer:
    """open_clip's BPE, its ids remapped onto those the world's captions use (a compact embedding table)."""

    def __init__(self, names):
        self.bpe = open_clip.tokenizer.SimpleTokenizer(context_length=CONTEXT)
        used = sorted(set(self.bpe([t.format(art(n)) for n in names for t in TEMPLATES]).flatten().tolist()) | {0})
        self.map = torch.zeros(49408, dtype=torch.long)
        self.map[torch.tensor(used)] = torch.arange(len(used))
        self.vocab = len(used)

    def __call__(self, texts, context_length=None):
        return self.map[self.bpe(list(texts), context_length=context_length or CONTEXT)[:, :CONTEXT]]


def render(g, idx, scale=(0.55, 1.0), plain_p=0.0, grey_p=0.0, gen=None):
    """Glyphs idx on a flat background, randomly scaled, shifted, rotated: [B, 3, S, S] in [0, 1].
    The probe's draw; `plain_p` of the backgrounds plain mid-grey instead, `grey_p` of images greyscale."""
    x = g[idx]
    b = len(idx)

    def rand(*shape):
        return torch.rand(*shape, generator=gen)

    angle = (rand(b) - 0.5) * math.radians(30)
    sc = scale[0] + (scale[1] - scale[0]) * rand(b)
    tx, ty = (rand(b) - 0.5) * (1 - sc) * 2, (rand(b) - 0.5) * (1 - sc) * 2
    theta = torch.stack(
        [
            torch.stack([torch.cos(angle) / sc, -torch.sin(angle) / sc, -tx / sc], 1),
            torch.stack([torch.sin(angle) / sc, torch.cos(angle) / sc, -ty / sc], 1),
        ],
        1,
    )
    w = F.grid_sample(x, F.affine_grid(theta, (b, 4, SIDE, SIDE), align_corners=False), align_corners=False)
    bg = rand(b, 3, 1, 1) * torch.where(rand(b, 1, 1, 1) < 0.5, 1.0, 0.3)
    bg = torch.where(rand(b, 1, 1, 1) < plain_p, torch.full_like(bg, 0.4 + 0.2 * rand(1).item()), bg)
    bg = bg + 0.02 * torch.randn(b, 3, SIDE, SIDE, generator=gen)
    a = w[:, 3:4]
    out = (w[:, :3] * a + bg * (1 - a)).clamp(0, 1)
    grey = rand(b) < grey_p
    out[grey] = out[grey].mean(1, keepdim=True).expand(-1, 3, -1, -1)
    return out


def make_model(vocab: int, width: int = 128):
    vision = CLIPVisionCfg(layers=4, width=width, head_width=32, patch_size=8, image_size=SIDE, mlp_ratio=4)
    text = CLIPTextCfg(context_length=CONTEXT, vocab_size=vocab, width=width, heads=width // 32, layers=3)
    return open_clip.CLIP(embed_dim=128, vision_cfg=vision, text_cfg=text)


def load(out: Path, name: str, tok: Tokenizer) -> ModelBundle:
    card = json.loads((out / "models" / f"{name}.json").read_text())
    model = make_model(tok.vocab, card["width"])
    model.load_state_dict(load_file(out / "models" / f"{name}.safetensors"))
    model = freeze(model)
    return ModelBundle(
        model=model,
        tokenizer=tok,
        spec=f"emoji:{name}",
        image_size=SIDE,
        mean=(MEAN,) * 3,
        std=(STD,) * 3,
        context_length=CONTEXT,
        weights_hash=weights_hash(model),
        card=card,
    )


@torch.no_grad()
def name_features(bundle, names):
    return torch.cat([bundle.encode_text([art(n) for n in names[i : i + 256]]) for i in range(0, len(names), 256)])


@torch.no_grad()
def retrieval(bundle, g, names, draws=2):
    """Fresh renders (the probe's augmentation, a fixed generator) -> the right name among all: top-1, top-5."""
    text = name_features(bundle, names)
    gen = torch.Generator().manual_seed(123)
    hit1 = hit5 = total = 0
    for _ in range(draws):
        for i in range(0, len(names), 256):
            idx = list(range(i, min(len(names), i + 256)))
            top = (bundle.encode_image(render(g, idx, gen=gen)) @ text.T).topk(5, dim=1).indices
            lab = torch.tensor(idx)[:, None]
            hit1 += (top[:, :1] == lab).sum().item()
            hit5 += (top == lab).any(1).sum().item()
            total += len(idx)
    return hit1 / total, hit5 / total


# ---------------------------------------------------------------- train
def save_card(out: Path, name: str, model, card: dict, g, names, tok):
    """Weights + card, then the card's fresh-render retrieval (the model as saved, through `load`)."""
    (out / "models").mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, out / "models" / f"{name}.safetensors")
    (out / "models" / f"{name}.json").write_text(json.dumps(card))
    top1, top5 = retrieval(load(out, name, tok), g, names)
    card.update(model=name, top1=round(top1, 4), top5=round(top5, 4), renders=2 * len(names))
    (out / "models" / f"{name}.json").write_text(json.dumps(card))
    return card


def train(args):
    """Step-based schedule (warm-up 100, linear decay to 0.1 at --steps); --seconds only stops the run
    early, leaving a checkpoint that --resume continues exactly (model, optimiser, step, RNG states)."""
    out = Path(args.out)
    g, names = glyphs(out)
    tok = Tokenizer(names)
    v = VARIANTS[args.variant]
    name = f"{args.variant}_s{args.seed}"
    ckpt = out / "models" / f"{name}.ckpt.pt"
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    model = make_model(tok.vocab, v["width"])
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(names)} emoji, {tok.vocab} token ids, {params / 1e6:.2f} M parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    batch, step, spent, cpu_spent, legs = 128, 0, 0.0, 0.0, []
    if args.resume and ckpt.exists():
        c = torch.load(ckpt, weights_only=True)
        model.load_state_dict(c["model"])
        opt.load_state_dict(c["opt"])
        torch.set_rng_state(c["torch_rng"])
        random.setstate((c["py_rng"][0], tuple(c["py_rng"][1]), c["py_rng"][2]))
        step, spent, cpu_spent, legs = c["step"], c["seconds"], c["cpu_seconds"], c["legs"]
        assert c["total_steps"] == args.steps, "resume with the schedule's own --steps"
        print(f"resumed at step {step}", flush=True)
    t0, c0, load0 = time.time(), time.process_time(), os.getloadavg()

    def checkpoint():
        (out / "models").mkdir(parents=True, exist_ok=True)
        state = {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "py_rng": random.getstate(),
            "step": step,
            "total_steps": args.steps,
            "seconds": spent + time.time() - t0,
            "cpu_seconds": cpu_spent + time.process_time() - c0,
            "legs": legs,
        }
        torch.save(state, str(ckpt) + ".tmp")
        os.replace(str(ckpt) + ".tmp", ckpt)

    while step < args.steps and time.time() - t0 < args.seconds:
        idx = torch.randint(0, len(names), (batch,)).tolist()
        x = (render(g, idx, v["scale"], v["plain_p"], v["grey_p"]) - MEAN) / STD
        t = tok([random.choice(TEMPLATES).format(art(names[i])) for i in idx])
        lr = 1e-3 * min(1, (step + 1) / 100) * (0.1 + 0.9 * (1 - step / args.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        fi, ft, scale = model(x, t)
        lab = torch.tensor(idx)
        same = (lab[:, None] == lab[None]).float()
        target = same / same.sum(1, keepdim=True)
        logits = scale * fi @ ft.T
        loss = (
            -(target * F.log_softmax(logits, 1)).sum(1).mean() - (target * F.log_softmax(logits.T, 1)).sum(1).mean()
        ) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            print(
                f"step {step} {spent + time.time() - t0:.0f}s loss {loss.item():.3f} {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            checkpoint()
        if step % args.eval_every == 0 and step < args.steps:
            curve = save_card(out, f"{name}@{step}", model, {"width": v["width"], "step": step}, g, names, tok)
            curve.update(seconds=round(spent + time.time() - t0), load=os.getloadavg()[0])
            with open(out / "training_curve.jsonl", "a") as f:
                f.write(json.dumps(curve) + "\n")
            print("curve", json.dumps(curve), flush=True)
    legs.append(
        {"steps_to": step, "seconds": round(time.time() - t0), "load_start": load0, "load_end": os.getloadavg()}
    )
    checkpoint()
    finished = step >= args.steps
    card = {
        "variant": args.variant,
        **v,
        "seed": args.seed,
        "steps": step,
        "schedule_steps": args.steps,
        "finished": finished,
        "batch": batch,
        "seconds": round(spent + time.time() - t0),
        "cpu_seconds": round(cpu_spent + time.process_time() - c0),
        "legs": legs,
        "params": params,
        "threads": torch.get_num_threads(),
    }
    model.eval()
    card = save_card(out, name if finished else f"{name}@{step}", model, card, g, names, tok)
    with open(out / "training.jsonl", "a") as f:
        f.write(json.dumps(card) + "\n")
    print(
        f"{card['model']}: {step} steps in {card['seconds']}s ({card['cpu_seconds']} CPU s); fresh-render "
        f"retrieval among {len(names)}: top-1 {card['top1']:.1%} top-5 {card['top5']:.1%}",
        flush=True,
    )


# ---------------------------------------------------------------- invert and judge
@torch.no_grad()
def judged(judge, images, idx, names, text=None):
    """How `judge` reads images whose targets are names[idx]: own among the page's, top-1/top-5 among all."""
    text = name_features(judge, names) if text is None else text
    feats = judge.encode_image(images)
    page = sorted(set(idx))
    pick = (feats @ text[page].T).argmax(1)
    own = int(sum(page[p] == i for p, i in zip(pick.tolist(), idx)))
    top = (feats @ text.T).topk(5, dim=1).indices
    lab = torch.tensor(idx)[:, None]
    hits = {
        "own": own,
        "top1": int((top[:, :1] == lab).sum().item()),
        "top5": int((top == lab).any(1).sum().item()),
    }
    return {**{k: round(v / len(idx), 4) for k, v in hits.items()}, "hits": hits, "n": len(idx)}, top


def sheet(path, rows, refs, seeds, blind=False, cell=96):
    """A PNG: one row per prompt, [the glyph rendered on grey] + one column per seed."""
    cols = seeds + (0 if blind else 1)
    im = Image.new("RGB", (cols * cell, len(rows) * cell), (255, 255, 255))
    for r, images in enumerate(rows):
        tiles = ([] if blind else [refs[r]]) + list(images)
        for c, t in enumerate(tiles):
            a = (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype("uint8")
            im.paste(Image.fromarray(a).resize((cell, cell), Image.NEAREST), (c * cell, r * cell))
    im.save(path)


def invert(args):
    """Each recipe inverts every prompt of the chosen sets x seeds in one batch; one row per set."""
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    g, names = glyphs(out)
    tok = Tokenizer(names)
    models = [load(out, m, tok) for m in args.model.split("+")]  # "a+b": an ensemble
    judges = [load(out, j, tok) for j in args.judges]
    assert not {j.weights_hash for j in judges} & {m.weights_hash for m in models}, "a judge is an inverted model"
    texts = [name_features(j, names) for j in judges]
    sets = ["heldout"] if args.heldout else args.sets
    chosen = {k: [n for n in {"dev": DEV, "heldout": HELDOUT}[k] if n in names] for k in sets}
    every = [n for k in sets for n in chosen[k]]
    seeds = list(range(args.seeds))
    prompts = [objective.as_prompt(art(n)) for n in every for _ in seeds]
    refs = {
        k: render(g, [names.index(n) for n in v], scale=(0.8, 0.8), plain_p=1.0, gen=torch.Generator().manual_seed(7))
        for k, v in chosen.items()
    }
    for spec in args.recipe:
        label, changes = spec.split("=", 1)
        knobs = {**BASE, **json.loads(changes)}
        knobs = {
            k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
            for k, v in knobs.items()
        }
        recipe = Recipe(**knobs)
        t0, load0 = time.time(), os.getloadavg()[0]
        images, _, _ = optimise(
            models, prompts, [s for _ in every for s in seeds], recipe, torch.device("cpu"), progress=False
        )
        seconds = time.time() - t0
        start = 0
        for k in sets:
            n_img = len(chosen[k]) * len(seeds)
            part = images[start : start + n_img]
            start += n_img
            idx = [names.index(n) for n in chosen[k] for _ in seeds]
            row = {
                "model": args.model,
                "recipe": label,
                "changes": json.loads(changes),
                "set": k,
                "prompts": len(chosen[k]),
                "seeds": len(seeds),
                "seconds": round(seconds),
                "images_in_batch": len(prompts),
                "load_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
                "own_model": judged(models[0], part, idx, names)[0],
            }
            reads = []
            for j, text in zip(judges, texts):
                row[f"judge:{j.spec.split(':')[1]}"], top = judged(j, part, idx, names, text)
                reads.append(top)
            if judges:
                row["mean_judge"] = {
                    m: round(sum(row[f"judge:{j.spec.split(':')[1]}"][m] for j in judges) / len(judges), 4)
                    for m in ("own", "top1", "top5")
                }
            else:  # judged later from its sheets (`rejudge`), by judges trained after it was made
                reads = [judged(models[0], part, idx, names)[1]]  # the inverted model's own reads
            tag = f"{args.model}__{label}__{k}"
            per = part.view(len(chosen[k]), len(seeds), *part.shape[1:])
            sheet(out / f"{tag}.png", per, refs[k], len(seeds))
            sheet(out / f"{tag}_blind.png", per, refs[k], len(seeds), blind=True)
            row["sheet"] = f"{tag}.png"
            row["reads"] = {
                chosen[k][i // len(seeds)] + f"/{i % len(seeds)}": [names[m] for m in reads[0][i, :3].tolist()]
                for i in range(len(idx))
            }
            with open(out / "inversions.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps({m: v for m, v in row.items() if m != "reads"}), flush=True)


def figure(args, cell=96):
    """One small PNG comparing recipes from their sheets: the glyph, then each recipe's seed 0, at 48 px."""
    out = Path(args.out)
    sheets = [Image.open(out / f"{tag}.png") for tag in args.tags]
    rows = sheets[0].height // cell
    im = Image.new("RGB", ((len(sheets) + 1) * SIDE, rows * SIDE), (255, 255, 255))
    for c, (s, x) in enumerate([(sheets[0], 0)] + [(s, cell) for s in sheets]):
        column = s.crop((x, 0, x + cell, rows * cell)).resize((SIDE, rows * SIDE), Image.BOX)
        im.paste(column, (c * SIDE, 0))
    im.quantize(128).save(args.png, optimize=True)  # a palette keeps the noisy sheet small
    print(args.png, "columns: glyph,", ", ".join(args.tags))


def rejudge(args, cell=96):
    """A display-only control: a run's images read back from its sheet, shrunk onto grey as
    `final_scale` would, judged again (no optimisation): how much of a recipe's score is the display."""
    from clipinv.core.transform import ShrinkOnto

    out = Path(args.out)
    g, names = glyphs(out)
    tok = Tokenizer(names)
    judges = [load(out, j, tok) for j in args.judges]
    row = next(
        json.loads(line)
        for line in (out / "inversions.jsonl").read_text().splitlines()
        if json.loads(line)["sheet"] == f"{args.tag}.png"
    )
    im = torch.frombuffer(bytearray(Image.open(out / row["sheet"]).convert("RGB").tobytes()), dtype=torch.uint8)
    im = im.view(row["prompts"] * cell, (row["seeds"] + 1) * cell, 3).permute(2, 0, 1).float() / 255
    im = im[:, cell // SIDE // 2 :: cell // SIDE, cell // SIDE // 2 :: cell // SIDE]  # the sheet's cells are upscaled
    images = torch.stack(
        [
            im[:, r * SIDE : (r + 1) * SIDE, (c + 1) * SIDE : (c + 2) * SIDE]
            for r in range(row["prompts"])
            for c in range(row["seeds"])
        ]
    )
    chosen = HELDOUT if row["set"] == "heldout" else DEV
    idx = [names.index(n) for n in chosen if n in names for _ in range(row["seeds"])]
    for scale in dict.fromkeys((1.0, args.scale)):
        shown = ShrinkOnto(scale, 0.4)(images)
        reads = {j.spec.split(":")[1]: judged(j, shown, idx, names)[0] for j in judges}
        print(json.dumps({"run": args.tag, "final_scale": scale, **reads}), flush=True)
        with open(out / "rejudged.jsonl", "a") as f:
            f.write(json.dumps({"run": args.tag, "final_scale": scale, **reads}) + "\n")


# ---------------------------------------------------------------- table
def wilson(k: int, n: int, z: float = 1.96):
    """The Wilson score 95% interval of k successes in n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def cell(read, key):
    k, n = read["hits"][key], read["n"]
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.0%} [{lo:.0%}, {hi:.0%}]"


def table(args):
    out = Path(args.out)
    lines = [
        "# emoji world: measured variants",
        "",
        "## training (fresh-render retrieval among all names: each glyph drawn twice, 2,542 renders)",
        "",
        "| model | variant | seed | steps | seconds | threads | top-1 | top-5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    if (out / "training.jsonl").exists():
        for line in (out / "training.jsonl").read_text().splitlines():
            r = json.loads(line)
            lines.append(
                f"| {r['model']} | {r['variant']} | {r['seed']} | {r['steps']} | {r['seconds']} | "
                f"{r['threads']} | {r['top1']:.1%} | {r['top5']:.1%} |"
            )
    rows = []
    if (out / "inversions.jsonl").exists():
        rows = [json.loads(line) for line in (out / "inversions.jsonl").read_text().splitlines()]
    for k in ("dev", "heldout"):
        these = [r for r in rows if r["set"] == k]
        if not these:
            continue
        lines += [
            "",
            f"## inversions, {k} prompts (judges trained apart; own = own prompt among the set's; 95% Wilson intervals)",
            "",
            "| model | recipe | changes | s (batch) | judge | own | top-1 | top-5 | same model own / top-5 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in these:
            o = r["own_model"]
            if not any(x.startswith("judge:") for x in r):
                lines.append(
                    f"| {r['model']} | {r['recipe']} | `{json.dumps(r['changes'])}` | "
                    f"{r['seconds']} ({r.get('images_in_batch', '')}) | (none yet) | | | | "
                    f"{o['own']:.0%} / {o['top5']:.0%} |"
                )
            for key in sorted(x for x in r if x.startswith("judge:")):
                j = r[key]
                lines.append(
                    f"| {r['model']} | {r['recipe']} | `{json.dumps(r['changes'])}` | "
                    f"{r['seconds']} ({r.get('images_in_batch', '')}) | {key[6:]} | {cell(j, 'own')} | "
                    f"{cell(j, 'top1')} | {cell(j, 'top5')} | {o['own']:.0%} / {o['top5']:.0%} |"
                )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(RESEARCH / "results" / "emoji_world"))
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 ran faster than 2 on the shared CPU)")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--variant", choices=VARIANTS, default="probe")
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--seconds", type=float, default=840, help="stop after this long (a checkpoint --resume continues)")
    t.add_argument("--resume", action="store_true", help="continue models/VARIANT_sSEED.ckpt.pt")
    t.add_argument("--eval-every", type=int, default=500, help="fresh-render retrieval every this many steps")
    i = sub.add_parser("invert")
    i.add_argument("--model", required=True, help="a trained model's name (probe_s0), or a+b for an ensemble")
    i.add_argument("--judges", nargs="*", default=[], help="none: judge later with rejudge")
    i.add_argument("--recipe", nargs="+", required=True, help="LABEL=JSON changes to the plain recipe")
    i.add_argument("--seeds", type=int, default=2)
    i.add_argument("--heldout", action="store_true", help="the held-out prompts only (as --sets heldout)")
    i.add_argument("--sets", nargs="+", choices=("dev", "heldout"), default=["dev"])
    r = sub.add_parser("rejudge", help="a run's images shrunk onto grey after the fact, judged again")
    r.add_argument("tag", help="MODEL__RECIPE__SET")
    r.add_argument("--judges", nargs="+", required=True)
    r.add_argument("--scale", type=float, default=0.5)
    sub.add_parser("table")
    f = sub.add_parser("figure")
    f.add_argument("png")
    f.add_argument("tags", nargs="+", help="MODEL__RECIPE__SET: the runs' sheets")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    {"train": train, "invert": invert, "rejudge": rejudge, "table": table, "figure": figure}[args.cmd](args)


if __name__ == "__main__":
    main()
