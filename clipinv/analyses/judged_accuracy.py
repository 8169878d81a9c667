"""Judged quality of inversions: invert prompts, ask an independent judge what each image shows.

An inversion of prompt i is *judged correct* when a zero-shot judge (a CLIP that is not the
inverted model) picks label i among `labels` (default: the prompts themselves, so the question is
"which of these prompts made this image?"). Reported per image with the final similarity under the
inverted model and under the judge, and summarised per group with 95% intervals (Wilson for the
accuracy, Student-t over seeds for the similarities). `readable` shapes a summary for a page's
table; `extremes` compares its first and last groups (e.g. the least and the most training data).
`evaluate_each` runs `evaluate` for several models on the same prompts and seeds.

Sections 5 and 6 take what they judge in their world from `page_prompts` (the prompts and the judge's
labels), section 5 its models from `compared_models` (a world's data ladder, or real CLIPs).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from clipinv.analyses import prose, stats
from clipinv.analyses.findings import Table
from clipinv.analyses.prompts import JUDGE_LABELS, JUDGED, of_world, spread
from clipinv.analyses.stats import COSINE, mean_ci, rate
from clipinv.core.invert import invert
from clipinv.errors import ClipinvError
from clipinv.models.judge import judge as zero_shot
from clipinv.models.judge import similarity
from clipinv.models.load import load_model
from clipinv.worlds import data_ladder
from clipinv.worlds.shapes.world import class_prompts


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


def evaluate_each(bundles: dict, judge, prompts: list[str], seeds, recipe=None, labels=None, by: str = "model"):
    """`evaluate` for each named model of `bundles` ({name: bundle}) on the same prompts and seeds;
    `recipe` is a recipe or a function of the bundle giving its recipe. Returns ({name: Inversion},
    per-image frame with the name in column `by`)."""
    invs, frames = {}, []
    for name, bundle in bundles.items():
        r = recipe(bundle) if callable(recipe) else recipe
        invs[name], df = evaluate(bundle, judge, prompts, seeds, recipe=r, labels=labels, progress=False)
        df.insert(0, by, name)
        frames.append(df)
    return invs, pd.concat(frames, ignore_index=True)


def summary(df: pd.DataFrame, by) -> pd.DataFrame:
    """Per group: judged accuracy with its Wilson interval, similarities with t intervals."""
    rows = []
    for key, g in df.groupby(by, sort=False):
        acc = rate(g["correct"])
        sim = mean_ci(g["similarity"], within=COSINE)
        jsim = mean_ci(g["judge_similarity"], within=COSINE)
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


def _interval(row, mean: str, low: str, high: str, n: str = "n") -> stats.Estimate:
    return stats.Estimate(int(row[n]), float(row[mean]), float(row[low]), float(row[high]))


def accuracy_of(row) -> stats.Rate:
    """A `summary` row's judged accuracy as a `stats.Rate`."""
    n = int(row["n"])
    return stats.Rate(round(float(row["judged correct"]) * n), n, float(row["acc low"]), float(row["acc high"]))


def similarity_of(row) -> stats.Estimate:
    """A `summary` row's similarity under the inverted model as a `stats.Estimate`."""
    return _interval(row, "similarity", "sim low", "sim high")


def judge_similarity_of(row) -> stats.Estimate:
    """A `summary` row's judge similarity as a `stats.Estimate`."""
    return _interval(row, "judge similarity", "jsim low", "jsim high")


def readable(summ: pd.DataFrame, by: str) -> pd.DataFrame:
    """A `summary` as a page's table: the group, judged correct '50% (19–81%)', and the judge's and
    the inverted model's own similarity '0.673 (0.571–0.775)' (means with their 95% intervals)."""
    return pd.DataFrame(
        [
            {
                by: row[by],
                "judged correct": prose.rate_of(accuracy_of(row)),
                "judge similarity": prose.mean(judge_similarity_of(row)),
                "own similarity": prose.mean(similarity_of(row)),
            }
            for _, row in summ.iterrows()
        ]
    )


def extremes(summ: pd.DataFrame) -> dict:
    """The first and last rows of a `summary` compared: {"first", "last"} (the rows), their
    accuracies and judge similarities ({"accuracy": (first, last), "judge similarity": (first, last)})
    and, for each, whether the two 95% intervals are separated ({"separated": {...}}); "verdict"
    says in words which differences resolve."""
    first, last = summ.iloc[0], summ.iloc[-1]
    acc = (accuracy_of(first), accuracy_of(last))
    jsim = (judge_similarity_of(first), judge_similarity_of(last))
    sep = {
        name: len(summ) > 1 and stats.separated((a["low"], a["high"]), (b["low"], b["high"]))
        for name, (a, b) in (("accuracy", acc), ("judge similarity", jsim))
    }
    return {
        "first": first,
        "last": last,
        "accuracy": acc,
        "judge similarity": jsim,
        "separated": sep,
        "verdict": _verdict(sep, len(summ)),
    }


