"""What a run asks for, written down: every inversion a section requests, one JSON line each.

Two engines (`clipinv.core.invert`'s protocol) that the book's runner hands a section
(`clipinv.book.section.Section`, which gives them to the models it loads):

- `PlanningEngine(FILE)`: planning. Nothing is optimised. Each `invert` call appends one row to FILE
  (the models, the recipe's steps and copies, how many images, how many are cached), and the caller
  gets placeholders of the right shapes: cached images as they are, grey images for the rest. Its
  models (`load`, `stand_in`) read images and texts as placeholder features, a reading is a
  placeholder, and a uniform image scores no NSFW (`clipinv.safety`), so a plan passes no image
  through a model. Pretrained weights not on this machine are stood in by random weights of the same
  architecture, with a row saying what the run must download. An image an earlier request of the
  same plan (the same FILE) computes counts as cached, as it would be in the run.
- `Ledger(FILE, engine)`: a real run (on `engine`, default this process) that also appends each
  request as it ran (same rows): what a plan is checked against.

`section` names the section in each row. `clipinv.book.plan` runs the sections with a plan and reads FILE.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from pathlib import Path

import torch

from clipinv.core.invert import InProcess, Work
from clipinv.core.result import TERMS
from clipinv.models.bundle import ModelBundle
from clipinv.models.load import MissingWeights, load_model


def rows(path) -> list[dict]:
    """The rows written to a plan or ledger file, in order."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append(path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def _models(bundles) -> list[dict]:
    return [
        {
            "spec": b.spec,
            "weights": b.weights_hash,
            "model_config": (b.card or {}).get("model_config"),
            "world": _world_name(b.card or {}),
        }
        for b in bundles
    ]


def inversion_row(work: Work, new: list[int], section: str | None, planned: bool) -> dict:
    """The row of one `invert` request: `new`, the indices of the images it computes."""
    keys, recipe = work.keys, work.recipe
    n, k = len(keys), len(new)
    return {
        "kind": "inversion",
        "section": section,
        "planned": planned,
        "kept": work.kept,  # whether the run keeps its images in the cache
        "models": _models(work.bundles),
        "steps": recipe.steps,
        "copies": recipe.n_augments,
        "precision": recipe.precision,
        "device": str(work.device),
        "images": n,
        "cached": n - k,
        "new": k,
        "seed_steps": k * recipe.steps,
        "new_keys": [keys[i] for i in new],
    }


def placeholder_features(items, dim: int):
    """Unit vectors standing in for what a model would read off texts (a list of strings: one vector
    per distinct text, the same in every call) or images (a tensor [N, 3, H, W]: one per image)."""
    if isinstance(items, torch.Tensor):
        sums = items.detach().float().flatten(1).sum(1).tolist()
        seeds = [zlib.crc32(f"image {i} {v:.6g}".encode()) for i, v in enumerate(sums)]
    else:
        seeds = [zlib.crc32(f"text {t}".encode()) for t in items]
    f = torch.stack([torch.randn(dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
    return f / f.norm(dim=-1, keepdim=True)


@dataclasses.dataclass(eq=False)
class PlaceholderBundle(ModelBundle):
    """A plan's model: the model it stands for (same spec, weights hash and tokenizer, so the same
    cache keys and prompt checks), reading every text and image as a placeholder feature."""

    @torch.no_grad()
    def encode_text(self, texts: list[str], truncate: bool = False) -> torch.Tensor:
        self.tokenize(list(texts), truncate=truncate)  # a prompt the model refuses fails as in the run
        return placeholder_features(list(texts), self._feature_dim()).to(self.device)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return placeholder_features(pixels, self._feature_dim()).to(pixels.device)

    def _feature_dim(self) -> int:
        """The embedding's width, read off one short text (once)."""
        if "_dim" not in self.__dict__:
            with torch.no_grad():
                tokens = self.tokenizer(["a"], context_length=self.context_length).to(self.device)
                self.__dict__["_dim"] = int(self.model.encode_text(tokens).shape[-1])
        return self.__dict__["_dim"]


def _world_name(card: dict) -> str | None:
    """The world a card names ("emoji"; the toy's card holds its world's settings, not its name)."""
    world = card.get("world")
    return world if isinstance(world, str) else None


class PlanningEngine:
    """Plans instead of computing: see the module docstring. `plan_file` collects the rows of every
    request (of every section of one plan); `section` names the section in them."""

    placeholders = True  # what `run` yields stands in for images: `invert` caches none of it
    watches = True  # a callback is never called: nothing is optimised

    def __init__(self, plan_file, section: str | None = None):
        self.plan_file, self.section = Path(plan_file), section

    def load(self, spec: str, device=None) -> PlaceholderBundle:
        """`spec` as the run loads it, as a plan's model (`stand_in`); pretrained weights not on this
        machine are stood in by random weights of the same architecture, and a row says so."""
        try:
            bundle = load_model(spec, device=device)
        except MissingWeights as missing:
            bundle = missing.stand_in(device)
            parameters = sum(p.numel() for p in bundle.model.parameters())
            row = {"kind": "weights", "section": self.section, "spec": missing.spec, "parameters": parameters}
            _append(self.plan_file, row)
        return self.stand_in(bundle)

    def stand_in(self, bundle: ModelBundle) -> PlaceholderBundle:
        """`bundle` as a plan's model: placeholder features, its inversions planned by this engine."""
        fields = {f.name: getattr(bundle, f.name) for f in dataclasses.fields(ModelBundle)}
        return PlaceholderBundle(**{**fields, "engine": self})

    def _earlier(self) -> set[str]:
        """Keys an earlier request of this plan already computes."""
        return {key for row in rows(self.plan_file) if row["kind"] == "inversion" for key in row["new_keys"]}

    def run(self, work: Work):
        """A placeholder for every image the cache lacks: grey, similarity 0, a history of zeros."""
        side = work.recipe.resolution_schedule[-1][1]
        placeholder = {
            "image": torch.full((3, side, side), 0.5),
            "similarity": torch.tensor(0.0),
            "history": torch.zeros(work.recipe.steps, len(TERMS)),
        }
        for i in work.todo:
            yield i, placeholder

    def record(self, work: Work) -> dict:
        """Write the request's row: new, the images neither cached nor computed by an earlier request
        of this plan (when the run keeps what it computes, it finds those cached)."""
        earlier = self._earlier() if work.kept else set()
        new = [i for i in work.todo if work.keys[i] not in earlier]
        _append(self.plan_file, inversion_row(work, new, self.section, planned=True))
        return {"device": str(work.device), "engine": "plan"}


class Ledger:
    """A real run on `engine` (default this process) that writes each request's row to `ledger_file`
    as it ran: what it found cached and what it computed."""

    placeholders = False
    watches = True  # a callback runs the request in this process, where the images can be watched

    def __init__(self, ledger_file, engine=None, section: str | None = None):
        self.ledger_file, self.engine, self.section = Path(ledger_file), engine or InProcess(), section

    def _engine(self, work: Work):
        watching = work.callback is not None and not getattr(self.engine, "watches", True)
        return InProcess() if watching else self.engine

    def run(self, work: Work):
        yield from self._engine(work).run(work)

    def record(self, work: Work) -> dict:
        _append(self.ledger_file, inversion_row(work, list(work.todo), self.section, planned=False))
        return self._engine(work).record(work)
