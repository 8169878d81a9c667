"""open_clip's BPE tokenizer, with its 49,408 ids mapped onto the few hundred the emoji world's
captions use, so the models carry a compact embedding table. Any English prompt tokenises; pieces the
world never used map to padding. `unknown_words` names the words with a piece the model's training
captions never held: all the world's captions, or for a model trained on fewer (`reading`), those."""

from __future__ import annotations

import copy
import re

import torch

from clipinv.worlds.emoji.world import TEMPLATES, article

CONTEXT = 16  # tokens a caption may take, start and end included
BPE_VOCAB = 49408


class EmojiTokenizer:
    def __init__(self, names):
        import open_clip

        self.bpe = open_clip.tokenizer.SimpleTokenizer(context_length=CONTEXT)
        captions = [t.format(article(n)) for n in names for t in TEMPLATES]
        used = sorted(set(self.bpe(captions).flatten().tolist()) | {0})
        self.map = torch.zeros(BPE_VOCAB, dtype=torch.long)
        self.map[torch.tensor(used)] = torch.arange(len(used))
        self.bpe_ids = used  # compact id -> open_clip's id
        self.vocab_size = len(used)
        self.context_length = CONTEXT
        self.read = frozenset(used) - {0}  # the BPE ids the training captions held (0: padding)

    def __call__(self, texts, context_length: int | None = None) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        n = context_length or CONTEXT
        return self.map[self.bpe(texts, context_length=n)]

    def decode(self, ids) -> str:
        """Compact ids -> text (padding dropped), through open_clip's BPE decoder."""
        return self.bpe.decode([self.bpe_ids[int(i)] for i in ids if int(i) != 0])

    def reading(self, captions) -> EmojiTokenizer:
        """This tokenizer, with the same ids, for a model whose training read only `captions` (tokenised as
        its training tokenised them): its `unknown_words` names every word with a piece none of them held."""
        twin = copy.copy(self)
        twin.read = frozenset(self.bpe(list(captions)).flatten().tolist()) & self.read
        return twin

    def unknown_words(self, text: str) -> list[str]:
        """The words of `text` with a BPE piece no training caption held (the model never read them)."""
        words = re.findall(r"[\w'-]+", text.lower())
        return [w for w in words if any(i not in self.read for i in self.bpe.encode(w))]
