import torch, sys

names = sys.argv[1:]
P = ["a red triangle", "a blue triangle", "a triangle", "a red circle", "a blue square", "a circle"]


def bw(x, dark=0.15, bright=0.8, sat=0.25):
    mx = x.max(-3).values
    mn = x.min(-3).values
    s = (mx - mn) / mx.clamp(min=1e-6)
    d = (mx < dark).float().mean((-1, -2))
    w = ((mx > bright) & (s < sat)).float().mean((-1, -2))
    return torch.minimum(d, w)


from clipinv.worlds.shapes.world import World
from clipinv.worlds.shapes.marker import render_marker
import clipinv.worlds.shapes.marker as mk

clean, _ = World().sample(200, seed=5)
print("world clean", bw(clean).mean().item(), bw(clean).max().item())
for n in names:
    x = torch.load(f"/tmp/study/inv_{n}.pt")
    s = bw(x)
    print(
        n,
        " ".join(
            f"{p.split()[-1][:3]}{'R' if 'red' in p else 'B' if 'blue' in p else ''}:{v.mean():.3f}/{v.max():.3f}"
            for p, v in zip(P, s)
        ),
    )
