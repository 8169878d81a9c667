"""What the pages invert, per world, as data: each table maps a world ("paper": the real CLIPs the
paper inverts; "toy": the planted shapes world; "emoji": the world of emoji and their names,
`clipinv.worlds`) to its prompts, and a page takes the ones of the world it runs on, once, with
`of_world(TABLE, sec.world)`.

- `FIGURE_1`: the paper's Figure 1 prompts; `JUDGED`: those and two more, the pool sections 5 and 6
  judge among (the toy world: its 24 colour x shape prompts, which are also the judge's labels);
- `RECIPE_NOTES`: why the world's recipe differs from the paper's (section 0 says it under its table);
- `METHOD` (section 0), `CONCEPTS` (section 1: (group, target) pairs, a target a text or a blend),
  `SWAP_PAIRS` (section 4: a caption and its swapped twin).
"""

from __future__ import annotations

from clipinv.core.objective import Prompt
from clipinv.errors import ClipinvError
from clipinv.worlds.emoji import EMOJI_RECIPE_NOTE, article, name_prompts
from clipinv.worlds.shapes import TOY_RECIPE_NOTE
from clipinv.worlds.shapes.world import class_prompts

FIGURE_1 = [
    "Floating castle held by balloons in the sky",
    "Panda mad scientist mixing sparkling chemicals",
    "An astronaut exploring an alien planet, discovering a mysterious ancient artifact",
    "a peaceful sunset",
    "professor Albus Dumbledore",
    "a loving couple",
]

RECIPE_NOTES = {
    "paper": "Nowhere: the page runs the paper's recipe, as its public code does.",
    "toy": TOY_RECIPE_NOTE,
    "emoji": EMOJI_RECIPE_NOTE,
}

METHOD = {
    "paper": FIGURE_1,
    "toy": [
        "a red circle",
        "a large blue square on the left",
        "a small green triangle on the right",
        "a yellow circle above a purple square",
        "a red circle left of a blue square",
    ],
    # Figure 1's things, as the emoji world names them: the castle, the scientist, the astronaut, the
    # sunset, the wizard (a mage), the loving couple (a couple with heart)
    "emoji": ["a castle", "a scientist", "an astronaut", "a sunset", "a mage", "a couple with heart"],
}

CONCEPTS = {
    "paper": [  # (group, target)
        ("blending", "Panda mad scientist mixing sparkling chemicals"),
        ("blending", Prompt("a panda") + Prompt("a mad scientist mixing sparkling chemicals")),
        ("related concepts", "professor Albus Dumbledore"),
        ("related concepts", "the Eiffel Tower"),  # ours
        ("emotions", "an interested person"),
        ("emotions", "a sad person"),  # ours
        ("emotions", "an angry person"),  # ours
        ("actions", "a person jumping in a park"),
        ("actions", "a person swimming in a pool"),  # ours
    ],
    "toy": [
        ("blending", Prompt("a red circle") + Prompt("a blue square")),
        ("under-specified", "a circle"),
        ("under-specified", "a red thing"),
        ("size", "a large yellow triangle"),
        ("size", "a small yellow triangle"),
        ("position", "a green square on the left"),
        ("position", "a green square on the right"),
        ("colour", "a blue square"),
    ],
    "emoji": [
        ("blending", Prompt("a panda") + Prompt("a scientist")),
        ("blending", "a panda scientist"),
        ("related concepts", "a mage"),
        ("related concepts", "tokyo tower"),
        ("emotions", "a grinning face"),
        ("emotions", "a crying face"),
        ("emotions", "an angry face"),
        ("actions", "a person running"),
        ("actions", "a person swimming"),
    ],
}

SWAP_PAIRS = {
    "paper": [
        ("A big dog chasing a small cat", "A small dog chasing a big cat"),
        ("A big dog chasing a small cat", "A small cat chasing a big dog"),
        (
            "a female mannequin dressed in a black leather jacket and gold pleated skirt",
            "a female mannequin dressed in a gold leather jacket and black pleated skirt",
        ),
    ],
    "toy": [
        ("a red circle left of a blue square", "a blue circle left of a red square"),
        ("a red circle left of a blue square", "a blue square left of a red circle"),
        ("a green triangle above a yellow square", "a yellow triangle above a green square"),
    ],
    "emoji": [
        ("a big dog to the left of a small cat", "a small dog to the left of a big cat"),
        ("a big dog to the left of a small cat", "a small cat to the left of a big dog"),
        ("a big owl to the left of a small pizza", "a small owl to the left of a big pizza"),
        ("a big owl to the left of a small pizza", "a small pizza to the left of a big owl"),
    ],
}

# the emoji world: 24 everyday things, none of those the emoji recipe was chosen on (research/emoji_world.md);
# the judge picks each image's name among all of the world's names
EVERYDAY = ["pizza", "guitar", "dolphin", "strawberry", "bell", "key", "lemon", "owl", "house", "cherries", "octopus",
            "snail", "butterfly", "carrot", "watermelon", "trumpet", "hammer", "crown", "mushroom", "turtle",
            "pineapple", "kite", "tent", "ice cream"]  # fmt: skip
JUDGED = {
    "paper": [*FIGURE_1, "a beautiful landscape", "a red bicycle"],
    "toy": class_prompts()[0],
    "emoji": [article(name) for name in EVERYDAY],
}
# the labels the judge chooses among (None: the page's own prompts; a function: called when a page asks)
JUDGE_LABELS = {"paper": None, "toy": class_prompts()[0], "emoji": name_prompts}


def of_world(table: dict, world: str):
    """`table`'s entry for `world` (a copy of a list), or a one-line error naming the worlds it has."""
    if world not in table:
        raise ClipinvError(f"this page has nothing for the {world} world: it runs on the {' or '.join(table)} world")
    entry = table[world]
    return list(entry) if isinstance(entry, list) else entry


def spread(pool: list, n: int) -> list:
    """n of the pool's prompts, spread over it (every len(pool) // n-th)."""
    return pool[:: max(1, len(pool) // n)][:n]
