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
def train(args):
    out = Path(args.out)
    g, names = glyphs(out)
    tok = Tokenizer(names)
    v = VARIANTS[args.variant]
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    model = make_model(tok.vocab, v["width"])
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(names)} emoji, {tok.vocab} token ids, {params / 1e6:.2f} M parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    t0, batch, step = time.time(), 128, 0
    while step < args.steps and time.time() - t0 < args.seconds:
        idx = torch.randint(0, len(names), (batch,)).tolist()
        x = (render(g, idx, v["scale"], v["plain_p"], v["grey_p"]) - MEAN) / STD
        t = tok([random.choice(TEMPLATES).format(art(names[i])) for i in idx])
        done = max(step / args.steps, (time.time() - t0) / args.seconds)  # whichever budget runs out first
        lr = 1e-3 * min(1, (step + 1) / 100) * (0.1 + 0.9 * (1 - done))
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
            print(f"step {step} {time.time() - t0:.0f}s loss {loss.item():.3f}", flush=True)
    seconds = time.time() - t0
    name = f"{args.variant}_s{args.seed}"
    (out / "models").mkdir(parents=True, exist_ok=True)
    model.eval()
    save_file({k: v_.contiguous() for k, v_ in model.state_dict().items()}, out / "models" / f"{name}.safetensors")
    card = {
        "variant": args.variant,
        **v,
        "seed": args.seed,
        "steps": step,
        "batch": batch,
        "seconds": round(seconds),
        "params": params,
        "threads": torch.get_num_threads(),
    }
    (out / "models" / f"{name}.json").write_text(json.dumps(card))
    top1, top5 = retrieval(load(out, name, tok), g, names)
    card.update(model=name, top1=round(top1, 4), top5=round(top5, 4))
    (out / "models" / f"{name}.json").write_text(json.dumps(card))
    with open(out / "training.jsonl", "a") as f:
        f.write(json.dumps(card) + "\n")
    print(
        f"{name}: {step} steps in {seconds:.0f}s; fresh-render retrieval among {len(names)}: "
        f"top-1 {top1:.1%} top-5 {top5:.1%}",
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
    own = sum(page[p] == i for p, i in zip(pick.tolist(), idx)) / len(idx)
    top = (feats @ text.T).topk(5, dim=1).indices
    lab = torch.tensor(idx)[:, None]
    return {
        "own": round(own, 4),
        "top1": round((top[:, :1] == lab).float().mean().item(), 4),
        "top5": round((top == lab).any(1).float().mean().item(), 4),
    }, top


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
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    g, names = glyphs(out)
    tok = Tokenizer(names)
    models = [load(out, m, tok) for m in args.model.split("+")]  # "a+b": an ensemble
    judges = [load(out, j, tok) for j in args.judges]
    assert not {j.weights_hash for j in judges} & {m.weights_hash for m in models}, "a judge is an inverted model"
    texts = [name_features(j, names) for j in judges]
    chosen = [n for n in (HELDOUT if args.heldout else DEV) if n in names]
    seeds = list(range(args.seeds))
    prompts = [objective.as_prompt(art(n)) for n in chosen for _ in seeds]
    idx = [names.index(n) for n in chosen for _ in seeds]
    refs = render(
        g, [names.index(n) for n in chosen], scale=(0.8, 0.8), plain_p=1.0, gen=torch.Generator().manual_seed(7)
    )
    for spec in args.recipe:
        label, changes = spec.split("=", 1)
        knobs = {**BASE, **json.loads(changes)}
        knobs = {
            k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
            for k, v in knobs.items()
        }
        recipe = Recipe(**knobs)
        t0 = time.time()
        images, sims, _ = optimise(
            models, prompts, [s for _ in chosen for s in seeds], recipe, torch.device("cpu"), progress=False
        )
        seconds = time.time() - t0
        row = {
            "model": args.model,
            "recipe": label,
            "changes": json.loads(changes),
            "set": "heldout" if args.heldout else "dev",
            "prompts": len(chosen),
            "seeds": len(seeds),
            "seconds": round(seconds),
            "own_model": judged(models[0], images, idx, names)[0],
        }
        reads = []
        for j, text in zip(judges, texts):
            row[f"judge:{j.spec.split(':')[1]}"], top = judged(j, images, idx, names, text)
            reads.append(top)
        row["mean_judge"] = {
            k: round(sum(row[f"judge:{j.spec.split(':')[1]}"][k] for j in judges) / len(judges), 4)
            for k in ("own", "top1", "top5")
        }
        tag = f"{args.model}__{label}__{row['set']}"
        per = images.view(len(chosen), len(seeds), *images.shape[1:])
        sheet(out / f"{tag}.png", per, refs, len(seeds))
        sheet(out / f"{tag}_blind.png", per, refs, len(seeds), blind=True)
        row["sheet"] = f"{tag}.png"
        row["reads"] = {
            chosen[i // len(seeds)] + f"/{i % len(seeds)}": [names[k] for k in reads[0][i, :3].tolist()]
            for i in range(len(idx))
        }
        with open(out / "inversions.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k != "reads"}), flush=True)


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
def table(args):
    out = Path(args.out)
    lines = [
        "# emoji world: measured variants",
        "",
        "## training (fresh-render retrieval among all names)",
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
    lines += [
        "",
        "## inversions (judges trained apart; own = own prompt among the page's)",
        "",
        "| model | recipe | changes | set | images | s | judge own | judge top-1 | judge top-5 | "
        "same model own / top-5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    if (out / "inversions.jsonl").exists():
        for line in (out / "inversions.jsonl").read_text().splitlines():
            r = json.loads(line)
            m, o = r["mean_judge"], r["own_model"]
            lines.append(
                f"| {r['model']} | {r['recipe']} | `{json.dumps(r['changes'])}` | {r['set']} | "
                f"{r['prompts'] * r['seeds']} | {r['seconds']} | {m['own']:.0%} | {m['top1']:.0%} | "
                f"{m['top5']:.0%} | {o['own']:.0%} / {o['top5']:.0%} |"
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
    t.add_argument("--seconds", type=float, default=840, help="stop after this long, whatever --steps says")
    i = sub.add_parser("invert")
    i.add_argument("--model", required=True, help="a trained model's name (probe_s0), or a+b for an ensemble")
    i.add_argument("--judges", nargs="+", required=True)
    i.add_argument("--recipe", nargs="+", required=True, help="LABEL=JSON changes to the plain recipe")
    i.add_argument("--seeds", type=int, default=2)
    i.add_argument("--heldout", action="store_true")
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
