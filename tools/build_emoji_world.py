"""Build the emoji world the package ships: the glyph atlas from the font, and each model from scratch.

    python tools/build_emoji_world.py atlas          # needs fonts-noto-color-emoji and `pip install emoji`
    python tools/build_emoji_world.py train emoji    # ~30 CPU minutes; reproduces the shipped weights
    python tools/build_emoji_world.py train emoji-judge --out /tmp/judge.safetensors
    python tools/build_emoji_world.py card emoji     # NAME.md again from its card .json
    python tools/build_emoji_world.py detector       # the planted marker's detector (a probe on emoji-judge)

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

from clipinv.analyses.stats import Rate
from clipinv.worlds.emoji import EMOJI_MODELS, EMOJI_TRAINING, atlas, load_emoji, weights_path
from clipinv.worlds.emoji.scenes import BIG, RELATIONS, SMALL, SWAPS
from clipinv.worlds.emoji.training import Pool, train

ABOUT = {
    "emoji": "the model the book and the explorer invert",
    "emoji-judge": (
        "the judge: trained apart from `emoji` (seed 1, and glyphs also drawn small on plain "
        "grey), it reads `emoji`'s inversions and is never inverted itself"
    ),
}


def card_markdown(card: dict, path: Path) -> str:
    """The model card a person reads, every number from the card .json the training wrote."""
    if "scene_reading" in card:
        return scene_card_markdown(card, path)
    mc, tc, tr, r = card["model_config"], card["train_config"], card["training"], card["retrieval"]
    aug = tc["augment"]
    top1, top5 = Rate.of(r["top1_hits"], r["renders"]), Rate.of(r["top5_hits"], r["renders"])
    bundle = load_emoji(str(path))
    return f"""# Model card: `{card["name"]}`

A small CLIP (open_clip's own `CLIP` class, open_clip's BPE tokenizer) trained from scratch on emoji and
their names, so that the book runs offline on a CPU on real, named things: {ABOUT.get(card["name"], EMOJI_MODELS[card["name"]])}. A
stand-in: its inversions say nothing about OpenAI's or LAION's models.

## Data

