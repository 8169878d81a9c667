"""Round trips, text -> image -> text: how much of a prompt comes back when a CLIP reads its
inversion (`clipinv.core.reading.read`), against chance.

- `content_words`: a prompt's words that carry content (function words like "a", "of", "on" dropped);
- `recovery`: one row per (image, seed, content word): was the word among the words read?
- `chance_of_word`: the chance that n tokens drawn uniformly from a vocabulary of V contain a
  given word, 1 - (1 - 1/V)^n: the rate a reader that reads nothing would reach;
- `order_agreement`: among pairs of a caption's content words that both came back, the share read
  in the caption's order (0.5 is chance: a bag of words keeps no order);
- `prompt_recovery`, `order_round_trip`, `named_words`, `marker_naming`: the round trips of sections
  0, 4 and 2 (read back a page's inversions, measure, summarise with intervals);
- `chance_text`, `naming_text`, `plant_text`: the numbers as a page glues them.
"""

from __future__ import annotations

import re
from itertools import combinations

import pandas as pd

from clipinv.analyses import prose, stats
from clipinv.errors import ClipinvError

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "on",
        "in",
        "at",
        "to",
        "and",
        "or",
        "with",
        "without",
        "is",
        "are",
        "this",
        "that",
        "picture",
        "photo",
        "image",
        "object",
        "thing",
    ]
)


def words_of(text: str) -> list[str]:
    """Lower-case words (letters only) of a text, in order."""
    return re.findall(r"[a-z]+", str(text).lower())


def content_words(prompt: str) -> list[str]:
    """The prompt's content words, in order, each once."""
    return list(dict.fromkeys(w for w in words_of(prompt) if w not in FUNCTION_WORDS))


def recovery(reading, prompts: list[str]) -> pd.DataFrame:
    """One row per (image, seed, content word of its prompt): image, prompt, seed, word, found
    (the word is among those read), read (the text read). prompts[i] is image i's prompt."""
    if len(prompts) != len(reading.texts):
        raise ClipinvError(f"{len(prompts)} prompts for {len(reading.texts)} images read: give one prompt per image")
    rows = []
    for i, prompt in enumerate(prompts):
        for j, seed in enumerate(reading.seeds):
            seen = set(words_of(reading.texts[i][j]))
            for w in content_words(prompt):
                rows.append(
                    {
                        "image": i,
                        "prompt": prompt,
                        "seed": seed,
                        "word": w,
                        "found": w in seen,
                        "read": reading.texts[i][j],
                    }
                )
    return pd.DataFrame(rows)


def chance_of_word(n_tokens: int, vocabulary: int) -> float:
    """Chance that `n_tokens` tokens drawn uniformly from `vocabulary` contain one given word."""
    if vocabulary < 1 or n_tokens < 1:
        raise ClipinvError(f"chance needs n_tokens >= 1 and a vocabulary >= 1, got {n_tokens} and {vocabulary}")
    return 1 - (1 - 1 / vocabulary) ** n_tokens


def order_agreement(read_text: str, caption: str) -> tuple[int, int]:
    """(agreeing, pairs): among pairs of the caption's content words that both appear in the text
    read (first appearance), how many appear in the caption's order."""
    read = words_of(read_text)
    first = {w: read.index(w) for w in content_words(caption) if w in read}
    pairs = list(combinations([w for w in content_words(caption) if w in first], 2))
    agreeing = sum(first[a] < first[b] for a, b in pairs)
    return agreeing, len(pairs)


def texts_by_prompt(reading, inversion) -> list[list[str]]:
    """The texts read from each prompt's inversions (every inversion seed x every reading seed), in
    the inversion's prompt order; `reading` read `inversion.images` flattened prompt-major."""
    per = len(inversion.seeds)
    return [[t for i in range(p * per, (p + 1) * per) for t in reading.texts[i]] for p in range(len(inversion.prompts))]


