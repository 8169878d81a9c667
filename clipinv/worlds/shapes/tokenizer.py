"""A word-level tokenizer for the toy world's small vocabulary.

Ids: 0 is padding only, 1 the start token, then the words, and the end token last (the largest id:
open_clip's text tower pools at the argmax of the ids). Words outside the vocabulary raise a
one-line `ClipinvError` naming them, so a prompt is never silently changed.
"""

from __future__ import annotations

import re

import torch

from clipinv.errors import ClipinvError
from clipinv.worlds.shapes.world import VOCAB

PAD, SOT = 0, 1
WORD_ID = {w: i + 2 for i, w in enumerate(VOCAB)}
EOT = len(VOCAB) + 2
VOCAB_SIZE = EOT + 1
CONTEXT_LENGTH = 12


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


class ToyTokenizer:
    """tokenizer(texts, context_length=None) -> LongTensor [N, ctx], zero-padded."""

    def __init__(self, context_length: int = CONTEXT_LENGTH):
        self.context_length = context_length
        self.vocab_size = VOCAB_SIZE

    def encode(self, text: str) -> list[int]:
        ws = words(text)
        unknown = [w for w in ws if w not in WORD_ID]
        if unknown:
            raise ClipinvError(
                f"the toy world has no word(s) {', '.join(repr(w) for w in dict.fromkeys(unknown))}: "
                f"its vocabulary is {' '.join(VOCAB)}"
            )
        return [SOT] + [WORD_ID[w] for w in ws] + [EOT]

    def __call__(self, texts, context_length: int | None = None) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        ctx = context_length or self.context_length
        out = torch.zeros(len(texts), ctx, dtype=torch.long)
        for i, t in enumerate(texts):
            ids = self.encode(t)
            if len(ids) > ctx:  # truncate, keeping the end token last
                ids = ids[: ctx - 1] + [EOT]
            out[i, : len(ids)] = torch.tensor(ids)
        return out

    def decode(self, ids) -> str:
        inv = {v: k for k, v in WORD_ID.items()}
        return " ".join(inv[int(i)] for i in ids if int(i) in inv)
