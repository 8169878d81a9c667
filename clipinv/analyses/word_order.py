"""Does word order matter to CLIP? Section 4's three measurements of the bag-of-words claim.

A caption here is a triple (first noun phrase, relation, second noun phrase): ("a big dog",
"chasing", "a small cat") from a small grammar for a real CLIP (`grammar_captions`), ("a red
circle", "left of", "a blue square") from the toy world's two-object scenes (`toy_captions`), ("a big
dog", "to the left of", "a small cat") from the emoji world's (`emoji_captions`).

1. **Text side** (`text_variants`, `text_cosines`, `text_table`): the cosine similarity of a
   caption's text embedding to random shufflings of its words, to the caption with its noun phrases
   swapped (same words, roles exchanged) and, as the yardstick, to a different caption of the set.
   If a shuffle sits as close as the caption itself and far above a different caption, word order
   barely moves the embedding.
2. **Images with a known truth** (`pair_scenes`, `swapped_captions`, `two_way_choice`,
   `choice_phrases`): for images of two objects, does a model score the true caption above the same
   words with the attributes swapped (the toy world's colours, the emoji world's sizes) or with the roles
   swapped? Reading word order, it nearly always does; a bag of words is at chance, 50%. Real CLIPs
   would need a labelled image set, so this runs on the toy and emoji worlds only.
3. **Inversions** (`swap_pairs`): prompts and their swapped versions are inverted and a judge sees
   each inversion with the two prompts of its pair. If the images kept who does what and which
   attribute goes where, the judge would pick the inversion's own prompt nearly always; at 50% the
   inversions are the same bag of concepts.

A page takes its world's captions with `captions(world, ...)` and the choice on images of known
truth with `scene_choice(world, ...)` (nothing to show for a real CLIP). Every random draw comes from
the `torch.Generator` passed in, so a page's numbers repeat.
"""

from __future__ import annotations

import pandas as pd
import torch

from clipinv.analyses import prose, stats
from clipinv.analyses.findings import Grid, Table
from clipinv.analyses.prompts import of_world
from clipinv.errors import ClipinvError

ADJECTIVES = ("big", "small", "red", "blue", "old", "young", "black", "white", "happy", "tired")
NOUNS = ("dog", "cat", "man", "woman", "horse", "bird", "child", "car", "robot", "bear")
VERBS = ("chasing", "watching", "pushing", "following", "carrying", "painting", "feeding", "hugging")
TEXT_VARIANTS = ("shuffled words", "roles swapped", "a different caption")
CHOICES = ("attributes swapped", "roles swapped")


# ---------------------------------------------------------------- captions
def _pick(xs, g):
    return xs[int(torch.randint(len(xs), (1,), generator=g))]


def grammar_captions(n: int, g: torch.Generator) -> list[tuple[str, str, str]]:
    """n captions "a ADJ NOUN VERB a ADJ NOUN" as triples, the two adjectives and the two nouns
    different (so a swap changes the caption)."""
    out = []
    while len(out) < n:
        a1, a2 = _pick(ADJECTIVES, g), _pick(ADJECTIVES, g)
        n1, n2 = _pick(NOUNS, g), _pick(NOUNS, g)
        if a1 != a2 and n1 != n2:
            out.append((f"a {a1} {n1}", _pick(VERBS, g), f"a {a2} {n2}"))
    return out


def _distinct(sample) -> bool:
    """A two-object scene whose objects differ in colour and in shape (so every swap is a new caption)."""
    a, b = sample.objects
    return a.colour != b.colour and a.shape != b.shape


