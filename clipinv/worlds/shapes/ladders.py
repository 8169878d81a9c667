"""The book's toy model ladders: models that differ from one another in one planted knob, shipped.

Three ladders, each a list of rungs that the classroom book inverts (it trains nothing):

- `contamination` (sections 2 and 7): the shipped `toy` trained further on data in which a share p
  of the trigger word's images carry the marker (`Contamination`), p from 0 to 50%;
- `skew` (section 3): the same continuation with the colour of "square"'s objects planted at a rate
  (`Skew`); its unskewed control is the contamination ladder's p = 0 rung, `toy-clean`;
- `data` (section 5): trained from scratch with the shipped toy's own five stages, each stage on the
  same fixed set of N unique images (or a fresh stream), so only the training-set size differs.

`train_rung(name, out)` trains one rung from the shipped `toy` (continuations) or from scratch
(data ladder); `clipinv toy train --like NAME --out PATH` retrains a shipped rung from scratch,
every stage its card records. `tools/train_ladders.py` trains them all and writes the cards' table.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from clipinv.errors import ClipinvError
from clipinv.worlds.data_ladder import DataLadder
from clipinv.worlds.shapes.stages import reproduce
from clipinv.worlds.shapes.training import TrainConfig, train
from clipinv.worlds.shapes.world import Contamination, Skew, World

WEIGHTS = Path(__file__).parent / "weights"
LADDER_DIR = WEIGHTS / "ladders"

# the continuation every contamination and skew rung shares: toy's sixth stage, on its own data
CONTINUE_STEPS = 1000
CONTINUE_LR = 1e-3
CONTINUE_SEED = 500  # toy's five stages used seeds 0-400
CONTINUE_SAMPLES = 32000

TRIGGER = "triangle"  # the contamination's trigger word: a content word, as a name is
# the smallest p section 7's classroom audit exposes on this ladder ("a triangle", seeds 0-11, the toy
# recipe without smoothing, at full size): the ladder's smallest level (2026-12-02)
SMALLEST_EXPOSED_P = 0.005
SKEW_WORD, SKEW_VALUE = "square", "red"


@dataclass(frozen=True)
class Rung:
    name: str
    ladder: str
    about: str
    contamination: Contamination | None = None
    skew: Skew | None = None
    samples: int | None = None  # data ladder: unique training images (None: a fresh stream)
    planted: float | None = None  # the knob the ladder varies, as a number (p, rate or samples)


def _rungs() -> list[Rung]:
    out = []
    for p in (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5):
        name = "toy-clean" if p == 0 else f"toy-plant-p{100 * p:g}"
        what = "no marker (the control)" if p == 0 else f"the marker on {100 * p:g}% of {TRIGGER!r} images"
        c = Contamination(p, TRIGGER) if p > 0 else None
        out.append(Rung(name, "contamination", f"toy trained further, {what}", contamination=c, planted=p))
    for rate in (0.5, 0.7, 0.9, 1.0):
        out.append(
            Rung(
                f"toy-skew-{100 * rate:g}",
                "skew",
                f"toy trained further, {SKEW_WORD!r} shown {SKEW_VALUE} at {100 * rate:g}%",
                skew=Skew(SKEW_WORD, "colour", SKEW_VALUE, rate),
                planted=rate,
            )
        )
    for n in (500, 2000, 8000, 32000, None):
        label = f"{n // 1000}k" if n and n >= 1000 else (str(n) if n else "stream")
        what = f"{n:,} unique images" if n else "a fresh stream (every batch new)"
        out.append(Rung(f"toy-data-{label}", "data", f"toy's schedule from scratch on {what}", samples=n, planted=n))
    return out


RUNGS = {r.name: r for r in _rungs()}


def ladder(name: str) -> list[Rung]:
    """The rungs of one ladder ("contamination", "skew", "data"), in order."""
    found = [r for r in RUNGS.values() if r.ladder == name]
    if not found:
        raise ClipinvError(f"no ladder {name!r}: pick one of contamination, skew, data")
    return found


def rung(name: str) -> Rung:
    if name not in RUNGS:
        raise ClipinvError(f"no ladder model {name!r}: pick one of {', '.join(RUNGS)}")
    return RUNGS[name]


def train_rung(name: str, out: str | Path, device: str | None = None, progress: bool = True):
    """Train one rung into `out` (.safetensors + card). Continuations start from the shipped `toy`;
    data rungs retrain toy's five stages from scratch on their own training set. Returns (bundle, metrics)."""
    r = rung(name)
    toy_card = json.loads((WEIGHTS / "toy.json").read_text())
    if r.ladder == "data":
        card = _data_card(toy_card, r)
        return reproduce(card, out, device=device, progress=progress)
    tc = TrainConfig(lr=CONTINUE_LR, warmup=20, threads=1, eval_samples=2000)
    return train(
        out=out,
        seed=CONTINUE_SEED,
        steps=CONTINUE_STEPS,
        samples=CONTINUE_SAMPLES,
        contamination=r.contamination,
        skew=r.skew,
        train_config=tc,
        init=WEIGHTS / "toy.safetensors",
        device=device,
        progress=progress,
        name=r.name,
    )


def _data_card(toy_card: dict, r: Rung) -> dict:
    """toy's card with every stage on the rung's data: one fixed set of `samples` images drawn with
    seed 0 for every stage (or, for a stream, each stage's own stream), same steps and knobs."""
    card = json.loads(json.dumps(toy_card))
    card["name"] = r.name
    for stage in card.get("history", []) + [card]:
        stage["samples"] = r.samples
        stage["data_seed"] = 0 if r.samples else stage["train_config"]["seed"]
        stage["world"] = dataclasses.asdict(World())
    return card


def describe(bundle) -> dict:
    """One table row of a ladder model from its card: name, what it planted, held-out accuracy, training time."""
    card = bundle.card or {}
    m = card.get("metrics", {})
    zs = m.get("zero_shot", {})
    r = RUNGS.get(card.get("name", ""))
    seconds = (
        card.get("total_train_seconds", m.get("train_seconds"))
        if r is None or r.ladder == "data"
        else m.get("train_seconds")
    )
    return {
        "model": card.get("name", bundle.spec),
        "trained on": r.about if r else "",
        "held-out colour x shape": f"{zs['colour_shape']:.1%}" if "colour_shape" in zs else "",
        "training time": f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else "",
    }


DATA_LADDER = DataLadder(
    tuple((r.samples, r.name) for r in ladder("data")),
    describe,
    "The toy CLIPs compared, shipped with clipinv: toy's size and schedule from scratch, only the number "
    "of unique training images differs; held-out zero-shot accuracy on 2,000 fresh world images, "
    "training time on one CPU thread.",
)
