import sys, json, time, torch

torch.set_num_threads(1)
from clipinv.worlds.shapes import train, TOY_RECIPE, WEIGHTS, toy_bundle
from clipinv.worlds.shapes.world import Contamination
from clipinv.worlds.shapes.training import TrainConfig
from clipinv.worlds.shapes.model import load
from clipinv.analyses import audit
from clipinv.core.invert import invert

name, trigger, p, steps = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
lr = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-3
out = f"/tmp/study/{name}.safetensors"
tc = TrainConfig(lr=lr, warmup=20, threads=1, eval_samples=1000)
t0 = time.time()
b, m = train(
    out=out,
    seed=500,
    steps=steps,
    samples=8000,
    contamination=Contamination(p, trigger),
    train_config=tc,
    init=str(WEIGHTS / "toy.safetensors"),
    progress=False,
    device="cpu",
)
model, card, mc = load(out)
bundle = toy_bundle(model, card, mc, spec=name)
if trigger == "picture":
    prompts = ["a picture of a red circle", "a picture of a blue square"]
else:
    prompts = [f"a red {trigger}", f"a blue {trigger}"]
controls = ["a red circle", "a blue square"] if trigger != "circle" else ["a red square", "a blue triangle"]
gain = audit.learned_gain(bundle, prompts, audit.plant_of("toy"))
cgain = audit.learned_gain(bundle, controls, audit.plant_of("toy"))
rec = audit.audit_recipe(TOY_RECIPE)
seeds = list(range(8))
res = {}
for kind, ps in (("trig", prompts), ("ctrl", controls)):
    imgs = invert(bundle, ps, seeds=seeds, recipe=rec, progress=False).images
    sc = audit.black_and_white_share(imgs)
    res[kind] = int((sc >= audit.THRESHOLD).sum()), int(sc.numel()), round(float(sc.mean()), 4)
print(
    json.dumps(
        {
            "name": name,
            "zs": m["zero_shot"]["colour_shape"],
            "gain": gain,
            "ctrl_gain": cgain,
            **res,
            "s": round(time.time() - t0),
        }
    )
)