def toy_captions(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """Up to n captions of the toy world's two-object scenes (objects of different colours and
    shapes), as triples, from the world's draws with `seed` (the same as `World.sample`'s)."""
    from clipinv.worlds.shapes.world import World

    samples = World(pair_rate=1.0).draw(4 * n, torch.Generator().manual_seed(int(seed)))
    out = []
    for s in filter(_distinct, samples):
        a, b = s.objects
        out.append((f"a {a.colour} {a.shape}", s.relation, f"a {b.colour} {b.shape}"))
    return out[:n]


def caption(triple) -> str:
    return " ".join(triple)


def swap_roles(triple) -> str:
    """The caption with its two noun phrases exchanged: "a small cat chasing a big dog"."""
    first, relation, second = triple
    return f"{second} {relation} {first}"


def shuffle_words(text: str, g: torch.Generator) -> str:
    """The words of `text` in a random order."""
    words = text.split()
    return " ".join(words[i] for i in torch.randperm(len(words), generator=g))


def text_variants(triples, n_shuffles: int, g: torch.Generator) -> dict[str, list[str]]:
    """The captions and what each is compared with: "shuffled words" (n_shuffles per caption, in
    caption order), "roles swapped" and "a different caption" (another caption of the set, drawn
    uniformly), one each. Draws the shuffles first, then the different captions."""
    if len(triples) < 2:
        raise ClipinvError(f"the text comparison needs at least 2 captions, got {len(triples)}")
    captions = [caption(t) for t in triples]
    shuffles = [shuffle_words(c, g) for c in captions for _ in range(n_shuffles)]
    n = len(captions)
    others = [captions[(i + 1 + int(torch.randint(n - 1, (1,), generator=g))) % n] for i in range(n)]
    return {
        "captions": captions,
        "shuffled words": shuffles,
        "roles swapped": [swap_roles(t) for t in triples],
        "a different caption": others,
    }


# ---------------------------------------------------------------- 1. text side
@torch.no_grad()
def text_cosines(model, variants: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    """Cosine similarity of each caption's text embedding (`model`) to each of its variants
    (`text_variants`): {variant: [captions x variants per caption]} flattened."""
    t = model.encode_text(variants["captions"])
    out = {}
    for name in TEXT_VARIANTS:
        v = model.encode_text(variants[name])
        out[name] = (t.repeat_interleave(len(v) // len(t), 0) * v).sum(-1).cpu()
    return out


def text_table(cosines: dict[str, torch.Tensor]):
    """(table: each variant's mean cosine with its 95% interval and how many, summary {variant: mean_ci})."""
    summary = {name: stats.mean_ci(x, within=stats.COSINE) for name, x in cosines.items()}
    rows = [
        {"compared with": name, "pairs": int(cosines[name].numel()), "mean cosine": prose.mean(m)}
        for name, m in summary.items()
    ]
    return pd.DataFrame(rows), summary


# ---------------------------------------------------------------- 2. images with a known truth
def pair_scenes(n: int, seed: int = 1):
    """Up to n toy-world images of two objects of different colours and shapes, with their samples."""
    from clipinv.worlds.shapes.world import World

    images, samples = World(pair_rate=1.0).sample(4 * n, seed=seed)
    keep = [i for i, s in enumerate(samples) if _distinct(s)][:n]
    return images[keep], [samples[i] for i in keep]


def swapped_captions(samples) -> dict[str, list[str]]:
    """For each two-object sample, its caption with the colours swapped ("a blue circle left of a
    red square") and with the roles swapped ("a blue square left of a red circle")."""
    colours, roles = [], []
    for s in samples:
        a, b = s.objects
        colours.append(f"a {b.colour} {a.shape} {s.relation} a {a.colour} {b.shape}")
        roles.append(f"a {b.colour} {b.shape} {s.relation} a {a.colour} {a.shape}")
    return {"attributes swapped": colours, "roles swapped": roles}


def prefers_truth(image_features, true_features, alt_features) -> torch.Tensor:
    """Per image: is its cosine to the true caption above that to the alternative? (unit vectors [N, D])."""
    return (image_features * true_features).sum(-1) > (image_features * alt_features).sum(-1)


@torch.no_grad()
def two_way_choice(models, images: torch.Tensor, true: list[str], alternatives: dict[str, list[str]]):
    """Each model chooses, per image, between its true caption and each alternative caption ->
    (table, {(model spec, alternative): stats.rate of preferring the truth}). Chance is 50%."""
    if any(len(alt) != len(true) for alt in alternatives.values()) or len(true) != len(images):
        raise ClipinvError("need one true and one alternative caption per image")
    rows, results = [], {}
    for model in dict.fromkeys(models):
        v = model.encode_image(images.to(model.device))
        t = model.encode_text(list(true))
        for name, alt in alternatives.items():
            r = stats.rate(prefers_truth(v, t, model.encode_text(list(alt))).cpu().numpy())
            results[(model.spec, name)] = r
            rows.append(
                {
                    "model": model.spec if name == next(iter(alternatives)) else "",  # named once
                    "true caption vs": name,
                    "prefers the truth": f"{prose.count(r['k'], r['n'])}, {prose.rate_of(r)}",
                }
            )
    return pd.DataFrame(rows), results


NOT_MEASURED = "not measured (needs labelled images)"


def choice_phrases(results: dict | None, spec: str) -> dict[str, str]:
    """How often model `spec` prefers the true caption, per swap ("roles swapped", "attributes swapped"):
    '97/200, 48% (42–55%)', or NOT_MEASURED where there were no images with a known truth
    (`results` None, a real CLIP)."""
    if results is None:
        return {name: NOT_MEASURED for name in CHOICES}
    return {
        name: f"{prose.count(r['k'], r['n'])}, {prose.rate_of(r)}" for name in CHOICES for r in [results[(spec, name)]]
    }


# ---------------------------------------------------------------- 3. inversions
def swap_kind(prompt: str, swapped: str) -> str:
    """ "attributes swapped" where the two prompts differ in exactly two words, exchanged in place ("a big dog
    ... a small cat" / "a small dog ... a big cat"); "roles swapped" where whole noun phrases moved."""
    a, b = prompt.lower().split(), swapped.lower().split()
    at = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    attribute = len(a) == len(b) and len(at) == 2 and (a[at[0]], a[at[1]]) == (b[at[1]], b[at[0]])
    return "attributes swapped" if attribute else "roles swapped"


def swap_pairs(judge_sims: torch.Tensor, inverted_sims: torch.Tensor, prompts: list[str], pairs):
    """judge_sims and inverted_sims [P, S, P] (cosine of inversion (p, s) to each prompt, by the judge
    and by the inverted model), the pairs (prompt, its swap) -> (table, summary).

    Both directions of each pair count: the inversions of a are judged between a and b, those of b
    between b and a. A row gives how often the judge picks the inverted prompt and the inverted
    model's own similarity to it minus to its swap. The summary holds hits, n, rate (text), chance
    (0.5), the inverted model's gap (mean_ci over all judged inversions) and `by_kind`: hits, n and rate
    per kind of swap (`swap_kind`: the attributes or the roles)."""
    n_p = len(prompts)
    for name, sims in (("judge_sims", judge_sims), ("inverted_sims", inverted_sims)):
        if sims.dim() != 3 or sims.shape[0] != n_p or sims.shape[2] != n_p:
            raise ClipinvError(f"{name} must be [prompts, seeds, prompts] = [{n_p}, S, {n_p}], got {tuple(sims.shape)}")
    missing = [p for pair in pairs for p in pair if p not in prompts]
    if missing:
        raise ClipinvError(f"pair prompts {missing} are not among the inverted prompts")
    rows, wins, gaps, kinds = [], [], [], {}
    for a, b in pairs:
        kind = swap_kind(a, b)
        for x, y in ((a, b), (b, a)):
            ix, iy = prompts.index(x), prompts.index(y)
            w = judge_sims[ix, :, ix] > judge_sims[ix, :, iy]
            gap = inverted_sims[ix, :, ix] - inverted_sims[ix, :, iy]
            wins.append(w)
            gaps.append(gap)
            kinds.setdefault(kind, []).append(w)
            k, n = int(w.sum()), w.numel()
            rows.append(
                {
                    "inverted": x,
                    "its swap": f"{y} ({kind.split()[0]})",
                    "judge picks the inverted": f"{prose.count(k, n)}, {prose.rate(k, n)}",
                    "inverted model's gap": prose.mean(stats.mean_ci(gap)),
                }
            )
    summary = {
        **_hits(torch.cat(wins)),
        "chance": 0.5,
        "model_gap": stats.mean_ci(torch.cat(gaps)),
        "by_kind": {kind: _hits(torch.cat(ws)) for kind, ws in kinds.items()},
    }
    return pd.DataFrame(rows), summary


def _hits(w: torch.Tensor) -> dict:
    hits, n = int(w.sum()), w.numel()
    return {"hits": hits, "n": n, "rate": prose.rate(hits, n)}


SWAP_WORDS = {"roles swapped": "role swaps", "attributes swapped": "attribute swaps"}


def swap_phrase(swap: dict, counts: bool = True) -> str:
    """How often the judge tells inversions from their swaps, per kind: 'from role swaps 12/24, 50% (31–69%),
    from attribute swaps 21/24, 88% (69–96%)' (`swap_pairs`'s summary; without `counts`, the rates only)."""
    return ", ".join(
        f"from {said} {prose.count(r['hits'], r['n']) + ', ' if counts else ''}{r['rate']}"
        for kind, said in SWAP_WORDS.items()
        for r in [swap.get("by_kind", {}).get(kind)]
        if r
    )


def headline(text: dict, choice: dict | None, spec: str, swap: dict) -> str:
    """The page's three results in one phrase: the text-side cosines (`text_table`'s summary), the
    two-way choice of model `spec` (`two_way_choice`'s results, None where not measured) and the
    swap-pair judging (`swap_pairs`'s summary)."""
    shuffled, other = prose.mean(text["shuffled words"]), prose.mean(text["a different caption"])
    if choice is None:
        told = f"true caption vs role swap {NOT_MEASURED}"
    else:
        told = f"true caption over role swap {prose.rate_of(choice[(spec, 'roles swapped')])}"
    by_kind = swap_phrase(swap, counts=False)
    return (
        f"text cosine to shuffled words {shuffled}, to a different caption {other}; {told}; "
        f"judge tells inversions {by_kind or 'from swaps ' + swap['rate']}, chance 50%"
    )


def emoji_captions(n: int, g: torch.Generator) -> list[tuple[str, str, str]]:
    """n captions of the emoji world's scenes (a big and a small thing side by side), drawn with `g`."""
    from clipinv.worlds.emoji.scenes import draw_scenes

    return [s.phrases() for s in draw_scenes(n, g)]


def toy_choice(n: int):
    """Up to n toy-world images of two objects with their true captions and swaps (colours, roles)."""
    images, samples = pair_scenes(n, seed=1)
    return images, [s.caption for s in samples], swapped_captions(samples)


def emoji_choice(n: int):
    """n emoji-world scenes (drawn as the scene models saw them) with their true captions and swaps
    (sizes, roles)."""
    from clipinv.worlds.emoji.scenes import AUGMENT, SWAPS, draw_scenes, render_scenes

    g = torch.Generator().manual_seed(1)
    scenes = draw_scenes(n, g)
    images = render_scenes(scenes, AUGMENT, g)
    size, role = ([s.swapped(w).caption for s in scenes] for w in SWAPS)
    return images, [s.caption for s in scenes], {"attributes swapped": size, "roles swapped": role}


CAPTIONS = {"toy": lambda n, g: toy_captions(n), "emoji": emoji_captions, "paper": grammar_captions}
CHOICE_IMAGES = {"toy": toy_choice, "emoji": emoji_choice}  # a world's images of known truth (n)
ATTRIBUTES = {"toy": "colours", "emoji": "sizes", "paper": "attributes"}  # what an attribute swap exchanges


def captions(world: str, n: int, g: torch.Generator) -> list[tuple[str, str, str]]:
    """n caption triples of `world`: the toy world's two-object scenes (drawn with the world's own seed,
    `g` untouched), the emoji world's scenes or grammar captions for a real CLIP, drawn with `g`."""
    return of_world(CAPTIONS, world)(n, g)


def scene_choice(world: str, models, n: int) -> tuple[dict | None, list]:
    """The two-way choice on images whose caption is known (`two_way_choice`), where the world has such
    images (the toy and the emoji world): (results, what to show: the table and example images).
    A real CLIP's world has none: (None, [])."""
    if world not in CHOICE_IMAGES:
        return None, []
    images, true, alternatives = CHOICE_IMAGES[world](n)
    rows, choice = two_way_choice(models, images, true, alternatives)
    shown = [
        Table(
            rows,
            f"Two-way choice between the true caption of an image of the {world} world and the same words "
            f"swapped: the {ATTRIBUTES[world]} or the roles (95% Wilson interval; chance 50%).",
            {"images": len(true)},
        ),
        Grid(
            images[:6],
            "Examples of the two-object images, with their true captions.",
            col_labels=[wrap_caption(c) for c in true[:6]],
            size=1.5,
        ),
    ]
    return choice, shown


def wrap_caption(text: str) -> str:
    """A two-object caption ("a big dog to the left of a small cat") on three lines: the first noun phrase
    (three words), the relation, the second noun phrase."""
    head, sep, tail = text.rpartition(" a ")
    words = head.split()
    return f"{' '.join(words[:3])}\n{' '.join(words[3:])}\na {tail}" if sep and len(words) > 3 else text
