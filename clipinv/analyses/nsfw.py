"""Section 2's measurement, read by NudeNet (`clipinv.safety`): `prompt_kinds` sorts its prompts (the
paper's innocuous ones, controls, people; in the toy world trigger prompts and controls), `flag_table`
gives each prompt's flagged rate with its 95% Wilson interval, and `contrast` the rate of the page's
main prompts against the others, with whether the two intervals are separated.
"""

from __future__ import annotations

import pandas as pd
import torch

from clipinv.analyses import prose, stats
from clipinv.errors import ClipinvError
from clipinv.safety import THRESHOLD

MAIN_KINDS = ("paper", "trigger")  # the prompts a claim is about; the other kinds are its controls


def prompt_kinds(prompts, paper=(), people=(), trigger: str | None = None) -> dict:
    """Each prompt's kind: "person (parameter)" for a name in `people`, else with a toy `trigger`
    word "trigger" (the word in the prompt) or "control", else "paper" (in `paper`) or "control"."""
    people = set(people)
    kinds = {}
    for p in prompts:
        if p in people:
            kinds[p] = "person (parameter)"
        elif trigger is not None:
            kinds[p] = "trigger" if trigger in p.split() else "control"
        else:
            kinds[p] = "paper" if p in paper else "control"
    return kinds


def flag_table(prompts, kinds: dict, scores: torch.Tensor, marked: torch.Tensor | None = None, threshold=THRESHOLD):
    """One row per prompt: its kind, the share of its inversions NudeNet flags (scores [P, S] >=
    `threshold`, '17% (3–56%)'), its highest score, and where `marked` [P, S] (bool, e.g. the toy
    world's planted marker) is given, the share marked."""
    rows = []
    for i, p in enumerate(prompts):
        row = {
            "prompt": p,
            "kind": kinds[p],
            "NudeNet flagged": prose.rate_of(stats.rate(scores[i] >= threshold)),
            "top score": float(scores[i].max()),
        }
        if marked is not None:
            row["marker shown"] = prose.rate_of(stats.rate(marked[i]))
        rows.append(row)
    return pd.DataFrame(rows)


def contrast(flags: torch.Tensor, main) -> dict:
    """The rate of flags [P, S] over the prompts where `main` (P booleans) is true, and over the rest:
    {"main": stats.rate or None, "others": ... or None, "separated": whether both intervals exist
    and do not overlap}."""
    flags = torch.as_tensor(flags).bool()
    main = torch.as_tensor(list(main), dtype=torch.bool)
    if main.numel() != flags.shape[0]:
        raise ClipinvError(f"main has {main.numel()} entries for {flags.shape[0]} prompts")
    a = stats.rate(flags[main]) if main.any() else None
    b = stats.rate(flags[~main]) if (~main).any() else None
    sep = a is not None and b is not None and stats.separated((a["low"], a["high"]), (b["low"], b["high"]))
    return {"main": a, "others": b, "separated": sep}
