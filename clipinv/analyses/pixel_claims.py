"""Section 1's concept claims, read off the pixels of toy inversions by the pixel oracle
(`clipinv.worlds.shapes.oracle`), so that no CLIP judges them:

- a blend shows both components: both colours hold a share of the image's coloured pixels;
- sizes come out: "a large X" covers more pixels than "a small X" with the same seed;
- positions come out: the coloured pixels' centre lies on the named side of the image;
- under-specified prompts vary: "a circle" comes out in several colours across seeds, while a fully
  specified prompt keeps one.

Each reading is a rate over inversions with its Wilson interval (`clipinv.analyses.stats.rate`).
`toy_claims` reads all of them off section 1's toy targets into one table (`readable` for the page,
`claim_phrases` for its prose).
"""

from __future__ import annotations

import pandas as pd
import torch

from clipinv.analyses import prose
from clipinv.analyses.stats import rate, wilson
from clipinv.errors import ClipinvError
from clipinv.worlds.shapes.oracle import colour_votes, colour_weights, pixel_colour, pixel_shape
from clipinv.worlds.shapes.world import COLOURS

BLEND_SHARE = 0.15  # a component "shows" when its colour holds at least this share of the coloured pixels


def colour_shares(images: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] -> [..., 8]: each palette colour's share of the image's coloured-pixel votes."""
    v = colour_votes(images)
    return v / v.sum(-1, keepdim=True).clamp(min=1e-8)


def shows_both(images: torch.Tensor, a: str, b: str, share: float = BLEND_SHARE) -> torch.Tensor:
    """[..., 3, H, W] -> bool [...]: whether colours a and b each hold at least `share` of the votes."""
    for c in (a, b):
        if c not in COLOURS:
            raise ClipinvError(f"unknown colour {c!r}: pick one of {', '.join(COLOURS)}")
    s = colour_shares(images)
    return (s[..., COLOURS.index(a)] >= share) & (s[..., COLOURS.index(b)] >= share)


def footprint(images: torch.Tensor, colour: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels voting for `colour`: their weighted area [...] (in pixels) and centre [..., 2] (x, y in
    pixels, 0 at the left/top edge; the image centre where no pixel votes)."""
    if colour not in COLOURS:
        raise ClipinvError(f"unknown colour {colour!r}: pick one of {', '.join(COLOURS)}")
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:]).float().clamp(0, 1)
    w = colour_weights(x, colour)  # [N, H, W]
    h, wd = w.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(wd) + 0.5, indexing="ij")
    area = w.sum(dim=(-1, -2))
    safe = area.clamp(min=1e-8)
    cx = torch.where(area > 0, (w * xs).sum(dim=(-1, -2)) / safe, torch.full_like(area, wd / 2))
    cy = torch.where(area > 0, (w * ys).sum(dim=(-1, -2)) / safe, torch.full_like(area, h / 2))
    return area.view(lead), torch.stack([cx, cy], -1).view(*lead, 2)


SIDES = {"left": (0, -1), "right": (0, 1), "top": (1, -1), "bottom": (1, 1)}


def on_side(images: torch.Tensor, colour: str, side: str) -> torch.Tensor:
    """bool [...]: whether the centre of `colour`'s pixels lies on `side` of the image's middle."""
    if side not in SIDES:
        raise ClipinvError(f"unknown side {side!r}: pick one of {', '.join(SIDES)}")
    axis, sign = SIDES[side]
    _, centre = footprint(images, colour)
    middle = (images.shape[-1] if axis == 0 else images.shape[-2]) / 2
    return (centre[..., axis] - middle) * sign > 0


def larger(large: torch.Tensor, small: torch.Tensor, colour: str) -> torch.Tensor:
    """bool [...]: whether each inversion of "a large ..." covers more of `colour` than the inversion
    of "a small ..." with the same seed (images [..., 3, H, W], the same leading shape)."""
    if large.shape != small.shape:
        raise ClipinvError(
            f"large and small inversions must pair up seed by seed, got {tuple(large.shape)} and {tuple(small.shape)}"
        )
    return footprint(large, colour)[0] > footprint(small, colour)[0]


def variety(images: torch.Tensor, what: str = "colour", colour: str | None = None) -> dict:
    """What the pixel oracle reads in a row of inversions [S, 3, H, W] (one prompt, S seeds): the values
    read, how many distinct, and the largest share one value takes. `what`: "colour" or "shape"
    (the shape drawn in `colour`, or in each image's own colour)."""
    if what == "colour":
        read = pixel_colour(images)
    elif what == "shape":
        read = pixel_shape(images, colour or pixel_colour(images))
    else:
        raise ClipinvError(f"variety reads 'colour' or 'shape', got {what!r}")
    counts = {v: read.count(v) for v in dict.fromkeys(read)}
    return {"read": read, "distinct": len(counts), "top share": max(counts.values()) / len(read), "counts": counts}


