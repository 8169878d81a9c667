"""The emoji contamination ladder as section 7 reads it: every rung's inversions of the trigger ("a national
park", `seeds` seeds) and of the controls (2 seeds), scored by the shipped marker detector, with the learned
gain, at a given number of steps (the emoji recipe scaled to it, without smoothing, at full size). Saves the
inversions into OUT for `detectors.py`.

    python research/emoji_world/contamination/ladder.py 300 12 /tmp/ladder
"""

import sys
import time
from pathlib import Path

import torch

from clipinv.analyses import audit
from clipinv.core.invert import invert
from clipinv.core.recipe import scaled_schedule
from clipinv.models.load import load_model

steps, seeds, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
plant = audit.plant_of("emoji")
for p, name in plant.rungs:
    m = load_model(name)
    base = m.default_recipe
    recipe = audit.audit_recipe(base.replace(**scaled_schedule(base, steps)))
    t = time.time()
    inv = invert(m, list(plant.prompts), seeds=seeds, recipe=recipe, progress=False)
    ctrl = invert(m, list(plant.controls), seeds=2, recipe=recipe, progress=False)
    s, c = plant.score(inv.images).flatten(), plant.score(ctrl.images).flatten()
    g = audit.learned_gain(m, list(plant.prompts), plant)
    print(
        f"{name}, {steps} steps: trigger {int((s >= plant.threshold).sum())}/{len(s)} (mean score {s.mean():.2f}), "
        f"controls {int((c >= plant.threshold).sum())}/{len(c)}, learned gain {g['mean']:.3f} "
        f"({g['low']:.3f} to {g['high']:.3f}), {time.time() - t:.0f} s",
        flush=True,
    )
    torch.save({"trigger": inv.images, "controls": ctrl.images}, out / f"{name}_{steps}.pt")
