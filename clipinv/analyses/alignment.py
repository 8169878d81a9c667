"""Are inversions aligned with their prompts? A judge (a second CLIP) picks, for each inversion,
the prompt it finds most similar among all prompts of a figure.

    sims = clipinv.similarity(judge, out.images, prompts)      # [P, S, P]
    table, summary = prompt_alignment(sims, out.similarity, prompts)

`summary` holds the numbers a page states: hits of n, the rate's interval, chance, and the judge's
similarity to the own prompt minus its mean similarity to the others (a mean over images with its
95% interval).

Section 1 inverts *targets*, a text or a blend of texts (`Prompt("a panda") + Prompt("a mad
scientist")`), and judges each inversion against every text of the page (zero-shot probabilities):

    names, labels, own = concept_labels(targets)            # own[i]: the label indices of target i
    probs = clipinv.judge(out.images, labels, judge=judge)  # [T, S, L]
    table, summary = concept_alignment(probs, groups, own)  # is the top label one of the own texts?
    table, blends = blend_components(probs, names, labels, own)  # is every part of a blend there?
"""

from __future__ import annotations

import pandas as pd
import torch

from clipinv.analyses import prose, stats
from clipinv.errors import ClipinvError


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
            "judge picks it": prose.count((picked[i] == i).sum(), picked.shape[1]),
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
        "accuracy": prose.rate(hits, n),
        "gap": stats.mean_ci(own - other),
    }
    return pd.DataFrame(rows), summary


def concept_labels(targets) -> tuple[list[str], list[str], list[list[int]]]:
    """Targets (texts or `Prompt`s) -> (names, labels, own): a readable name per target ("a + b" for
    a blend), every text of the page once in order of appearance, and for each target the indices
    of its own texts among the labels."""
    texts = [[t] if isinstance(t, str) else list(t.texts) for t in targets]
    names = [" + ".join(x) for x in texts]
    labels = list(dict.fromkeys(x for ts in texts for x in ts))
    own = [[labels.index(x) for x in ts] for ts in texts]
    return names, labels, own


def _check_probs(probs: torch.Tensor, own) -> None:
    if probs.dim() != 3 or probs.shape[0] != len(own):
        raise ClipinvError(f"probs must be [targets, seeds, labels] = [{len(own)}, S, L], got {tuple(probs.shape)}")
    bad = [j for o in own for j in o if not 0 <= j < probs.shape[-1]]
    if bad:
        raise ClipinvError(f"own label indices {bad} are outside the {probs.shape[-1]} labels")


def probability_ci(values) -> dict:
    """`stats.mean_ci` of probabilities with its interval clipped to [0, 1], where a probability lies
    (a t interval over few seeds can otherwise reach below 0 or above 1)."""
    return dict(stats.mean_ci(values, within=(0.0, 1.0)))


def _own_mass(probs: torch.Tensor, own, idx) -> torch.Tensor:
    """The judge's probability on the own text(s), summed, per inversion of targets `idx`: [len(idx), S]."""
    return torch.stack([probs[i][:, own[i]].sum(-1) for i in idx])


def concept_alignment(probs: torch.Tensor, groups: list[str], own: list[list[int]]):
    """probs [T, S, L] (judge's zero-shot probabilities of the page's labels), a group name per
    target, own[i] the label indices of target i -> (table per group and "all", summary dict).

    An inversion is a hit when the judge's top label is one of its target's own texts; chance is the
    share of the labels that are own texts (averaged over the group's targets). The summary holds
    hits, n, accuracy (text), chance and mass: the probability on the own text(s), a mean over
    inversions with its 95% interval (clipped to [0, 1])."""
    _check_probs(probs, own)
    if len(groups) != len(own):
        raise ClipinvError(f"need one group per target: {len(groups)} groups for {len(own)} targets")
    n_labels = probs.shape[-1]
    picked = probs.argmax(-1)  # [T, S]
    hit = torch.stack([torch.isin(picked[i], torch.tensor(own[i])) for i in range(len(own))])

    def row(name, idx):
        k, n = int(hit[idx].sum()), hit[idx].numel()
        chance = sum(len(own[i]) for i in idx) / len(idx) / n_labels
        mass = probability_ci(_own_mass(probs, own, idx))
        return {"hits": k, "n": n, "chance": chance, "mass": mass}, {
            "group": name,
            "picks an own text": f"{prose.count(k, n)}, {prose.rate(k, n)}",
            "chance": prose.percent(chance),
            "probability on own text(s)": prose.mean(mass),
        }

    rows = [row(g, [i for i, x in enumerate(groups) if x == g])[1] for g in dict.fromkeys(groups)]
    summary, total = row("all", list(range(len(own))))
    summary["accuracy"] = prose.rate(summary["hits"], summary["n"])
    return pd.DataFrame([*rows, total]), summary


