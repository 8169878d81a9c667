"""How many images fit in one batch: measured on a probe, against the memory free on the device.

`image_bytes` runs one probe forward pass of one augmented copy through each model, as the loop
runs it (resized to the model's input, normalised, autocast in the recipe's precision), and adds up
the tensors autograd keeps for the backward pass: that is what a step holds per copy, and it grows
linearly with the copies and the images of a batch. The model's own weights, shared by every image,
are not counted. `batch_size` divides the memory free on the device (the GPU's free memory, or the
machine's available memory on a CPU) by that, with headroom for the backward pass's transient
buffers. `bench/memory.py` compares the estimate with the peak memory a real step then uses.
"""

from __future__ import annotations

import psutil
import torch

from clipinv.core import param
from clipinv.core.transform import Normalize

# a step's peak memory over the tensors saved for its backward pass (gradients of the activations,
# transient buffers): bench/memory.py measures 1.6 for ViT-B-32 and ViT-S-32 and 2.0 for toy on the CPU
BACKWARD_FACTOR = 2.5
USABLE = 0.7  # share of the free memory a batch may take

_PROBED: dict = {}


def free_bytes(device: torch.device) -> int:
    """Memory free for a batch on `device`: the GPU's free memory, or the machine's available memory."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return int(psutil.virtual_memory().available)


def _storage_key(t: torch.Tensor):
    return (t.device, t.untyped_storage().data_ptr())


def copy_bytes(bundle, precision: str, device: torch.device) -> int:
    """Bytes autograd keeps for the backward pass of one augmented copy through `bundle`'s image
    encoder (measured once per model, precision and device)."""
    key = (bundle.weights_hash, bundle.image_size, precision, device.type)
    if key in _PROBED:
        return _PROBED[key]
    shared = {_storage_key(t) for t in list(bundle.model.parameters()) + list(bundle.model.buffers())}
    seen, total = set(), 0

    def keep(t):
        nonlocal total
        if isinstance(t, torch.Tensor):
            k = _storage_key(t)
            if k not in shared and k not in seen:
                seen.add(k)
                total += t.untyped_storage().nbytes()
        return t

    side = bundle.image_size
    x = torch.full((1, 3, side, side), 0.5, device=device, requires_grad=True)
    with (
        torch.enable_grad(),
        torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t),
        torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"),
    ):
        bundle.model.encode_image(Normalize(bundle.mean, bundle.std).to(device)(x * 1.0))
    _PROBED[key] = total  # the probe's graph is freed here, never run backward
    return total


def image_bytes(bundles, recipe, device: torch.device) -> int:
    """Memory one image of a batch takes in a step: its copies through every model, and its pixels,
    gradient and Adam moments at the final resolution."""
    side = recipe.resolution_schedule[-1][1]
    pixels = 4 * 3 * side * side * 4  # image, gradient, Adam's two moments (fp32)
    copies = recipe.n_augments * sum(copy_bytes(b, recipe.precision, device) for b in bundles)
    return copies + pixels + param.render_bytes(recipe)


def batch_size(bundles, recipe, device: torch.device, free: int | None = None) -> int:
    """Images per batch that fit in the free memory of `device` (at least 1)."""
    free = free_bytes(device) if free is None else free
    return max(1, int(USABLE * free / (BACKWARD_FACTOR * image_bytes(bundles, recipe, device))))
