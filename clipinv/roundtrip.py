"""Round trips, text -> image -> text: how much of a prompt comes back when a CLIP reads its
inversion (`clipinv.reading.read`), against chance.

- `content_words`: a prompt's words that carry content (function words like "a", "of", "on" dropped);
- `recovery`: one row per (image, seed, content word): was the word among the words read?
- `chance_of_word`: the chance that n tokens drawn uniformly from a vocabulary of V contain a
  given word, 1 - (1 - 1/V)^n: the rate a reader that reads nothing would reach;
- `order_agreement`: among pairs of a caption's content words that both came back, the share read
  in the caption's order (0.5 is chance: a bag of words keeps no order);
- `planted_words`: how often a reading names a given word (e.g. the trigger of a planted world);
- `rate_sentence`: a rate with its interval and the chance level, as a page glues it.
"""

from __future__ import annotations

import re
from itertools import combinations

import pandas as pd

from . import stats
from .errors import ClipinvError

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


def pair_table(reading, captions: list[str], twins: list[str]) -> pd.DataFrame:
    """One row per (caption, its role-swapped twin): the share of content words that came back in the
    readings of both inversions (word overlap) and the share of word pairs read in the order of the
    caption that was inverted (order agreement). Images are prompt-major: caption k's inversions are
    images 2k (the caption) and 2k + 1 (its twin)."""
    rows = []
    for k, (cap, twin) in enumerate(zip(captions, twins)):
        found = n = agree = pairs = 0
        for image, prompt in ((2 * k, cap), (2 * k + 1, twin)):
            for text in reading.texts[image]:
                seen = set(words_of(text))
                words = content_words(prompt)
                found += sum(w in seen for w in words)
                n += len(words)
                a, p = order_agreement(text, prompt)
                agree, pairs = agree + a, pairs + p
        rows.append(
            {
                "caption": cap,
                "twin": twin,
                "word overlap": found / n if n else float("nan"),
                "order agreement": agree / pairs if pairs else float("nan"),
                "words": n,
                "words back": found,
                "ordered pairs": pairs,
                "in order": agree,
            }
        )
    return pd.DataFrame(rows)


def planted_words(reading, word: str) -> dict:
    """How many (image, seed) readings contain `word`: a `stats.rate` dict."""
    flags = [word in words_of(t) for texts in reading.texts for t in texts]
    return stats.rate(flags)


def rate_sentence(r: dict, chance: float) -> str:
    """'71% (95% interval 64-77%; chance 11%)'."""
    return f"{r['rate']:.0%} (95% interval {r['low']:.0%}-{r['high']:.0%}; chance {chance:.1%})"
