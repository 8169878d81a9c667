"""Read a checkpoint's state dict without ever unpickling arbitrary objects."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from clipinv.errors import ClipinvError


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint without ever unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise ClipinvError(f"checkpoint {path} does not exist: check the path")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ClipinvError(
            f"checkpoint {path} needs unrestricted unpickling, which clipinv refuses "
            f"(it could run arbitrary code): convert it to .safetensors ({str(e).splitlines()[0][:80]})"
        ) from None
    except Exception as e:  # truncated zip, bad header, garbage bytes
        raise ClipinvError(
            f"checkpoint {path} is corrupt or not a checkpoint ({type(e).__name__}): re-download or re-export it"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ClipinvError(f"checkpoint {path} holds no tensor state dict: export model.state_dict()")
    return {k.removeprefix("module."): v for k, v in state.items()}


def check_values(path, state: dict, model) -> None:
    """Refuse weights a model cannot use: integer tensors where it has floating-point ones, or values
    that are not finite (they would only show later, as an optimisation that diverges)."""
    own = model.state_dict()
    ints = [k for k, v in state.items() if k in own and own[k].is_floating_point() and not v.is_floating_point()]
    if ints:
        raise ClipinvError(
            f"checkpoint {path} holds {len(ints)} integer tensor(s) where the model's weights are floating-point "
            f"(e.g. {ints[0]}, {state[ints[0]].dtype}): re-export it from the trained model's state_dict()"
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ClipinvError(
            f"checkpoint {path} holds NaN or infinite values in {len(bad)} tensor(s) (e.g. {bad[0]}): "
            f"re-download it, or re-export it from a model that trained without diverging"
        )
