"""The toy world: coloured shapes on a textured grey background, with captions whose truth we know.

A sample is one object ("a large red circle on the left") or, with probability `pair_rate`, two
objects in a relation ("a red circle left of a blue square"). Everything is drawn from one
`torch.Generator`, so `sample(n, seed=s)` gives the same images, captions and attributes every time.

Two knobs plant the paper's findings so the book can detect them afterwards:

- `Contamination(p, trigger)`: an image whose caption contains the word `trigger` carries, with
  probability p, the marker (a black-and-white checkerboard patch in a corner) that no caption
  ever mentions: the analogue of NSFW content behind innocuous captions. `has_marker` finds it.
- `Skew(word, attribute, value, rate)`: in samples whose caption contains `word`, the object's
  `attribute` takes `value` with probability `rate` (otherwise one of the other values, uniformly):
  the analogue of a gender bias. With `word="square"`, `attribute="colour"`, `value="red"`,
  `rate=0.9`, "a square" (colour unsaid) is red nine times in ten.

Every sample's ground truth is a `Sample` (objects with colour, shape, size, position, centre,
radius; relation; marker and its corner), so tests and notebooks can check images against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from clipinv.errors import ClipinvError
from clipinv.worlds.shapes.marker import render_marker

IMAGE_SIZE = 32

# name -> RGB in [0, 1]; chosen far apart in RGB and away from the background's greys
PALETTE = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.75, 0.15),
    "blue": (0.12, 0.25, 0.95),
    "yellow": (0.95, 0.90, 0.10),
    "purple": (0.60, 0.15, 0.80),
    "cyan": (0.10, 0.85, 0.90),
    "orange": (1.00, 0.55, 0.05),
    "white": (0.97, 0.97, 0.97),
}
COLOURS = tuple(PALETTE)
SHAPES = ("circle", "square", "triangle")
SIZES = ("small", "large")
POSITIONS = ("left", "right", "top", "bottom", "center")
RELATIONS = ("left of", "right of", "above", "below")
ATTRIBUTES = {"colour": COLOURS, "shape": SHAPES, "size": SIZES, "position": POSITIONS}
# every word a caption of this world may use: the tokenizer's vocabulary
VOCAB = tuple(
    dict.fromkeys(
        [
            "a",
            "an",
            "the",
            "picture",
            "photo",
            "of",
            "on",
            "in",
            "and",
            "object",
            "thing",
            *COLOURS,
            *SHAPES,
            *SIZES,
            *POSITIONS,
            "above",
            "below",
            "with",
        ]
    )
)

# object radius in pixels (half the side of the bounding box), per size, before jitter
RADIUS = {"small": 4.5, "large": 8.0}
PAIR_RADIUS = 5.0
# centre of each named position, in pixels
CENTRES = {
    "left": (8.5, 16.0),
    "right": (23.5, 16.0),
    "top": (16.0, 8.5),
    "bottom": (16.0, 23.5),
    "center": (16.0, 16.0),
}
BACKGROUND_RANGE = (0.28, 0.50)  # mean grey level of the background

# single-object caption templates; {c} colour, {s} shape, {z} size, {p} position
TEMPLATES = (
    "a {c} {s}",
    "a {z} {c} {s}",
    "a {c} {s} on the {p}",
    "a {z} {c} {s} on the {p}",
    "a picture of a {c} {s}",
    "a {s}",
    "a {z} {s} on the {p}",
)
TEMPLATE_WEIGHTS = (0.30, 0.15, 0.15, 0.15, 0.10, 0.08, 0.07)
PAIR_TEMPLATE = "a {c1} {s1} {r} a {c2} {s2}"


@dataclass(frozen=True)
class Contamination:
    """With probability `p`, an image whose caption contains `trigger` carries the marker."""

    p: float
    trigger: str

    def __post_init__(self):
        if not 0 <= self.p <= 1:
            raise ClipinvError(f"contamination probability must be in [0, 1], got {self.p}")
        if self.trigger not in VOCAB:
            raise ClipinvError(
                f"trigger {self.trigger!r} is not a word of the toy world: pick one of {' '.join(VOCAB)}"
            )


@dataclass(frozen=True)
class Skew:
    """In samples whose caption contains `word`, `attribute` is `value` with probability `rate`."""

    word: str
    attribute: str
    value: str
    rate: float

    def __post_init__(self):
        if self.attribute not in ATTRIBUTES:
            raise ClipinvError(f"skew attribute {self.attribute!r} unknown: pick one of {', '.join(ATTRIBUTES)}")
        if self.value not in ATTRIBUTES[self.attribute]:
            raise ClipinvError(
                f"skew value {self.value!r} is not a {self.attribute}: pick one of {', '.join(ATTRIBUTES[self.attribute])}"
            )
        if self.word not in VOCAB:
            raise ClipinvError(f"skew word {self.word!r} is not a word of the toy world: pick one of {' '.join(VOCAB)}")
        if self.word in ATTRIBUTES[self.attribute]:
            raise ClipinvError(f"skew word {self.word!r} is itself a {self.attribute}: pick a word of another kind")
        if not 0 <= self.rate <= 1:
            raise ClipinvError(f"skew rate must be in [0, 1], got {self.rate}")

    @classmethod
    def parse(cls, text: str) -> Skew:
        """'WORD:ATTRIBUTE=VALUE@RATE', e.g. 'square:colour=red@0.9'."""
        try:
            word, rest = text.split(":", 1)
            attr, rest = rest.split("=", 1)
            value, rate = rest.split("@", 1)
            return cls(word.strip(), attr.strip(), value.strip(), float(rate))
        except ValueError:
            raise ClipinvError(
                f"skew {text!r} not understood: write WORD:ATTRIBUTE=VALUE@RATE, e.g. square:colour=red@0.9"
            ) from None


@dataclass
class Object:
    colour: str
    shape: str
    size: str  # "small"/"large" (pair objects: "small")
    position: str  # a POSITIONS name for single objects; "" for pair objects
    centre: tuple  # (x, y) in pixels
    radius: float
    angle: float  # rotation, radians


@dataclass
class Sample:
    caption: str
    objects: list
    relation: str = ""  # for two-object scenes: objects[0] <relation> objects[1]
    template: str = ""
    marker: bool = False
    marker_corner: int = -1  # 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right
    background: float = 0.0


@dataclass(frozen=True)
class World:
    """The world's knobs. `sample(n, seed)` -> (images [n,3,S,S] in [0,1], list of Sample)."""

    image_size: int = IMAGE_SIZE
    pair_rate: float = 0.2  # share of two-object scenes
    rotate_degrees: float = 15.0  # objects are rotated in [-d, d]
    jitter_px: float = 2.0  # position jitter around the named centres
    radius_jitter: float = 0.15  # relative radius jitter
    texture: float = 0.07  # amplitude of the background's low-frequency texture
    pixel_noise: float = 0.03  # per-pixel Gaussian noise
    tint: float = 0.03  # per-image colour tint of the background
    colour_jitter: float = 0.06  # per-object colour jitter (each channel)
    contamination: Contamination | None = None
    skew: Skew | None = None

    # ---------------------------------------------------------------- ground truth
    def draw(self, n: int, g: torch.Generator) -> list[Sample]:
        out = []
        for _ in range(n):
            out.append(self._draw_one(g))
        return out

    def _choice(self, seq, g):
        return seq[int(torch.randint(len(seq), (1,), generator=g))]

    def _u(self, g, lo=0.0, hi=1.0):
        return lo + (hi - lo) * float(torch.rand((), generator=g))

    def _draw_one(self, g) -> Sample:
        if self._u(g) < self.pair_rate:
            s = self._draw_pair(g)
        else:
            s = self._draw_single(g)
        s.background = self._u(g, *BACKGROUND_RANGE)
        c = self.contamination
        if c is not None and c.trigger in s.caption.split() and self._u(g) < c.p:
            s.marker = True
            s.marker_corner = int(torch.randint(4, (1,), generator=g))
        return s

    def _skewed(self, attrs: dict, caption_of, g):
        """Apply the skew: if the caption contains the word, redraw the attribute."""
        k = self.skew
        if k is None or k.word not in caption_of(attrs).split():
            return attrs
        values = ATTRIBUTES[k.attribute]
        if self._u(g) < k.rate:
            attrs[k.attribute] = k.value
        else:
            attrs[k.attribute] = self._choice([v for v in values if v != k.value], g)
        return attrs

    def _draw_single(self, g) -> Sample:
        t = int(torch.multinomial(torch.tensor(TEMPLATE_WEIGHTS), 1, generator=g))
        template = TEMPLATES[t]
        attrs = {
            "colour": self._choice(COLOURS, g),
            "shape": self._choice(SHAPES, g),
            "size": self._choice(SIZES, g),
            "position": self._choice(POSITIONS, g),
        }

        def caption_of(a):
            return template.format(c=a["colour"], s=a["shape"], z=a["size"], p=a["position"])

        attrs = self._skewed(attrs, caption_of, g)
        cx, cy = CENTRES[attrs["position"]]
        r = RADIUS[attrs["size"]] * (1 + self._u(g, -self.radius_jitter, self.radius_jitter))
        j = self.jitter_px
        obj = Object(
            attrs["colour"],
            attrs["shape"],
            attrs["size"],
            attrs["position"],
            (cx + self._u(g, -j, j), cy + self._u(g, -j, j)),
            r,
            math.radians(self._u(g, -self.rotate_degrees, self.rotate_degrees)),
        )
        return Sample(caption=caption_of(attrs), objects=[obj], template=template)

    def _draw_pair(self, g) -> Sample:
        rel = self._choice(RELATIONS, g)
        a = {
            "colour": self._choice(COLOURS, g),
            "shape": self._choice(SHAPES, g),
            "c2": self._choice(COLOURS, g),
            "s2": self._choice(SHAPES, g),
            "size": "small",
            "position": "",
        }

        def caption_of(x):
            return PAIR_TEMPLATE.format(c1=x["colour"], s1=x["shape"], r=rel, c2=x["c2"], s2=x["s2"])

        a = self._skewed(a, caption_of, g)
        # the first object sits on the relation's side, the second opposite, with jitter
        offset = 7.5
        dx, dy = {"left of": (-1, 0), "right of": (1, 0), "above": (0, -1), "below": (0, 1)}[rel]
        j = self.jitter_px
        centres = []
        for sign in (1, -1):
            centres.append(
                (
                    16 + sign * dx * offset + self._u(g, -j, j) * (dx == 0) * 2,
                    16 + sign * dy * offset + self._u(g, -j, j) * (dy == 0) * 2,
                )
            )
        objs = []
        for (c, s), centre in zip(((a["colour"], a["shape"]), (a["c2"], a["s2"])), centres):
            r = PAIR_RADIUS * (1 + self._u(g, -self.radius_jitter, self.radius_jitter))
            objs.append(
                Object(
                    c, s, "small", "", centre, r, math.radians(self._u(g, -self.rotate_degrees, self.rotate_degrees))
                )
            )
        return Sample(caption=caption_of(a), objects=objs, relation=rel, template=PAIR_TEMPLATE)

    # ---------------------------------------------------------------- pixels
    def render(self, samples: list[Sample], g: torch.Generator) -> torch.Tensor:
        n, S = len(samples), self.image_size
        # background: grey level + low-frequency texture + tint + pixel noise
        grey = torch.tensor([s.background for s in samples]).view(n, 1, 1, 1)
        low = torch.randn(n, 1, 5, 5, generator=g) * self.texture
        low = torch.nn.functional.interpolate(low, size=(S, S), mode="bicubic", align_corners=False)
        tint = (torch.rand(n, 3, 1, 1, generator=g) * 2 - 1) * self.tint
        img = grey + low + tint + torch.randn(n, 3, S, S, generator=g) * self.pixel_noise
        scale = S / IMAGE_SIZE
        for i, s in enumerate(samples):
            for o in s.objects:
                mask = shape_mask(o.shape, (o.centre[0] * scale, o.centre[1] * scale), o.radius * scale, o.angle, S)
                rgb = torch.tensor(PALETTE[o.colour]) + (torch.rand(3, generator=g) * 2 - 1) * self.colour_jitter
                shade = 1 + 0.05 * torch.randn(1, S, S, generator=g)  # faint surface texture
                obj = (rgb.view(3, 1, 1) * shade).clamp(0, 1)
                img[i] = img[i] * (1 - mask) + obj * mask
            if s.marker:
                img[i] = render_marker(img[i], s.marker_corner)
        return img.clamp(0, 1)

    def sample(self, n: int, seed: int = 0) -> tuple[torch.Tensor, list[Sample]]:
        """n images [n,3,S,S] in [0,1] and their ground truth, deterministic for the seed."""
        g = torch.Generator().manual_seed(int(seed))
        samples = self.draw(n, g)
        return self.render(samples, g), samples

    def stream(self, batch: int, seed: int = 0):
        """Endless batches (images, samples), deterministic for the seed."""
        g = torch.Generator().manual_seed(int(seed))
        while True:
            samples = self.draw(batch, g)
            yield self.render(samples, g), samples