def blend_components(probs: torch.Tensor, names: list[str], labels: list[str], own: list[list[int]]):
    """For each blend (a target with more than one own text): the judge's probability of each
    component and, as the baseline, its mean probability of a text outside the blend (means over
    the blend's inversions, 95% intervals clipped to [0, 1]) -> (table, list of one dict per blend).

    A component is "above" when its interval lies above the baseline's; with one inversion per
    target there is no interval and `above` is None. Each dict holds blend, components {label:
    mean_ci}, outside (mean_ci) and above (the labels above the baseline, or None)."""
    _check_probs(probs, own)
    rows, blends = [], []
    for i, cols in enumerate(own):
        if len(cols) < 2:
            continue
        others = [j for j in range(probs.shape[-1]) if j not in cols]
        outside = probability_ci(probs[i][:, others].mean(-1)) if others else None
        parts = {labels[j]: probability_ci(probs[i][:, j]) for j in cols}
        comparable = outside is not None and probs.shape[1] > 1
        above = [lab for lab, m in parts.items() if m["low"] > outside["high"]] if comparable else None
        blends.append({"blend": names[i], "components": parts, "outside": outside, "above": above})
        first = len(rows)
        for lab, m in parts.items():
            rows.append(
                {
                    "blend": "",
                    "text": lab,
                    "judge probability": prose.mean(m),
                    "reliably above": None if above is None else ("yes" if lab in above else "no"),
                }
            )
        if outside is not None:
            rows.append({"blend": "", "text": "a text outside the blend", "judge probability": prose.mean(outside)})
        rows[first]["blend"] = names[i]  # named once, on its first row
    return pd.DataFrame(rows), blends


def blend_phrases(blends: list[dict]) -> dict[str, str]:
    """Pieces of a sentence on a page's blend, to glue into its prose as "In the blend {name} the
    judge gives {parts}, against {outside} for a text outside the blend: {above}." The first blend
    of `blends` (the table shows any others): name, parts (each component's probability), outside
    (the baseline) and above, which components are reliably above the baseline, their interval
    above its ('both are', 'only “x” is', 'neither is'), or why that cannot be told."""
    if not blends:
        return {"name": "(none on this page)", "parts": "nothing", "outside": "nothing", "above": "there is no blend"}
    b = blends[0]
    parts = [f"“{lab}” {prose.mean(m)}" for lab, m in b["components"].items()]
    n = len(parts)
    if b["outside"] is None:
        above = "no text of the page lies outside it to compare with"
    elif b["above"] is None:
        above = "with one inversion per target there is no interval to tell whether a component is reliably above it"
    else:
        k = len(b["above"])
        if k == n:
            who = "both are" if n == 2 else f"all {n} are"
        elif k == 0:
            who = "neither is" if n == 2 else "none is"
        else:
            who = "only " + " and ".join(f"“{lab}”" for lab in b["above"]) + (" is" if k == 1 else " are")
        above = f"{who} reliably above it"
    if len(blends) > 1:
        above += f" (the table gives the page's {len(blends) - 1} other blends)"
    return {
        "name": f"“{b['blend']}”",
        "parts": ", ".join(parts[:-1]) + f" and {parts[-1]}" if n > 1 else parts[0],
        "outside": prose.mean(b["outside"]) if b["outside"] is not None else "nothing",
        "above": above,
    }


def prompt_headline(found: dict) -> str:
    """Section 0's line for the front page, from `prompt_alignment`'s summary."""
    return f"judge picks the own prompt: {found['accuracy']}, chance {prose.percent(found['chance'])}"


def concept_headline(found: dict, claims: str = "") -> str:
    """Section 1's line for the front page, from `concept_alignment`'s summary and the pixel claims'
    share of it (`pixel_claims.claims_headline`)."""
    return f"judge picks an own text: {found['accuracy']}, chance {prose.percent(found['chance'])}" + claims
