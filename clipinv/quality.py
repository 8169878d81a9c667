"""Judged quality of inversions: invert prompts, ask an independent judge what each image shows.

An inversion of prompt i is *judged correct* when a zero-shot judge (a CLIP that is not the
inverted model) picks label i among `labels` (default: the prompts themselves, so the question is
"which of these prompts made this image?"). Reported per image with the final similarity under the
inverted model and under the judge, and summarised per group with 95% intervals (Wilson for the
accuracy, Student-t over seeds for the similarities).
"""

from __future__ import annotations

import pandas as pd
import torch

from .errors import ClipinvError
from .invert import invert
from .judge import judge as zero_shot
from .judge import similarity
from .stats import mean_ci, rate
from .toy.world import class_prompts


def toy_labels() -> tuple[list[str], dict]:
    """The toy world's 24 colour x shape prompts, and the label index of each prompt."""
    prompts, _ = class_prompts()
    return prompts, {p: i for i, p in enumerate(prompts)}


def judge_images(
    images: torch.Tensor,
    prompts: list[str],
    judge,
    labels: list[str] | None = None,
    truth: list[int] | None = None,
    template: str = "{}",
) -> pd.DataFrame:
    """Per-image judgement of images [P, S, 3, H, W] made from `prompts` (P of them)."""
    labels = list(labels) if labels is not None else list(prompts)
    if truth is None:
        missing = [p for p in prompts if p not in labels]
        if missing:
            raise ClipinvError(f"prompt(s) {missing[:3]} are not among the judge's labels: pass truth=")
        truth = [labels.index(p) for p in prompts]
    if len(labels) < 2:
        raise ClipinvError("judging needs at least two labels (with one, every image is 'correct')")
    probs = zero_shot(images, labels, judge=judge, template=template)  # [P, S, L]
    own = similarity(judge, images, list(prompts))  # [P, S, P]
    rows = []
    for i, prompt in enumerate(prompts):
        for s in range(images.shape[1]):
            pick = int(probs[i, s].argmax())
            rows.append(
                {
                    "prompt": prompt,
                    "seed_index": s,
                    "judged": labels[pick],
                    "correct": pick == truth[i],
                    "p_true": float(probs[i, s, truth[i]]),
                    "judge_similarity": float(own[i, s, i]),
                }
            )
    return pd.DataFrame(rows)


def evaluate(
    model,
    judge,
    prompts: list[str],
    seeds,
    recipe=None,
    labels: list[str] | None = None,
    truth: list[int] | None = None,
    template: str = "{}",
    progress: bool = True,
    cache=True,
):
    """Invert `prompts` x `seeds` with `model`, judge with `judge`. Returns (Inversion, per-image frame)."""
    same = judge is model or getattr(judge, "weights_hash", None) == getattr(model, "weights_hash", 0)
    if same and not getattr(model, "is_stand_in", False):  # stand-ins (ARCH:random in tests) may judge themselves
        raise ClipinvError("the judge is the inverted model: judge with an independent model (e.g. toy-judge)")
    inv = invert(model, list(prompts), seeds=seeds, recipe=recipe, progress=progress, cache=cache)
    df = judge_images(inv.images, list(prompts), judge, labels=labels, truth=truth, template=template)
    df["seed"] = [inv.seeds[s] for s in df["seed_index"]]
    df["similarity"] = inv.similarity.reshape(-1).tolist()
    return inv, df


def summary(df: pd.DataFrame, by) -> pd.DataFrame:
    """Per group: judged accuracy with its Wilson interval, similarities with t intervals."""
    rows = []
    for key, g in df.groupby(by, sort=False):
        acc = rate(g["correct"])
        sim = mean_ci(g["similarity"])
        jsim = mean_ci(g["judge_similarity"])
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip([by] if isinstance(by, str) else by, key)),
                "n": acc["n"],
                "judged correct": acc["rate"],
                "acc low": acc["low"],
                "acc high": acc["high"],
                "similarity": sim["mean"],
                "sim low": sim["low"],
                "sim high": sim["high"],
                "judge similarity": jsim["mean"],
                "jsim low": jsim["low"],
                "jsim high": jsim["high"],
            }
        )
    return pd.DataFrame(rows)
