"""The toy CLIP's training losses: a soft contrastive loss (images with the same caption are all
positives), and the same loss with shapes that do not depend on the batch's captions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_clip_loss(
    img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, caption_index: torch.Tensor
) -> torch.Tensor:
    """Symmetric contrastive loss over the batch's unique captions: image i's positive is its
    caption (txt row caption_index[i]); a caption's targets spread over every image it describes."""
    logits = scale * img @ txt.T  # [B, U]
    i2t = F.cross_entropy(logits, caption_index)
    same = F.one_hot(caption_index, txt.shape[0]).float().T  # [U, B]
    target = same / same.sum(dim=1, keepdim=True)
    t2i = -(target * logits.T.log_softmax(dim=1)).sum(1).mean()
    return 0.5 * (i2t + t2i)


def fixed_shape_clip_loss(
    img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, caption_index: torch.Tensor, first: torch.Tensor
) -> torch.Tensor:
    """`soft_clip_loss` with shapes that do not depend on the batch's captions, so a CUDA graph can
    capture it: txt holds every caption of the batch, repeats included ([B, D]); caption_index[i] is
    the row where image i's caption first occurs, `first` marks those rows. Repeated rows are masked
    out of the image-to-text softmax and carry no text-to-image term, so this is soft_clip_loss over
    the unique captions."""
    logits = scale * img @ txt.T  # [B images, B caption rows]
    i2t = F.cross_entropy(logits.masked_fill(~first, float("-inf")), caption_index)
    rows = torch.arange(txt.shape[0], device=txt.device)
    same = (caption_index[None, :] == rows[:, None]).float()  # [B caption rows, B images]; repeats: all 0
    target = same / same.sum(dim=1, keepdim=True).clamp(min=1)
    t2i = -(target * logits.T.log_softmax(dim=1)).sum() / first.sum()
    return 0.5 * (i2t + t2i)


def caption_rows(caps: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """For `fixed_shape_clip_loss`: each caption's first row in the batch, and which rows are firsts."""
    first_at: dict[str, int] = {}
    index = [first_at.setdefault(c, i) for i, c in enumerate(caps)]
    return torch.tensor(index), torch.tensor([index[i] == i for i in range(len(caps))])
