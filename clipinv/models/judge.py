"""Zero-shot judging: which of some labels a CLIP thinks each image shows.

Always judge with a model that is not the one inverted (a model judging its own inversions is
biased): `toy-judge` for `toy`, another checkpoint for a real CLIP.
"""

from __future__ import annotations

import torch

from clipinv.errors import ClipinvError


@torch.no_grad()
def similarity(model, images: torch.Tensor, texts: list[str], batch: int = 256) -> torch.Tensor:
    """Cosine similarity of each image to each text: images [..., 3, H, W] in [0, 1] -> [..., T]."""
    if images.dim() < 3 or images.shape[-3] != 3:
        raise ClipinvError(f"images must be [..., 3, H, W], got shape {tuple(images.shape)}")
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:]).float()
    text = model.encode_text(list(texts))
    out = []
    for i in range(0, flat.shape[0], batch):
        out.append(model.encode_image(flat[i : i + batch].to(model.device)) @ text.T)
    return torch.cat(out).cpu().view(*lead, len(texts))


def judge(images: torch.Tensor, labels: list[str], judge, template: str = "{}") -> torch.Tensor:
    """Zero-shot probabilities of `labels` for each image: [..., 3, H, W] -> [..., L] (rows sum to 1).

    `template` turns a label into a prompt, e.g. "a photo of a {}"."""
    if not labels:
        raise ClipinvError("judge needs at least one label")
    prompts = [template.format(label) for label in labels]
    return (judge.logit_scale * similarity(judge, images, prompts)).softmax(dim=-1)
