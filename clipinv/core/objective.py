"""What an inversion optimises: text targets that add, scale and negate, and the regularisers.

A target is a weighted set of prompts (lucent's objective algebra)::

    Prompt("a panda") + Prompt("a mad scientist")          # concept blending, weights 1 and 1
    0.7 * Prompt("a landscape") - 0.3 * Prompt("a person")  # a negative prompt

The distance term of one image is ``sum_j w_j * mean_copies ||v/|v| - t_j/|t_j|||_2`` (the
paper's loss for a single prompt of weight 1): positive weights pull the image towards a prompt,
negative weights push it away. A plain string is ``Prompt(string)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from clipinv.errors import ClipinvError


@dataclass(frozen=True)
class Prompt:
    """A weighted sum of prompts; `terms` is a tuple of (weight, text)."""

    terms: tuple[tuple[float, str], ...]

    def __init__(self, text_or_terms):
        if isinstance(text_or_terms, str):
            terms = ((1.0, text_or_terms),)
        else:
            terms = tuple((float(w), t) for w, t in text_or_terms)
        for w, t in terms:
            if not isinstance(t, str) or not t.strip():
                raise ClipinvError(f"prompt {t!r} is empty: give a non-blank prompt")
            if not torch.isfinite(torch.tensor(w)):
                raise ClipinvError(f"weight {w} of prompt {t!r} is not finite: give a finite number")
        if not any(w > 0 for w, _ in terms):
            raise ClipinvError("a target needs at least one prompt of positive weight")
        object.__setattr__(self, "terms", terms)

    def __add__(self, other):
        return Prompt(self.terms + as_prompt(other).terms)

    def __radd__(self, other):
        return as_prompt(other) + self

    def __sub__(self, other):
        return Prompt(self.terms + tuple((-w, t) for w, t in as_prompt(other).terms))

    def __mul__(self, k: float):
        return Prompt(tuple((w * k, t) for w, t in self.terms))

    __rmul__ = __mul__

    def __str__(self):
        if len(self.terms) == 1 and self.terms[0][0] == 1.0:
            return self.terms[0][1]
        return " ".join(f"{'+' if w >= 0 else '-'}{abs(w):g}*[{t}]" for w, t in self.terms).lstrip("+")

    @property
    def texts(self) -> list[str]:
        return [t for _, t in self.terms]

    @property
    def weights(self) -> list[float]:
        return [w for w, _ in self.terms]


def as_prompt(p) -> Prompt:
    if isinstance(p, Prompt):
        return p
    if isinstance(p, str):
        return Prompt(p)
    raise ClipinvError(f"a prompt must be a string or a clipinv.Prompt, not {type(p).__name__}")


def blend(*texts: str, weights=None) -> Prompt:
    """Equal-weight (or weighted) blend of several prompts."""
    weights = weights or [1.0 / len(texts)] * len(texts)
    return Prompt(tuple(zip(weights, texts)))


def target_features(bundle, prompts: list[Prompt], truncate: bool = False):
    """Pad each target to K terms: features [P, K, D] (unit norm) and weights [P, K] (0 = padding)."""
    k = max(len(p.terms) for p in prompts)
    feats = []
    weights = torch.zeros(len(prompts), k)
    for i, p in enumerate(prompts):
        f = bundle.encode_text(p.texts, truncate=truncate)
        feats.append(torch.cat([f, f[:1].expand(k - len(p.terms), -1)]))
        weights[i, : len(p.terms)] = torch.tensor(p.weights)
    return torch.stack(feats), weights.to(feats[0].device)


def distance(features: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """features [B, C, D] (unit norm), targets [B, K, D], weights [B, K] -> [B] distance term."""
    d = (features[:, :, None, :] - targets[:, None, :, :]).norm(dim=-1)  # [B, C, K]
    return (d.mean(dim=1) * weights).sum(dim=1)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """The paper's TV, per image: for each of four directions (horizontal, vertical, both
    diagonals) the L2 norm over H x W of the neighbour differences, averaged over channels, then
    summed over directions. x [B, C, H, W] -> [B]. Its size grows with resolution, as coded."""
    diffs = (
        x[:, :, :, 1:] - x[:, :, :, :-1],
        x[:, :, 1:, :] - x[:, :, :-1, :],
        x[:, :, 1:, 1:] - x[:, :, :-1, :-1],
        x[:, :, 1:, :-1] - x[:, :, :-1, 1:],
    )
    return sum(d.norm(dim=(2, 3)).mean(dim=1) for d in diffs)


def l1(x: torch.Tensor) -> torch.Tensor:
    """The paper's L1 term, per image: the L1 norm of the pixels (sum of absolute values). x [B,...] -> [B]."""
    return x.abs().flatten(1).sum(dim=1)
