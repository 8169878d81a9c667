"""Two emoji side by side, a big one and a small one, captioned with their relation: "a big dog to the
left of a small cat". What section 4's models see, and what it asks them: does the model tell the
caption from the same words with the roles swapped ("a small cat to the left of a big dog") or the
sizes swapped ("a small dog to the left of a big cat")?

A scene is (left thing, right thing, whether the left one is big), named "A to the left of B" (`LEFT_OF`)
or from the other side, "B to the right of A" (`RELATIONS`): both captions of one scene count as the same.
The inverted model reads both, as web captions name a scene either way; the judge reads the first only.
`Scenes` draws batches of them for training; `scene_reading` measures a model on fresh ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from clipinv.worlds.emoji import atlas
from clipinv.worlds.emoji.world import Augment, article, draw, transformed

# 32 everyday things with one-word names, none a person
THINGS = ("dog", "cat", "horse", "cow", "pig", "mouse", "rabbit", "panda", "tiger", "elephant", "giraffe", "zebra",
          "fox", "frog", "owl", "penguin", "duck", "fish", "whale", "octopus", "snail", "butterfly", "banana",
          "lemon", "pizza", "carrot", "mushroom", "rocket", "house", "sun", "umbrella", "ghost")  # fmt: skip
RELATIONS = ("to the left of", "to the right of")
LEFT_OF = RELATIONS[:1]  # how section 4 names a scene, and all the judge reads: shown both ways of naming
# one, a tiny CLIP did not learn which thing is where, even with swapped captions as wrong (research/emoji_world.md)
BIG, SMALL = (0.42, 0.5), (0.24, 0.3)  # a thing's side, as a share of the canvas
SWAPS = ("sizes swapped", "roles swapped")
AUGMENT = Augment(scale=(0.5, 1.0), plain_p=0.5)  # how the scene models see a scene: half of them on plain grey


@dataclass(frozen=True)
class Scene:
    left: str
    right: str
    left_big: bool
    relation: str = RELATIONS[0]

    def phrases(self) -> tuple[str, str, str]:
        """(first noun phrase, relation, second noun phrase): ("a big dog", "to the left of", "a small cat")."""
        left = article(f"{'big' if self.left_big else 'small'} {self.left}")
        right = article(f"{'small' if self.left_big else 'big'} {self.right}")
        return (left, self.relation, right) if self.relation == RELATIONS[0] else (right, self.relation, left)

    @property
    def caption(self) -> str:
        return " ".join(self.phrases())

    def swapped(self, what: str) -> Scene:
        """The scene the caption with its sizes (or its roles) swapped describes."""
        if what == "sizes swapped":
            return Scene(self.left, self.right, not self.left_big, self.relation)
        if what == "roles swapped":
            return Scene(self.right, self.left, not self.left_big, self.relation)
        raise ValueError(f"no swap {what!r}: one of {SWAPS}")

    def label(self, things=THINGS) -> int:
        """One number per scene, whichever order its caption names the things in."""
        return (things.index(self.left) * len(things) + things.index(self.right)) * 2 + int(self.left_big)


def draw_scenes(n: int, generator, things=THINGS, relations=LEFT_OF, pairs_apart: bool = False) -> list[Scene]:
    """n scenes of two different things, which one is big and which of `relations` names them at random.
    `pairs_apart`: no two of the n show the same two things (n at most the number of pairs)."""
    k = len(things)
    if pairs_apart and n > k * (k - 1) // 2:
        raise ValueError(f"{k} things make {k * (k - 1) // 2} pairs: too few for {n} scenes kept apart")
    if pairs_apart:
        pairs = torch.combinations(torch.arange(k), 2)[torch.randperm(k * (k - 1) // 2, generator=generator)[:n]]
        flip = torch.rand(n, generator=generator) < 0.5
        first, second = torch.where(flip, pairs[:, 1], pairs[:, 0]), torch.where(flip, pairs[:, 0], pairs[:, 1])
    else:
        first = torch.randint(0, k, (n,), generator=generator)
        second = (first + 1 + torch.randint(0, k - 1, (n,), generator=generator)) % k
    left_big = torch.rand(n, generator=generator) < 0.5
    relation = torch.randint(0, len(relations), (n,), generator=generator)
    return [
        Scene(things[a], things[b], bool(big), relations[r])
        for a, b, big, r in zip(first.tolist(), second.tolist(), left_big.tolist(), relation.tolist())
    ]


def compose(scenes: list[Scene], glyphs, names, generator) -> torch.Tensor:
    """The scenes as RGBA pictures [N, 4, S, S] on a transparent canvas: each thing upright (turned up to
    10 degrees), its side drawn from BIG or SMALL, anywhere in its half of the canvas."""
    n = len(scenes)
    index = {name: i for i, name in enumerate(names)}
    halves = []
    for side, things in ((-1, [s.left for s in scenes]), (1, [s.right for s in scenes])):
        big = torch.tensor([s.left_big == (side < 0) for s in scenes])
        u = torch.rand(4, n, generator=generator)
        sc = torch.where(big, BIG[0] + (BIG[1] - BIG[0]) * u[0], SMALL[0] + (SMALL[1] - SMALL[0]) * u[0])
        angle = (u[1] - 0.5) * 2 * math.radians(10)
        tx = side * (sc + (1 - 2 * sc) * u[2])  # centre in its half: the thing stays inside it
        ty = (u[3] - 0.5) * 2 * (1 - sc)
        halves.append(transformed(glyphs[[index[t] for t in things]], angle, sc, tx, ty))
    left, right = halves
    alpha = right[:, 3:] + left[:, 3:] * (1 - right[:, 3:])
    rgb = (right[:, :3] * right[:, 3:] + left[:, :3] * left[:, 3:] * (1 - right[:, 3:])) / alpha.clamp_min(1e-6)
    return torch.cat([rgb, alpha], 1)


def render_scenes(scenes: list[Scene], augment: Augment, generator, glyphs=None, names=None) -> torch.Tensor:
    """The scenes drawn as training pictures: RGB [N, 3, S, S] in [0, 1] (`augment` moves the whole scene)."""
    if glyphs is None:
        glyphs, names = atlas.load()
    return draw(compose(scenes, glyphs, names, generator), augment, generator)


@dataclass(frozen=True)
class Scenes:
    """Train on scenes of `things` in place of single glyphs. With `pairs_apart`, no two pictures of a batch
    show the same two things: as in a web-scale crawl, a caption's swap practically never shares its batch,
    so nothing in the batch tells the captions apart by their order. With `hard_negatives`, every picture's
    caption with its roles swapped and with its sizes swapped join the batch as wrong captions (as NegCLIP
    trains a CLIP to read word order); without, the batch holds only the pictures' own captions, as CLIP
    trains."""

    things: tuple[str, ...] = THINGS
    hard_negatives: bool = False
    pairs_apart: bool = False
    relations: tuple[str, ...] = LEFT_OF  # the ways a caption may name the scene (RELATIONS: both)

    def batch(self, n: int, glyphs, names, augment: Augment, generator):
        """(labels [n], pictures [n, 3, S, S], captions, wrong captions, their labels)."""
        scenes = draw_scenes(n, generator, self.things, self.relations, self.pairs_apart)
        images = render_scenes(scenes, augment, generator, glyphs, names)
        labels = torch.tensor([s.label(self.things) for s in scenes])
        wrong = [s.swapped(w) for w in SWAPS for s in scenes] if self.hard_negatives else []
        wrong_labels = torch.tensor([s.label(self.things) for s in wrong], dtype=torch.long)
        return labels, images, [s.caption for s in scenes], [s.caption for s in wrong], wrong_labels

    def captions(self) -> list[str]:
        """Every caption a batch may hold, the wrong ones too (a swap names a scene of the same things)."""
        return [
            Scene(a, b, big, relation).caption
            for a in self.things
            for b in self.things
            if a != b
            for big in (True, False)
            for relation in self.relations
        ]


@torch.no_grad()
def scene_reading(
    bundle, n: int = 1024, seed: int = 123, augment: Augment | None = None, things=THINGS, relations=LEFT_OF
) -> dict:
    """n fresh scenes (a generator seeded `seed`, no training's): how often the model picks the true caption
    over the same words with the sizes swapped and with the roles swapped (chance 50% each), and how
    often the true scene's caption is its first among every scene of `things` (chance 1 in 1,984 for 32)."""
    gen = torch.Generator().manual_seed(seed)
    scenes = draw_scenes(n, gen, things, relations)
    images = render_scenes(scenes, augment or Augment(), gen)
    v = torch.cat([bundle.encode_image(images[i : i + 256]) for i in range(0, n, 256)])
    t = bundle.encode_text([s.caption for s in scenes])
    out = {"scenes": n}
    for what in SWAPS:
        alt = bundle.encode_text([s.swapped(what).caption for s in scenes])
        out[what] = int(((v * t).sum(-1) > (v * alt).sum(-1)).sum())
    every = [Scene(a, b, big) for a in things for b in things if a != b for big in (True, False)]
    text = torch.cat([bundle.encode_text([s.caption for s in every[i : i + 256]]) for i in range(0, len(every), 256)])
    first = (v @ text.T).argmax(1)
    position = {scene: i for i, scene in enumerate(every)}
    truth = torch.tensor([position[Scene(s.left, s.right, s.left_big)] for s in scenes])
    out["top1"] = int((first == truth).sum())
    out["candidates"] = len(every)
    return out