def _verdict(separated: dict, groups: int) -> str:
    if groups < 2:
        return "there is only one model on this page, so nothing to compare"
    resolved = [name for name, sep in separated.items() if sep]
    if len(resolved) == len(separated):
        return "both differences resolve at this sample size: neither pair of 95% intervals overlaps"
    if resolved:
        other = next(name for name in separated if name not in resolved)
        return (
            f"only the {resolved[0]} difference resolves at this sample size: its 95% intervals do not overlap, "
            f"those of the {other} do"
        )
    return "neither difference resolves at this sample size: both pairs of 95% intervals overlap"


# ---------------------------------------------------------------- what sections 5 and 6 judge, per world
def page_prompts(world: str, prompts=None, n_prompts: int = 8) -> tuple[list[str], list[str] | None]:
    """(prompts, judge labels) of a judged page in `world`: `prompts` where given, else `n_prompts`
    spread over the world's pool (`clipinv.analyses.prompts.JUDGED`); the labels the judge chooses
    among (the toy world's 24 colour x shape prompts, the emoji world's 1,637 names; None: the page's own
    prompts)."""
    labels = of_world(JUDGE_LABELS, world)
    labels = labels() if callable(labels) else labels
    return (list(prompts) if prompts is not None else spread(of_world(JUDGED, world), n_prompts)), labels


@dataclass(frozen=True)
class Compared:
    """The models a data-scale page compares: `bundles` by name, the `recipe` each inverts with (a
    function of the bundle), and what to show about them (`shown`: the ladder's table, in the toy world)."""

    world: str
    bundles: dict
    recipe: object
    shown: list


def compared_models(
    world: str, page_bundle, page_recipe, models=(), samples=None, device="cpu", load=load_model
) -> Compared:
    """Section 5's models. Named `models` (real CLIPs): those, each with its own recipe. Otherwise, in
    a world with a data ladder, the ladder (`samples`: its training-set sizes, None all, null the stream)
    with the page's recipe; for a real CLIP, the page's model alone. `load(spec, device=...)` loads
    each (a book section's `load_model`, so they run on its engine)."""
    ladder = None if models else data_ladder(world)
    if ladder is not None:
        rungs = [(n, name) for n, name in ladder.rungs if samples is None or n in samples]
        if not rungs:
            sizes = ", ".join("null" if n is None else str(n) for n, _ in ladder.rungs)
            raise ClipinvError(f"no model of the {world} world's data ladder has samples {samples}: pick among {sizes}")
        bundles = {(f"{n:,} images" if n else "stream"): load(name, device=device) for n, name in rungs}
        shown = [Table([{"training data": k, **ladder.describe(b)} for k, b in bundles.items()], ladder.about)]
        return Compared(world, bundles, lambda b: page_recipe, shown)
    bundles = {spec: load(spec, device=device) for spec in (models or [page_bundle.spec])}
    recipe = (lambda b: page_recipe) if world != "paper" else (lambda b: b.default_recipe or page_recipe)
    return Compared("paper", bundles, recipe, [])


def held_out_accuracy(bundles: dict) -> dict:
    """Each model's held-out accuracy from its card: colour x shape zero-shot (toy), the right name first
    among all (emoji); None where its card has neither."""
    out = {}
    for k, b in bundles.items():
        card = b.card or {}
        toy = card.get("metrics", {}).get("zero_shot", {}).get("colour_shape")
        out[k] = toy if toy is not None else card.get("retrieval", {}).get("top1")
    return out


def zero_shot_sentence(summ: pd.DataFrame, held_out: dict) -> str:
    """'Their held-out zero-shot accuracy runs from 61.0% (500 images) to 98.5% (stream).' ('' for fewer than two)."""
    known = [(m, held_out[m]) for m in summ["model"] if held_out.get(m) is not None]
    if len(known) < 2:
        return ""
    return f"Their held-out zero-shot accuracy runs from {known[0][1]:.1%} ({known[0][0]}) to {known[-1][1]:.1%} ({known[-1][0]})."


def scale_headline(summ: pd.DataFrame, ends: dict) -> str:
    """Section 5's line for the front page: judged correct with the least and the most data (`extremes`)."""
    first, last = (prose.rate_of(a) for a in ends["accuracy"])
    if len(summ) > 1:
        overlap = "" if ends["separated"]["accuracy"] else " (intervals overlap)"
        return f"judged correct, least vs most data: {first} vs {last}{overlap}"
    return f"judged correct: {first} (one model, nothing to compare)"
