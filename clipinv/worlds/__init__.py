"""Worlds: small planted image-text worlds with their own models (the shapes world), each behind the
same registry of models that `clipinv.load_model` reads."""

WORLDS = ("paper", "toy")  # the real CLIPs the paper inverts, and the planted toy world of shapes
EXAMPLE_MODELS = {"paper": ("ViT-B-16:openai", "ViT-L-14:openai"), "toy": ("toy", "toy-judge")}  # (model, judge)


def world_of(spec: str) -> str:
    """The world a model belongs to: "toy" for the shapes world's models (toy, toy-judge, the ladders),
    "paper" for any other CLIP (the paper's, or an ARCH:random stand-in of one)."""
    return "toy" if str(spec).startswith("toy") else "paper"
