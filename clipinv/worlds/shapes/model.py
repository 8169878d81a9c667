"""The toy CLIP itself: its knobs (`ModelConfig`), open_clip's own `CLIP` class built from them, the
input normalisation, and saving / loading a model with its card (safetensors + card .json)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from clipinv.core.transform import Normalize
from clipinv.errors import ClipinvError
from clipinv.models.bundle import freeze
from clipinv.models.checkpoint import check_values, read_state_dict
from clipinv.worlds.shapes.tokenizer import VOCAB_SIZE

MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> the toy models' input, (x - MEAN) / STD (`transform.Normalize`)."""
    return Normalize(MEAN, STD).to(x.device)(x)


@dataclass(frozen=True)
class ModelConfig:
    embed_dim: int = 64
    image_size: int = 32
    patch_size: int = 8
    vision_width: int = 128
    vision_layers: int = 3
    vision_head_width: int = 32
    text_width: int = 96
    text_layers: int = 1
    text_heads: int = 4
    mlp_ratio: float = 2.0
    context_length: int = 12
    vocab_size: int = VOCAB_SIZE

    def vision_cfg(self) -> dict:
        return {
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "width": self.vision_width,
            "layers": self.vision_layers,
            "head_width": self.vision_head_width,
            "mlp_ratio": self.mlp_ratio,
        }

    def text_cfg(self) -> dict:
        return {
            "context_length": self.context_length,
            "vocab_size": self.vocab_size,
            "width": self.text_width,
            "heads": self.text_heads,
            "layers": self.text_layers,
            "mlp_ratio": self.mlp_ratio,
        }


def build_model(cfg: ModelConfig):
    # open_clip takes seconds to import: imported when a model is built, not with the package
    from open_clip.model import CLIP

    return CLIP(cfg.embed_dim, cfg.vision_cfg(), cfg.text_cfg())


CARD_KEYS = ("model_config", "train_config", "world")  # what every card `save` writes holds


def is_card(path: Path) -> bool:
    """Whether `path` is a model card `save` wrote."""
    try:
        card = json.loads(path.read_text())
    except (ValueError, OSError):
        return False
    return isinstance(card, dict) and set(CARD_KEYS) <= set(card)


def check_out(out: str | Path) -> Path:
    """`out` if `save` may write there: a .safetensors path whose weights and card (.json) either do not
    exist or are an earlier `save`'s; anything else there was not written by clipinv and is refused."""
    out = Path(out)
    if out.suffix != ".safetensors":
        raise ClipinvError(f"--out must end in .safetensors, got {out}")
    card = out.with_suffix(".json")
    for path in (out, card):
        if path.exists() and (not path.is_file() or not is_card(card)):
            raise ClipinvError(
                f"{path} exists and is not a toy model clipinv saved: choose another --out "
                f"(toy train writes PATH.safetensors and its card PATH.json)"
            )
    return out


def save(model, card: dict, out: str | Path):
    """The weights as `out` (.safetensors) and the card beside it (.json), each written whole to a
    temporary file and moved into place; files there that clipinv did not write are never replaced."""
    out = check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights, text = out.with_name(f".{out.name}.tmp"), out.with_name(f".{out.stem}.json.tmp")
    try:
        save_file(state, str(weights), metadata={"format": "pt"})
        text.write_text(json.dumps(card, indent=1) + "\n")
        os.replace(weights, out)
        os.replace(text, out.with_suffix(".json"))
    except OSError as e:
        raise ClipinvError(f"could not write {out} ({e.strerror}): free space there or choose another --out") from None
    finally:
        weights.unlink(missing_ok=True)
        text.unlink(missing_ok=True)
    # an open_clip_config.json would clash between toy and toy-judge; load_toy reads the card


def load(path: str | Path, card: dict | None = None):
    """Model (frozen), card and `ModelConfig` from a .safetensors saved by `train` (its card json beside it)."""
    path = Path(path)
    card = card or json.loads(path.with_suffix(".json").read_text())
    try:
        mc = ModelConfig(**card["model_config"])
        _ = [float(v) for v in (*card["mean"], *card["std"])]  # what loading as a bundle reads
        model = build_model(mc)
        state = read_state_dict(path)
        check_values(path, state, model)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ClipinvError(
                f"{path} does not fit its card's model config ({len(missing)} missing, {len(unexpected)} unexpected "
                f"tensors): keep the card .json that was saved with it"
            )
        return freeze(model), card, mc
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        if isinstance(e, ClipinvError):
            raise
        lines = [line.strip() for line in str(e).strip().splitlines()]
        what = (
            f"no field {e}" if isinstance(e, KeyError) else next((x for x in lines if "size mismatch" in x), lines[0])
        )
        raise ClipinvError(
            f"toy model {path} and its card {path.with_suffix('.json').name} do not fit together ({what[:200]}): "
            f"keep the pair `clipinv toy train` saved, or retrain it"
        ) from None
