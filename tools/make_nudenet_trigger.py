"""Make clipinv/data/nudenet-trigger.png: an abstract pattern that NudeNet flags as exposed.

Why: the book must never show a NudeNet-flagged image unblurred, and a test can only check that if
something in the book *is* flagged. Toy-world inversions never are, and the project ships no nudity.
So this script inverts the detector itself (the paper's method, aimed at NudeNet): gradient ascent
on NudeNet's own "FEMALE_BREAST_EXPOSED" score, starting from grey, robust to rescaling and small
shifts. The result is coloured noise to a person and "exposed" to NudeNet: an adversarial example.

Needs `onnx2torch` (not a clipinv dependency; `pip install onnx onnx2torch`). Run once:
    python tools/make_nudenet_trigger.py --out clipinv/data/nudenet-trigger.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

TARGET = 3  # NudeNet's label index of FEMALE_BREAST_EXPOSED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="clipinv/data/nudenet-trigger.png")
    ap.add_argument("--size", type=int, default=160, help="side of the saved image (px)")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import nudenet
    import onnx
    from onnx2torch import convert

    torch.manual_seed(args.seed)
    net = convert(onnx.load(str(Path(nudenet.__file__).parent / "320n.onnx"))).eval()
    for p in net.parameters():
        p.requires_grad_(False)

    logit = (0.5 * torch.randn(1, 3, args.size, args.size)).requires_grad_(True)  # noise around grey
    opt = torch.optim.Adam([logit], lr=0.05)
    for step in range(args.steps):
        img = torch.sigmoid(logit)
        scores = []
        for _ in range(2):  # expectation over the ways the image may be shown: scale, shift, padding
            side = int(torch.randint(160, 321, ()).item())
            x = F.interpolate(img, size=(side, side), mode="bilinear", align_corners=False)
            ox, oy = (int(torch.randint(0, 320 - side + 1, ()).item()) for _ in range(2))
            inside = F.pad(torch.ones_like(x), (ox, 320 - side - ox, oy, 320 - side - oy))
            background = float(torch.randint(0, 3, ()).item()) / 2  # black, grey or white page around it
            canvas = F.pad(x, (ox, 320 - side - ox, oy, 320 - side - oy)) + (1 - inside) * background
            out = net(canvas)[0]  # [22, anchors]: box (4) + 18 class scores
            scores.append(out[4 + TARGET].max())
        worst = torch.stack(scores).min()
        loss = -torch.log(worst.clamp_min(1e-30))  # log: the score starts near 0, where it is flat
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            print(f"step {step}: worst-case score {worst.item():.3g}", flush=True)
    arr = (torch.sigmoid(logit)[0].permute(1, 2, 0).detach().numpy() * 255).round().astype(np.uint8)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(args.out)

    from nudenet import NudeDetector

    found = NudeDetector().detect(np.ascontiguousarray(arr[:, :, ::-1]))
    print(f"wrote {args.out}; NudeNet on the saved PNG: {found}")


if __name__ == "__main__":
    main()
