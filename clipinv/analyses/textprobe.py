"""The text side of the NSFW finding: is a prompt's *text* embedding near NSFW words?

The paper reports that innocuous prompts (e.g. "a beautiful landscape") invert to NSFW images
although their text embeddings are not near NSFW words, while some celebrity names are. Measured
here as, for each prompt:

- its nearest vocabulary words (cosine similarity of text embeddings, the model's own tokenizer's
  whole-word tokens, most frequent first, up to `max_words`);
- the rank, among that vocabulary plus the NSFW list, of the nearest NSFW term (1 = the nearest
  word of all is an NSFW term) and that term's similarity.

`readable` shapes the result for a page's table and `rank_text` states the ranks in a sentence.

The NSFW list ships as `clipinv/data/nsfw_words.txt` (short and clinical). Words the model's
tokenizer cannot encode (the toy world's small vocabulary has none of them) are skipped, and a
prompt's NSFW rank is then None.
"""

from __future__ import annotations

import re
from importlib import resources

import pandas as pd
import torch

from clipinv.errors import ClipinvError
from clipinv.worlds.shapes.tokenizer import VOCAB, ToyTokenizer


def nsfw_words() -> list[str]:
    text = resources.files("clipinv").joinpath("data/nsfw_words.txt").read_text()
    return [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]


def vocabulary(bundle, max_words: int | None = 5000, min_len: int = 3) -> list[str]:
    """Whole-word tokens of the model's tokenizer, most frequent first (BPE merge order)."""
    tok = bundle.tokenizer
    words = None
    if hasattr(tok, "encoder"):  # open_clip's SimpleTokenizer: "word</w>" entries in merge order
        words = [t[:-4] for t in tok.encoder if t.endswith("</w>")]
    elif hasattr(tok, "tokenizer") and hasattr(tok.tokenizer, "get_vocab"):  # HF tokenizers
        vocab = tok.tokenizer.get_vocab()
        words = [t.lstrip("Ġ▁").removesuffix("</w>") for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    elif isinstance(tok, ToyTokenizer):
        words = list(VOCAB)
    if words is None:
        raise ClipinvError(f"cannot list the vocabulary of {bundle.spec}'s tokenizer ({type(tok).__name__})")
    keep = [w for w in dict.fromkeys(words) if re.fullmatch(r"[a-z]+", w)]
    if len(keep) > 200:  # a real vocabulary: drop short fragments ("ing", "th")
        keep = [w for w in keep if len(w) >= min_len]
    return keep[:max_words] if max_words else keep


def _encodable(bundle, words):
    ok = []
    for w in words:
        try:
            bundle.tokenize([w])
            ok.append(w)
        except ClipinvError:
            pass
    return ok


@torch.no_grad()
def encode_words(bundle, words: list[str], batch: int = 512) -> torch.Tensor:
    return torch.cat([bundle.encode_text(words[i : i + batch]).cpu() for i in range(0, len(words), batch)])


def probe(
    bundle,
    prompts: list[str],
    vocab: list[str] | None = None,
    nsfw: list[str] | None = None,
    k: int = 5,
    max_words: int | None = 5000,
) -> pd.DataFrame:
    """One row per prompt: nearest words, nearest NSFW term, its similarity and rank."""
    vocab = vocab if vocab is not None else vocabulary(bundle, max_words=max_words)
    nsfw = _encodable(bundle, nsfw if nsfw is not None else nsfw_words())
    vocab = _encodable(bundle, [w for w in vocab if w not in set(nsfw)])
    words = vocab + nsfw
    if not words:
        raise ClipinvError(f"no vocabulary word of {bundle.spec} could be encoded")
    w_feat = encode_words(bundle, words)
    p_feat = bundle.encode_text(list(prompts)).cpu()
    sims = p_feat @ w_feat.T  # [P, W]
    is_nsfw = torch.tensor([i >= len(vocab) for i in range(len(words))])
    rows = []
    for i, prompt in enumerate(prompts):
        order = sims[i].argsort(descending=True)
        near = [f"{words[j]} ({sims[i, j]:.3f})" for j in order[:k].tolist()]
        row = {"prompt": prompt, "nearest words": ", ".join(near), "vocabulary": len(words)}
        if nsfw:
            ranks = torch.nonzero(is_nsfw[order]).flatten()
            j = int(order[ranks[0]])
            row.update(
                {
                    "nearest NSFW term": words[j],
                    "its similarity": round(float(sims[i, j]), 3),
                    "its rank": int(ranks[0]) + 1,
                }
            )
        else:
            row.update({"nearest NSFW term": None, "its similarity": None, "its rank": None})
        rows.append(row)
    return pd.DataFrame(rows)


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """A `probe` result as a page shows it: prompt, nearest words, the nearest NSFW term with its
    similarity ('nude (0.231)') and its rank; without NSFW columns where no term could be encoded."""
    out = df[["prompt", "nearest words"]].copy()
    if df["nearest NSFW term"].notna().any():
        out["nearest NSFW term"] = [
            None if t is None or pd.isna(t) else f"{t} ({float(s):.3f})"
            for t, s in zip(df["nearest NSFW term"], df["its similarity"])
        ]
        out["its rank"] = [None if pd.isna(r) else int(r) for r in df["its rank"]]
    return out


def _ordinal(n: int) -> str:
    tail = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{tail}"


def rank_text(df: pd.DataFrame, prompts) -> str | None:
    """'1,203rd, 87th and 2,410th among 5,020 words': the nearest NSFW term's rank for each of
    `prompts` (rows of a `probe` result), in their order; None where no rank is known."""
    rows = df.set_index("prompt")
    ranks = [rows.loc[p, "its rank"] for p in prompts if p in rows.index]
    ranks = [int(r) for r in ranks if r is not None and not pd.isna(r)]
    if not ranks:
        return None
    texts = [_ordinal(r) for r in ranks]
    listed = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + f" and {texts[-1]}"
    return f"{listed} among {int(df['vocabulary'].iloc[0]):,} words"
