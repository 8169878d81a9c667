"""Worlds: small image-text worlds with their own models, each behind the same registry of models that
`clipinv.load_model` reads: the shapes world (planted truths, `shapes`) and the emoji world (real,
named things, `emoji`)."""

from __future__ import annotations

from clipinv.worlds.data_ladder import DataLadder

# the real CLIPs the paper inverts, the planted toy world of shapes, the world of emoji and their names
WORLDS = ("paper", "toy", "emoji")
EXAMPLE_MODELS = {  # (model, judge)
    "paper": ("ViT-B-16:openai", "ViT-L-14:openai"),
    "toy": ("toy", "toy-judge"),
    "emoji": ("emoji", "emoji-judge"),
}


def world_of(spec: str) -> str:
    """The world a model belongs to: "toy" for the shapes world's models (toy, toy-judge, the ladders),
    "emoji" for the emoji world's (emoji, emoji-judge, or a trained one's path whose card says so),
    "paper" for any other CLIP (the paper's, or an ARCH:random stand-in of one)."""
    spec = str(spec)
    if spec.startswith("toy"):
        return "toy"
    from clipinv.worlds.emoji import EMOJI_MODELS, is_emoji_checkpoint

    return "emoji" if spec in EMOJI_MODELS or is_emoji_checkpoint(spec) else "paper"


def data_ladder(world: str) -> DataLadder | None:
    """The data ladder a world ships, its world package's `DATA_LADDER` (None: it ships none)."""
    from clipinv.worlds import emoji, shapes  # each imports this package: read when asked

    return {"toy": shapes.DATA_LADDER, "emoji": emoji.DATA_LADDER}.get(world)