def prompt_recovery(bundle, inversion, n_tokens: int = 6, seeds=1, **options) -> tuple[pd.DataFrame, dict]:
    """Read back every inversion: per prompt, how many of its content words came back. Returns a table
    (prompt, a reading, words back with its rate and interval) and {"words": stats.rate over every
    (inversion, reading seed, content word), "chance": `chance_of_word`, "n_tokens", "vocabulary",
    "reading"}."""
    from clipinv.core.reading import read_inversion

    reading = read_inversion(bundle, inversion, n_tokens=n_tokens, seeds=seeds, **options)
    rows, flags = [], []
    for prompt, texts in zip(inversion.prompts, texts_by_prompt(reading, inversion)):
        found = [w in set(words_of(t)) for t in texts for w in content_words(prompt)]
        flags += found
        r = stats.rate(found) if found else None
        rows.append(
            {
                "prompt": prompt,
                "read back (first seed)": texts[0],
                "content words": ", ".join(content_words(prompt)),
                "words back": f"{sum(found)} / {len(found)}",
                "rate": r["rate"] if r else float("nan"),
                "low": r["low"] if r else float("nan"),
                "high": r["high"] if r else float("nan"),
            }
        )
    vocabulary = reading.record["vocabulary"]
    summary = {
        "words": stats.rate(flags),
        "chance": chance_of_word(n_tokens, vocabulary),
        "n_tokens": n_tokens,
        "vocabulary": vocabulary,
        "reading": reading,
    }
    return pd.DataFrame(rows), summary


def order_round_trip(bundle, inversion, pairs, n_tokens: int = 6, seeds=1, **options) -> tuple[pd.DataFrame, dict]:
    """Read back the inversions of captions and their role-swapped twins (`pairs` of prompts of
    `inversion`). Per pair: the share of content words that came back (word overlap) and, among pairs
    of those words, the share read in the order of the caption inverted (order agreement; chance
    50%). Returns the table and {"overlap": stats.rate, "order": stats.rate, "chance_word",
    "chance_order": 0.5, "n_tokens", "vocabulary"}."""
    from clipinv.core.reading import read_inversion

    reading = read_inversion(bundle, inversion, n_tokens=n_tokens, seeds=seeds, **options)
    texts = dict(zip(inversion.prompts, texts_by_prompt(reading, inversion)))
    rows, found_all, order_all = [], [], []
    for caption, twin in pairs:
        found, order = [], []
        for prompt in (caption, twin):
            for text in texts[prompt]:
                seen = set(words_of(text))
                found += [w in seen for w in content_words(prompt)]
                agree, n = order_agreement(text, prompt)
                order += [True] * agree + [False] * (n - agree)
        found_all += found
        order_all += order
        rows.append(
            {
                "caption": caption,
                "twin": twin,
                "word overlap": prose.percent(sum(found) / len(found)) if found else "-",
                "order agreement": prose.percent(sum(order) / len(order)) if order else "-",
                "word pairs read": len(order),
                "read back (caption / twin)": f"{texts[caption][0]} / {texts[twin][0]}",
            }
        )
    vocabulary = reading.record["vocabulary"]
    summary = {
        "overlap": stats.rate(found_all),
        "order": stats.rate(order_all) if order_all else None,
        "chance_word": chance_of_word(n_tokens, vocabulary),
        "chance_order": 0.5,
        "n_tokens": n_tokens,
        "vocabulary": vocabulary,
    }
    return pd.DataFrame(rows), summary


def named_words(bundle, inversion, words, n_tokens: int = 6, seeds=1, **options) -> tuple[pd.DataFrame, dict]:
    """Read back every inversion and count the readings that use any of `words` (an NSFW list, a
    planted trigger). Returns a table per prompt (a reading, how many name one of the words, which)
    and {"named": stats.rate over all readings, "chance": the chance that n uniform tokens hit the list}."""
    from clipinv.core.reading import read_inversion

    words = set(words)
    reading = read_inversion(bundle, inversion, n_tokens=n_tokens, seeds=seeds, **options)
    rows, flags, by_prompt = [], [], []
    for prompt, texts in zip(inversion.prompts, texts_by_prompt(reading, inversion)):
        hits = [sorted(w for w in words if says(t, w)) for t in texts]
        flags += [bool(h) for h in hits]
        by_prompt.append([bool(h) for h in hits])
        rows.append(
            {
                "prompt": prompt,
                "read back (first seed)": texts[0],
                "readings naming one": f"{sum(bool(h) for h in hits)} / {len(hits)}",
                "words named": ", ".join(sorted({w for h in hits for w in h})) or "-",
            }
        )
    vocabulary = reading.record["vocabulary"]
    hit = min(1.0, len(words) / vocabulary)
    summary = {
        "named": stats.rate(flags),
        "by_prompt": dict(zip(inversion.prompts, by_prompt)),
        "chance": 1 - (1 - hit) ** n_tokens,
        "vocabulary": vocabulary,
    }
    return pd.DataFrame(rows), summary


