"""`ModelBundle`: a frozen CLIP with its tokenizer, input size and normalisation, as inversion and
judging use it; `weights_hash` identifies its weights, `engine` what computes its inversions by default.
`clipinv.models.load.load_model` makes them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from clipinv.core.transform import Normalize
from clipinv.errors import ClipinvError


@dataclass(eq=False)
class ModelBundle:
    """A frozen CLIP with everything inversion and judging need."""

    model: nn.Module  # has encode_image(normalised pixels) and encode_text(tokens)
    tokenizer: Callable[..., torch.Tensor]  # tokenizer(texts, context_length=None) -> LongTensor
    spec: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    context_length: int
    weights_hash: str
    default_recipe: Any = None  # a clipinv.Recipe, or None for the paper's
    card: dict = field(default_factory=dict)
    # what computes this model's inversions when `invert` names no engine (None: this process), as
    # `device` is where; a book section sets its own (Ray, or a plan's `clipinv.runs.planning`)
    engine: Any = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def is_stand_in(self) -> bool:
        """True for models whose outputs do not show what a pretrained CLIP does."""
        return self.spec.endswith(":random") or self.spec.startswith("toy") or "world" in self.card

    def to(self, device) -> ModelBundle:
        self.model.to(device)
        return self

    def count_tokens(self, text: str) -> int:
        """Tokens the prompt takes, start and end tokens included."""
        ids = self.tokenizer([text], context_length=max(1024, 8 * len(text) + 8))
        return int((ids != 0).sum())

    def unknown_words(self, text: str) -> list[str]:
        """Words of `text` this model never read in training (only a world's model, whose captions are
        known, can say; any other model: none). The prompt still tokenises: they are read as padding."""
        unknown = getattr(self.tokenizer, "unknown_words", None)
        return unknown(text) if unknown else []

    def unknown_words_note(self, texts) -> str | None:
        """One line naming the words of `texts` the model never read, or None."""
        words = list(dict.fromkeys(w for t in texts for w in self.unknown_words(t)))
        if not words:
            return None
        listed = ", ".join(repr(w) for w in words[:6]) + (" ..." if len(words) > 6 else "")
        return f"{self.spec} never read {listed} in training: it sees the prompt without them"

    def tokenize(self, texts: list[str], truncate: bool = False) -> torch.Tensor:
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ClipinvError(f"prompt {text!r} is empty: give a non-blank prompt")
            if not truncate:
                n = self.count_tokens(text)
                if n > self.context_length:
                    raise ClipinvError(
                        f"prompt {text[:40]!r}... takes {n} tokens but {self.spec} reads at most "
                        f"{self.context_length}: shorten it or pass truncate=True (--truncate)"
                    )
        return self.tokenizer(texts, context_length=self.context_length)

    @torch.no_grad()
    def encode_text(self, texts: list[str], truncate: bool = False) -> torch.Tensor:
        """Unit-norm text features, fp32, shape [len(texts), D]."""
        tokens = self.tokenize(list(texts), truncate=truncate).to(self.device)
        feats = self.model.encode_text(tokens).float()
        return feats / feats.norm(dim=-1, keepdim=True)

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """[0,1] pixels at the model's size -> the model's input."""
        return Normalize(self.mean, self.std).to(pixels.device)(pixels)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unit-norm image features of [N,3,H,W] pixels in [0,1] (resized to the input size)."""
        if pixels.shape[-1] != self.image_size or pixels.shape[-2] != self.image_size:
            pixels = torch.nn.functional.interpolate(
                pixels, size=(self.image_size, self.image_size), mode="bicubic", align_corners=False
            )
        feats = self.model.encode_image(self.normalise(pixels)).float()
        return feats / feats.norm(dim=-1, keepdim=True)

    @property
    def logit_scale(self) -> float:
        scale = getattr(self.model, "logit_scale", None)
        return float(scale.exp()) if scale is not None else 100.0


def weights_hash(model: nn.Module) -> str:
    """sha256 over the state dict (names, shapes, dtypes, bytes): identifies weights, not files."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
