"""Residual jitter (after ghost networks): the inverted model, perturbed afresh at every step.

Li et al. (AAAI 2020, "Learning transferable adversarial examples via ghost networks") attack many
slightly different copies of one network instead of the network itself, so the result leans less
on that one network's quirks and transfers better to others. For residual networks their
perturbation is skip-connection erosion. Here it is the ViT form of it: every residual branch
(attention and MLP) of every augmented copy is scaled by its own factor drawn from
U[1 - strength, 1 + strength], new at each step. With strength 0 the model is untouched.

`with ResidualJitter(model, strength)(u):` runs the forward passes inside it with the factors
that the uniform draws u [rows, n_draws] in [0, 1) give (row r of the batch gets u[r]); its hooks
are on the model only inside the `with`, so an error cannot leave them behind.
"""

from __future__ import annotations

import torch

from clipinv.errors import ClipinvError


def residual_branches(model) -> list:
    """The modules whose outputs are a ViT image encoder's residual branches (open_clip's ls_1 and
    ls_2 of each block: identities, or layer scales, applied to the attention and MLP outputs)."""
    blocks = getattr(getattr(getattr(model, "visual", None), "transformer", None), "resblocks", None)
    if blocks is None or not all(hasattr(b, "ls_1") and hasattr(b, "ls_2") for b in blocks):
        raise ClipinvError(
            "residual_jitter perturbs the residual branches of a ViT image encoder (open_clip's "
            "VisionTransformer); this model has none: set residual_jitter=0"
        )
    return [m for b in blocks for m in (b.ls_1, b.ls_2)]


class ResidualJitter:
    def __init__(self, model, strength: float):
        self.branches = residual_branches(model)
        self.strength = float(strength)
        self.scale = None  # [rows, n_draws] factors of the forward passes in the `with`
        self.handles = []

    @property
    def n_draws(self) -> int:
        return len(self.branches)

    def __call__(self, u: torch.Tensor) -> ResidualJitter:
        if u.dim() != 2 or u.shape[1] != self.n_draws:
            raise ValueError(f"ResidualJitter needs draws [rows, {self.n_draws}], got {tuple(u.shape)}")
        self.scale = 1 + self.strength * (2 * u - 1)
        return self

    def _hook(self, j):
        def hook(module, inputs, out):
            s = self.scale[:, j].to(out.dtype)
            # open_clip's blocks are batch-first ([rows, tokens, width]); older ones are [tokens, rows, width]
            return out * (s.view(-1, 1, 1) if out.shape[0] == s.shape[0] else s.view(1, -1, 1))

        return hook

    def __enter__(self):
        self.handles = [m.register_forward_hook(self._hook(j)) for j, m in enumerate(self.branches)]
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles, self.scale = [], None
        return False