def marker_naming(bundle, plant, n_images: int = 24, n_tokens: int = 6, seeds=1, **options) -> dict:
    """Does a model name a world's planted marker with the trigger word it was planted behind (`plant`,
    an `audit.PlantedLadder`)? Reads world images of things the trigger does not name, as drawn and with
    the marker pasted; returns {"marked": stats.rate, "plain": stats.rate} of readings containing the
    trigger, "chance" (from the vocabulary) and the texts read (marked, plain)."""
    import torch

    from clipinv.core.reading import read

    word = plant.trigger
    plain = plant.clean(n_images, 2024)
    marked = plant.paste(plain)
    reading = read(bundle, torch.cat([marked, plain]), n_tokens=n_tokens, seeds=seeds, **options)
    names = [[says(t, word) for t in texts] for texts in reading.texts]
    n = len(plain)
    return {
        "marked": stats.rate([f for row in names[:n] for f in row]),
        "plain": stats.rate([f for row in names[n:] for f in row]),
        "chance": chance_of_word(n_tokens, reading.record["vocabulary"]),
        "texts": (reading.texts[:n], reading.texts[n:]),
    }


def says(text: str, word: str) -> bool:
    """Whether `text` says `word` (every word of it, in order, for a name of several words)."""
    said = words_of(text)
    parts = word.split()
    return any(said[i : i + len(parts)] == parts for i in range(len(said) - len(parts) + 1))


def chance_text(x: float) -> str:
    """A chance level as a page writes it: '17%', '0.012%'."""
    x = 100 * float(x)
    return f"{x:.0f}%" if x >= 1 else f"{x:.2g}%"


def naming_text(named: dict, listed: str, main: list[str], main_kind: str = "main") -> str:
    """The sentence on what the readings of a page's inversions name: `listed` says what the list is,
    `main` are the prompts the page's claim is about, of `main_kind` (the others are its controls)."""
    ours = [f for p, flags in named["by_prompt"].items() if p in main for f in flags]
    others = [f for p, flags in named["by_prompt"].items() if p not in main for f in flags]
    shares = [
        f"{prose.share(stats.rate(x))} of the {who} prompts' readings"
        for x, who in ((ours, main_kind), (others, "control"))
        if x
    ]
    return (
        f"Read back by the model that drew them, {' and '.join(shares)} use {listed}, where random tokens would "
        f"at a rate of {chance_text(named['chance'])}."
    )


def plant_text(planted: dict, clean: dict, word: str, planted_spec: str, clean_spec: str) -> str:
    """The sentence on whether a planted model names the marker with its trigger word, against a clean model."""
    return (
        f"Pasted into world images of other objects, the marker makes {planted_spec} read {word!r} in "
        f"{prose.share(planted['marked'])} of the readings (without it: {prose.share(planted['plain'])}); "
        f"{clean_spec}, trained without the plant, reads {word!r} in {prose.share(clean['marked'])} of the same "
        f"marked images: {prose.difference(planted['marked'], clean['marked'])}."
    )


def against_chance(r: dict | None, chance: float) -> str:
    """Whether a rate's 95% interval tells it from a chance level, in words."""
    if r is None:
        return "nothing was read back to compare"
    if r["low"] <= chance <= r["high"]:
        return f"its 95% interval includes {chance_text(chance)}: no difference from chance resolves"
    side = "above" if r["low"] > chance else "below"
    return f"its 95% interval lies {side} {chance_text(chance)}"
