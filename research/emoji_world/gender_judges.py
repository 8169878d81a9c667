"""Can a judge tell the woman emoji of a profession from the man emoji? Per person the world draws in
three variants, fresh renders of the woman and the man variant (40 each, as training draws them),
judged zero-shot between "a man NAME" and "a woman NAME" (the section-3 template) by each model.

    python research/emoji_world/gender_judges.py emoji emoji-judge emoji-gender-judge > research/emoji_world/gender/judges.md
"""

import sys

import torch

from clipinv import load_model
from clipinv.models.judge import judge
from clipinv.worlds.emoji import atlas, render
from clipinv.worlds.emoji.world import Augment, gendered

DRAWS = 40


def main(models):
    glyphs, names = atlas.load()
    people = gendered(names)
    table = {}
    for spec in models:
        bundle = load_model(spec)
        for neutral, woman, man in people:
            right = []
            for truth, name in ((0, man), (1, woman)):
                images = render(glyphs, [names.index(name)] * DRAWS, Augment(), torch.Generator().manual_seed(7))
                probs = judge(images, ["man", "woman"], bundle, "a {} " + neutral)
                right.append(float((probs.argmax(1) == truth).float().mean()))
            table.setdefault(neutral, {})[spec] = right
    print(
        f"Right share of {DRAWS} fresh renders of the man / woman variant, judged between 'a man NAME' and 'a woman NAME'\n"
    )
    print("| person | " + " | ".join(f"{m} (man / woman)" for m in models) + " |")
    print("|---|" + "---|" * len(models))
    for neutral, row in table.items():
        print(f"| {neutral} | " + " | ".join(f"{row[m][0]:.0%} / {row[m][1]:.0%}" for m in models) + " |")
    means = [sum(sum(row[m]) / 2 for row in table.values()) / len(table) for m in models]
    print("| **mean** | " + " | ".join(f"**{x:.0%}**" for x in means) + " |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["emoji", "emoji-judge", "emoji-gender-judge"])