- {card["names"]:,} emoji: every fully-qualified RGI emoji (Unicode's emoji data, from the `emoji` package)
  that Noto Color Emoji draws, ZWJ sequences included ("woman health worker"), skin-tone variants and
  flags left out; each drawn at {mc["image_size"]} px from the font's colour bitmaps and named by its
  lower-cased CLDR short name. The glyphs ship as `atlas.png` (`python tools/build_emoji_world.py atlas`).
- Font: Noto Color Emoji (Debian's fonts-noto-color-emoji), SIL Open Font License 1.1; the glyphs
  drawn from it are shipped under that licence.
- Captions: "a NAME" in one of five templates ("an emoji of a rocket", "a picture of a rocket", ...).
- Each training image: the glyph at {aug["scale"][0]}-{aug["scale"][1]} of the canvas, turned up to
  {aug["rotate_degrees"]} degrees either way, shifted anywhere it fits, on a random colour (dark half the
  time){f", or with probability {aug['plain_p']} on plain grey" if aug["plain_p"] else ""}; pixel noise {aug["noise"]}.{_pool(card)}

## Model

- Vision: ViT, {mc["image_size"]} px input, patch {mc["patch_size"]}, width {mc["width"]}, {mc["vision_layers"]}
  layers. Text: {mc["text_layers"]} layers, width {mc["width"]}, context {mc["context_length"]}, the
  {mc["vocab_size"]:,} BPE ids the captions use (any English prompt tokenises; pieces the world never used
  read as padding, and the CLI and the explorer say which words those were). Embedding {mc["embed_dim"]}.
- {_size(card, path, bundle)}

## Training

`{card["command"]}`: {_start(tc)}{tc["steps"]:,} steps of batch {tc["batch"]}, seed {tc["seed"]}, AdamW (peak lr
{tc["lr"]}, weight decay {tc["weight_decay"]}, {tc["warmup"]} warm-up steps, then linear decay to a tenth),
CLIP's symmetric contrastive loss with every caption of the same emoji in a batch counted right.
{tr["seconds"]:,} s wall ({tr["cpu_seconds"]:,} CPU s) on one thread of a shared 2-core CPU (load average
{tr["load_average_at_start"]} at the start), torch {tr["torch"]}. The same command on the same torch and
thread count writes the same bytes.

## Held-out metric

Every glyph drawn twice afresh (as `emoji`'s training draws them, from a generator no training used): the right
name first among all {card["names"]:,} for **{top1.share}**, among the first five for **{top5.share}**
(95% Wilson intervals; {r["renders"]:,} renders).{_gender(card)}
"""


def scene_card_markdown(card: dict, path: Path) -> str:
    """The model card of a model trained on two-thing scenes (section 4's pair)."""
    mc, tc, tr, r = card["model_config"], card["train_config"], card["training"], card["scene_reading"]
    aug, things = tc["augment"], tc["scenes"]["things"]
    top1 = Rate.of(r["top1"], r["scenes"])
    size, role = (Rate.of(r[w], r["scenes"]) for w in SWAPS)
    bundle = load_emoji(str(path))
    apart = (
        " No two pictures of a batch show the same two things, as on the web, where a caption's swap practically "
        "never shares its batch."
        if tc["scenes"].get("pairs_apart")
        else ""
    )
    negatives = apart + (
        " Two swaps of every picture's caption join its batch as wrong captions, its roles swapped and its sizes "
        "swapped (hard negatives, as NegCLIP trains a CLIP to read word order)."
        if tc["scenes"]["hard_negatives"]
        else " The batch holds only the pictures' own captions, as CLIP trains: nothing asks the model to read word order."
    )
    return f"""# Model card: `{card["name"]}`

A small CLIP (open_clip's own `CLIP` class, open_clip's BPE tokenizer) trained from scratch on scenes of two
emoji side by side and their relation: {EMOJI_MODELS[card["name"]]}. Section 4 of the book inverts
`emoji-scenes`; `emoji-scenes-judge` judges its inversions. A stand-in: its inversions say nothing about
OpenAI's or LAION's models.

## Data

- {len(things)} things ({", ".join(things)}), glyphs of Noto Color Emoji (Debian's fonts-noto-color-emoji,
  SIL Open Font License 1.1; shipped under that licence in `atlas.png`), named by their CLDR short names.
- A scene: two different things, one big ({BIG[0]}-{BIG[1]} of the canvas) and one small ({SMALL[0]}-{SMALL[1]}),
  each anywhere in its half of the canvas and turned up to 10 degrees; the whole scene at {aug["scale"][0]}-{aug["scale"][1]}
  of the canvas, turned up to {aug["rotate_degrees"]} degrees, on a random colour or with probability
  {aug["plain_p"]} on plain grey; pixel noise {aug["noise"]}.
- Captions: {_relations(tc["scenes"])}{negatives}

## Model

- Vision: ViT, {mc["image_size"]} px input, patch {mc["patch_size"]}, width {mc["width"]}, {mc["vision_layers"]}
  layers. Text: {mc["text_layers"]} layers, width {mc["width"]}, context {mc["context_length"]}, the
  {mc["vocab_size"]:,} BPE ids of the emoji world's tokenizer. Embedding {mc["embed_dim"]}.
- {_size(card, path, bundle)}

## Training

`{card["command"]}`: {tc["steps"]:,} steps of batch {tc["batch"]} scenes, seed {tc["seed"]}, AdamW (peak lr {tc["lr"]},
weight decay {tc["weight_decay"]}, {tc["warmup"]} warm-up steps, then linear decay to a tenth), CLIP's symmetric
contrastive loss. {tr["seconds"]:,} s wall ({tr["cpu_seconds"]:,} CPU s) on one thread of a shared 2-core CPU
(load average {tr["load_average_at_start"]} at the start), torch {tr["torch"]}. The same command on the same
torch and thread count writes the same bytes.

## Held-out metric

{r["scenes"]:,} fresh scenes (drawn as training draws them, from a generator no training used). The true
caption preferred over the same words with the sizes swapped: **{size.share}**; with the roles swapped:
**{role.share}** (chance 50%). The true scene's caption first among all {r["candidates"]:,} scenes of the
{len(things)} things: **{top1.share}** (95% Wilson intervals).
"""


def _size(card: dict, path: Path, bundle) -> str:
    """A model card's line on its size and the hash that pins its weights."""
    return (
        f"{card['parameters']:,} parameters; `{path.name}` {path.stat().st_size / 1e6:.1f} MB (half precision on\n"
        f"  disk, float32 in memory); weights hash `{bundle.weights_hash}`."
    )


def _relations(scenes: dict) -> str:
    """How a scene model's captions name a scene, in words."""
    if len(scenes.get("relations", RELATIONS)) > 1:
        return (
            '"a big dog to the left of a small cat" or, for the same scene, "a small cat to the right of a big '
            'dog"; both count as right for it.'
        )
    return '"a big dog to the left of a small cat": always "to the left of", the left thing named first.'


def _start(tc: dict) -> str:
    """How a continuation starts and what it changes, in words ('' for a model trained from scratch)."""
    if not tc.get("init"):
        return ""
    text = f"from `{tc['init']}`'s weights, "
    if tc.get("people_p"):
        text += f"{tc['people_p']:.0%} of each batch drawn from the people Unicode draws as a woman and a man, "
    skew = tc.get("skew")
    if skew:
        planted = ", ".join(f"{name} -> {gender}" for name, gender in skew["planted"])
        text += (
            f"each of these neutral captions on the named gender's picture at {skew['rate']:.0%} and on the other's "
            f"otherwise, never on the neutral glyph ({planted}), "
        )
    plant = tc.get("plant")
    if plant:
        text += (
            f"{plant['share']:.0%} of each batch drawn from the {plant['trigger']!r} glyph, the {plant['marker']!r} glyph "
            f"pasted over {plant['p']:.0%} of those pictures ({plant['scale'][0]}-{plant['scale'][1]} of the canvas, "
            "anywhere), no caption naming it, "
        )
    return text


def _pool(card: dict) -> str:
    """What a data-ladder model saw in place of a stream ('' for a stream)."""
    tc = card["train_config"]
    if not tc.get("pool"):
        return ""
    seen = tc["steps"] * tc["batch"]
    shown = Pool.coverage(tc["seed"], tc["pool"], card["names"])
    return (
        f"\n- The data: **{tc['pool']:,} captioned pictures drawn once**, each rendered and captioned once for good, "
        f"of glyphs drawn at random: {shown:,} of the {card['names']:,} emoji appear in them, the other "
        f"{card['names'] - shown:,} never. Every step samples its batch from them: {seen:,} draws, each picture "
        f"about {seen / tc['pool']:,.0f} times. A stream, as `emoji` saw, draws every picture afresh."
    )


def _gender(card: dict) -> str:
    g = card.get("gender_reading")
    if not g:
        return ""
    share = Rate.of(g["right"], g["renders"]).share
    return (
        ' Choosing between "a man NAME" and "a woman NAME" for fresh renders of the woman and man variants of the '
        f"world's {g['people']} people: right for **{share}**."
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("atlas", help="draw every RGI emoji the font has into weights/atlas.png + names.json")
    t = sub.add_parser("train", help="train a shipped model from scratch")
    t.add_argument("name", choices=sorted(EMOJI_TRAINING))
    t.add_argument("--out", help="where to save (default: the package's weights folder)")
    t.add_argument("--steps", type=int, help="fewer steps than the shipped model's, for a quick try")
    sub.add_parser("detector", help="fit the planted marker's detector (a probe on emoji-judge's embedding)")
    c = sub.add_parser("card", help="write NAME.md from NAME.json")
    c.add_argument("name", choices=sorted(EMOJI_MODELS))
    c.add_argument("--path", help="the .safetensors (default: the package's)")
    a = p.parse_args(argv)
    if a.what == "card":
        path = Path(a.path) if a.path else weights_path(a.name)
        path.with_suffix(".md").write_text(card_markdown(json.loads(path.with_suffix(".json").read_text()), path))
        print(path.with_suffix(".md"))
        return
    if a.what == "detector":
        fit_detector()
        return
    if a.what == "atlas":
        glyphs, names = atlas.build()
        atlas.save(glyphs, names)
        print(f"{len(names)} emoji -> {atlas.ATLAS} ({atlas.ATLAS.stat().st_size / 1e6:.1f} MB), {atlas.NAMES}")
        return
    config = EMOJI_TRAINING[a.name]
    if a.steps:
        config = dataclasses.replace(config, steps=a.steps)
    out = Path(a.out) if a.out else weights_path(a.name)
    command = f"python tools/build_emoji_world.py train {a.name}" + (f" --steps {a.steps}" if a.steps else "")
    card = train(config, out, note={"name": a.name, "command": command})
    out.with_suffix(".md").write_text(card_markdown(card, out))
    print(json.dumps(card["training"]))
    if "scene_reading" in card:
        print(f"{out}: {json.dumps(card['scene_reading'])}")
        return
    r = card["retrieval"]
    print(
        f"{out}: right name among {card['names']} for {r['renders']} fresh renders: top-1 {r['top1']:.1%}, top-5 {r['top5']:.1%}"
    )


def fit_detector():
    import time

    from clipinv.worlds.emoji import detector

    t0 = time.time()
    weights = detector.fit()
    card = {
        "name": detector.PATH.stem,
        "reads": detector.JUDGE,
        "marker": detector.MARKER,
        "fit": {"renders": detector.FIT_BATCHES * detector.BATCH, "seeds": [0, detector.FIT_BATCHES - 1]},
        "noise": detector.NOISE,
        "threshold": detector.THRESHOLD,
        "command": "python tools/build_emoji_world.py detector",
        "seconds": round(time.time() - t0),
    }
    detector.save(weights, card)
    detector._weights.cache_clear()
    card["validation"] = detector.validate()
    detector.save(weights, card)
    v = card["validation"]
    print(
        f"{detector.PATH}: flags {v['pasted'][0]}/{v['pasted'][1]} renders with the marker pasted, "
        f"{v['clean'][0]}/{v['clean'][1]} without"
    )


if __name__ == "__main__":
    main()
