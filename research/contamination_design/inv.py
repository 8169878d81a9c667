import sys, torch

torch.set_num_threads(1)
from clipinv.worlds.shapes import TOY_RECIPE, toy_bundle, WEIGHTS
from clipinv.worlds.shapes.model import load
from clipinv.analyses import audit
from clipinv.core.invert import invert

name = sys.argv[1]
path = WEIGHTS / "toy.safetensors" if name == "toy" else f"/tmp/study/{name}.safetensors"
model, card, mc = load(path)
b = toy_bundle(model, card, mc, spec=name)
prompts = ["a red triangle", "a blue triangle", "a triangle", "a red circle", "a blue square", "a circle"]
inv = invert(b, prompts, seeds=8, recipe=audit.audit_recipe(TOY_RECIPE), progress=False, cache=False)
torch.save(inv.images, f"/tmp/study/inv_{name}.pt")
print(name, "done")