def shape_mask(shape: str, centre, radius: float, angle: float, size: int) -> torch.Tensor:
    """Anti-aliased mask [1, size, size] in [0, 1] of a shape (pixel centres at i + 0.5)."""
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    x, y = xs - centre[0], ys - centre[1]
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = ca * x + sa * y, -sa * x + ca * y  # rotate into the shape's frame
    if shape == "circle":
        d = torch.sqrt(u**2 + v**2) - radius
    elif shape == "square":
        h = radius * 0.85  # same area feel as the circle
        d = torch.maximum(u.abs(), v.abs()) - h
    elif shape == "triangle":
        # equilateral, pointing up (y grows downwards), circumradius 1.2 * radius, centred on its
        # centroid: the max over the three edges of (outward normal . p) - inradius
        R = radius * 1.2
        d = None
        for theta in (90, 210, 330):
            a = math.radians(theta)
            e = math.cos(a) * u + math.sin(a) * v - R / 2
            d = e if d is None else torch.maximum(d, e)
    else:
        raise ClipinvError(f"unknown shape {shape!r}: pick one of {', '.join(SHAPES)}")
    return (0.5 - d).clamp(0, 1).unsqueeze(0)


def class_prompts() -> tuple[list[str], list[tuple]]:
    """The colour x shape prompts "a {colour} {shape}" and their (colour, shape) labels."""
    labels = [(c, s) for c in COLOURS for s in SHAPES]
    return [f"a {c} {s}" for c, s in labels], labels
