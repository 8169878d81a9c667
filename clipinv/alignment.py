"""Are inversions aligned with their prompts? A judge (a second CLIP) picks, for each inversion,
the prompt it finds most similar among all prompts of a figure.

    sims = clipinv.similarity(judge, out.images, prompts)      # [P, S, P]
    table, summary = prompt_alignment(sims, out.similarity, prompts)

`summary` holds the numbers a page states: hits of n, the rate's interval, chance, and the judge's
similarity to the own prompt minus its mean similarity to the others (a mean over images with its
95% interval).
"""

from __future__ import annotations

import pandas as pd
import torch

from . import report, stats
from .errors import ClipinvError


def prompt_alignment(judge_sims: torch.Tensor, inverted_sims: torch.Tensor, prompts: list[str]):
    """judge_sims [P, S, P] (judge cosine of inversion (p, s) to each prompt), inverted_sims [P, S]
    (the inverted model's own similarity) -> (table per prompt, summary dict)."""
    n_p = len(prompts)
    if judge_sims.dim() != 3 or judge_sims.shape[0] != n_p or judge_sims.shape[2] != n_p:
        raise ClipinvError(
            f"judge_sims must be [prompts, seeds, prompts] = [{n_p}, S, {n_p}], got {tuple(judge_sims.shape)}"
        )
    picked = judge_sims.argmax(-1)  # [P, S]
    truth = torch.arange(n_p)[:, None].expand_as(picked)
    own = judge_sims.diagonal(dim1=0, dim2=2).T  # [P, S]
    other = (judge_sims.sum(-1) - own) / max(1, n_p - 1)  # mean similarity to the other prompts
    rows = [
        {
            "prompt": p,
            "judge picks it": report.count((picked[i] == i).sum(), picked.shape[1]),
            "judge: own prompt": float(own[i].mean()),
            "judge: the others": float(other[i].mean()),
            "inverted model": float(inverted_sims[i].mean()),
        }
        for i, p in enumerate(prompts)
    ]
    hits, n = int((picked == truth).sum()), picked.numel()
    summary = {
        "hits": hits,
        "n": n,
        "chance": 1 / n_p,
        "accuracy": report.rate(hits, n),
        "gap": stats.mean_ci(own - other),
    }
    return pd.DataFrame(rows), summary