def claim_row(claim: str, flags, expected: str) -> dict:
    """One row of the claims table: the claim, the rate at which inversions bear it out, what chance
    or the opposite reading would give."""
    r = rate(flags)
    return {
        "claim": claim,
        "n": r["n"],
        "borne out": r["k"],
        "rate": r["rate"],
        "low": r["low"],
        "high": r["high"],
        "against": expected,
    }


# ---------------------------------------------------------------- section 1's claims table
# The toy targets each claim reads (names as `alignment.concept_labels` gives them: "a + b" for a blend).
BLEND = ("a red circle + a blue square", "red", "blue")
SIZE = ("a large yellow triangle", "a small yellow triangle", "yellow")
POSITION = ("green", {"a green square on the left": "left", "a green square on the right": "right"})
UNDER = {"a circle": ("colour", None), "a red thing": ("shape", "red")}  # under-specified: (what varies, colour)
SPECIFIED = ("a blue square", "blue")  # fully specified: one colour and one shape expected
CHANCE = 0.5  # sizes and positions: a model that ignored the words would be right half the time
NOT_MEASURED = "not measured (toy world only)"  # the pixel oracle reads only the toy world
NOT_READ = "none on this page: the pixel oracle reads only the toy world's colours, shapes, sizes and places."
NO_ORACLE = (
    "The pixel oracle reads only the toy world's palette and shapes, so for this model the page skips these claims."
)
COLUMNS = ["claim", "prompts", "n", "borne out", "rate", "low", "high", "against", "resolves", "oracle read"]


def toy_claims(images_by_target: dict) -> pd.DataFrame:
    """Section 1's claims read off the pixels of toy inversions: images_by_target {target name:
    [S, 3, H, W]} (one target's seeds, in seed order) -> one row per claim: `claim_row`'s columns, the
    prompts read, whether the claim resolves, what the oracle read (variety rows) and, hidden from
    `readable`, "against read" (the same reading of "a blue square").

    Rows: the blend shows both colours; "large" covers more yellow than "small" with the same seed; the
    green square lies on its named side (both prompts' seeds pooled); "a circle" varies in colour and
    "a red thing" in shape, as the share of inversions off their commonest value. A claim resolves when
    its Wilson interval lies above chance (50%: sizes, positions) or above the interval of the fully
    specified "a blue square" read the same way (does it show red and blue; is it off its commonest
    colour, shape)."""
    need = [BLEND[0], SIZE[0], SIZE[1], *POSITION[1], *UNDER, SPECIFIED[0]]
    missing = [t for t in need if t not in images_by_target]
    if missing:
        raise ClipinvError(f"toy_claims needs the inversions of {', '.join(map(repr, missing))}")
    im = images_by_target
    square = im[SPECIFIED[0]]

    def row(claim, prompts, flags, base=None, base_text=None, read=None, base_read=None):
        against = f"{base_text}: {prose.rate(base['k'], base['n'])}" if base else f"{prose.percent(CHANCE)} by chance"
        out = {**claim_row(claim, flags, against), "prompts": prompts, "oracle read": read}
        out["resolves"] = bool(out["low"] > (base["high"] if base else CHANCE))
        return {**out, "against read": base_read}

    blend = BLEND[0]
    rows = [
        row(
            "a blend shows both components",
            blend,
            shows_both(im[blend], BLEND[1], BLEND[2]),
            base=rate(shows_both(square, BLEND[1], BLEND[2])),
            base_text=f"{SPECIFIED[0]} alone",
        ),
        row(
            '"large" covers more than "small" (same seed)',
            " / ".join(SIZE[:2]),
            larger(*(im[t] for t in SIZE[:2]), SIZE[2]),
        ),
        row(
            "the object lies on the named side",
            " / ".join(POSITION[1]),
            torch.cat([on_side(im[t], POSITION[0], side) for t, side in POSITION[1].items()]),
        ),
    ]
    for target, (what, colour) in UNDER.items():
        v = variety(im[target], what, colour)
        sq = variety(square, what, SPECIFIED[1] if what == "shape" else None)
        rows.append(
            row(
                f"an under-specified prompt varies in {what}",
                target,
                off_commonest(v),
                base=rate(off_commonest(sq)),
                base_text=f"{SPECIFIED[0]} ({counts_text(sq, what)})",
                read=counts_text(v, what),
                base_read=counts_text(sq, what),
            )
        )
    return pd.DataFrame(rows)[[*COLUMNS, "against read"]]


def off_commonest(v: dict) -> list[bool]:
    """Per inversion of a `variety` reading: whether its value is not the commonest (the first read, on a tie)."""
    top = max(v["counts"], key=v["counts"].get)
    return [r != top for r in v["read"]]


