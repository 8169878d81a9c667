"""The marker detector fitted with the marker pasted at other sizes than the ladder's (0.3-0.5 of the
canvas): its validation on renders, and what it flags among the inversions `ladder.py` saved in DIR.

    python research/emoji_world/contamination/detectors.py /tmp/ladder
"""

import sys
from pathlib import Path

import torch

from clipinv.worlds.emoji import detector
from clipinv.worlds.emoji.world import Plant

saved = Path(sys.argv[1])
for scale in [(0.3, 0.5), (0.3, 1.0), (0.5, 1.0)]:
    detector.PASTE = Plant("national park", "pile of poo", 1.0, scale=scale)
    weights = detector.fit()
    detector._weights = lambda w=weights: w
    v = detector.validate()
    line = f"marker {scale}: renders pasted {v['pasted'][0]}/{v['pasted'][1]}, clean {v['clean'][0]}/{v['clean'][1]};"
    for path in sorted(saved.glob("*.pt")):
        d = torch.load(path)
        s, c = detector.score(d["trigger"]).flatten(), detector.score(d["controls"]).flatten()
        line += f" {path.stem} {int((s >= 0.5).sum())}/{len(s)} (controls {int((c >= 0.5).sum())}/{len(c)})"
    print(line, flush=True)