def counts_text(v: dict, what: str) -> str:
    """'3 colours: red 3, blue 2, green 1': a `variety` reading, its values by count."""
    values = ", ".join(f"{k} {n}" for k, n in sorted(v["counts"].items(), key=lambda kv: -kv[1]))
    return f"{v['distinct']} {what}{'' if v['distinct'] == 1 else 's'}: {values}"


def readable(claims: pd.DataFrame) -> pd.DataFrame:
    """`toy_claims`'s table as the page shows it: the count borne out ('5/6'), the rate with its
    interval in one column, whether it resolves in words."""
    out = claims.drop(columns=["against read"]).assign(
        **{
            "borne out": [prose.count(k, n) for k, n in zip(claims["borne out"], claims["n"])],
            "resolves": ["yes" if r else "no" for r in claims["resolves"]],
        }
    )
    return prose.rate_column(out.drop(columns=["n"]), "rate", "low", "high", into="rate (95% CI)")


def halfwidth(n: int) -> float:
    """The widest half-width of a 95% Wilson interval over n trials (at a rate of one half)."""
    low, high = wilson(n // 2, n)
    return (high - low) / 2


PHRASES = ("blend", "size", "position", "circle", "thing")  # the rows of `toy_claims`, in order
UNDER_NAMES = tuple(UNDER)


def claim_phrases(claims: pd.DataFrame | None) -> dict[str, str]:
    """What section 1 glues from `toy_claims`'s table: for "blend", "size" and "position" the count
    and rate ('5/6, 83% (44–97%)'); for "circle" and "thing" what the oracle read ('3 colours: red 3,
    blue 2, green 1') and for "square_colour" and "square_shape" its reading of "a blue square";
    "resolved" ('3 of 5'); "summary", all of it in sentences; "headline", the page's headline sentence.
    Where there is no table (another world): NOT_MEASURED for every key, and a summary and a headline
    that say why."""
    keys = [*PHRASES, "square_colour", "square_shape", "resolved"]
    if claims is None:
        return {**dict.fromkeys(keys, NOT_MEASURED), "summary": NO_ORACLE, "headline": NOT_READ}
    if len(claims) != len(PHRASES):
        raise ClipinvError(f"claim_phrases reads toy_claims's {len(PHRASES)} rows, got {len(claims)}")
    by = dict(zip(PHRASES, claims.to_dict("records")))
    out = {k: f"{prose.count(r['borne out'], r['n'])}, {prose.rate(r['borne out'], r['n'])}" for k, r in by.items()}
    out["circle"], out["thing"] = by["circle"]["oracle read"], by["thing"]["oracle read"]
    out["square_colour"], out["square_shape"] = by["circle"]["against read"], by["thing"]["against read"]
    out["resolved"] = f"{int(claims['resolves'].sum())} of {len(claims)}"
    out["summary"] = (
        f'The blend shows both its colours in {out["blend"]} of its inversions; "large" covers more than '
        f'"small" in {out["size"]}; the green square lies on its named side in {out["position"]}. '
        f'"{UNDER_NAMES[0].capitalize()}" comes out in {out["circle"]} ("{SPECIFIED[0]}": {out["square_colour"]}), '
        f'"{UNDER_NAMES[1]}" in {out["thing"]} ("{SPECIFIED[0]}": {out["square_shape"]}). '
        f"Claims that resolve: {out['resolved']}."
    )
    out["headline"] = (
        f'the blend shows both its colours {out["blend"]}; "large" covers more yellow than "small" with the same '
        f"seed {out['size']}; the green square lies on the side its prompt names {out['position']}; "
        f'"{UNDER_NAMES[0]}": {out["circle"]}; "{SPECIFIED[0]}": {out["square_colour"]}.'
    )
    return out


def claims_headline(claims: pd.DataFrame | None) -> str:
    """'; pixels bear out blend 6/6, size 5/6, position 11/12': the front page's share of the table
    ('' where there is none)."""
    if claims is None:
        return ""
    counts = [prose.count(k, n) for k, n in zip(claims["borne out"], claims["n"])]
    return "; pixels bear out " + ", ".join(f"{k} {c}" for k, c in zip(PHRASES[:3], counts))


READERS = {"toy": toy_claims}  # the worlds whose pixels can be read: the toy world, where colours and places are known


def claims_of(world: str, names: list, images) -> pd.DataFrame | None:
    """The pixel claims of a page's inversions (`toy_claims`, targets `names`, images [T, S, ...]) in a
    world whose pixels can be read; None in any other (a real CLIP's inversions: no oracle)."""
    read = READERS.get(world)
    return None if read is None else read(dict(zip(names, images)))
