"""The emoji CLIP: its knobs (`ModelConfig`), open_clip's own `CLIP` class built from them, saving /
loading one with its card (half-precision safetensors + card .json), and the `ModelBundle` of a saved one."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from safetensors.torch import save_file

from clipinv.models.bundle import ModelBundle, freeze, weights_hash
from clipinv.models.checkpoint import check_values, read_state_dict
from clipinv.worlds.emoji import atlas
from clipinv.worlds.emoji.atlas import SIDE
from clipinv.worlds.emoji.tokenizer import CONTEXT, EmojiTokenizer

MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


@dataclass(frozen=True)
class ModelConfig:
    embed_dim: int = 128
    image_size: int = SIDE
    patch_size: int = 8
    width: int = 128  # of both towers
    vision_layers: int = 4
    text_layers: int = 3
    head_width: int = 32
    mlp_ratio: float = 4.0
    context_length: int = CONTEXT
    vocab_size: int = 0  # the tokenizer's, set from the world's names


def make_model(mc: ModelConfig):
    """open_clip's `CLIP`, randomly initialised to `mc`."""
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    vision = CLIPVisionCfg(
        layers=mc.vision_layers,
        width=mc.width,
        head_width=mc.head_width,
        patch_size=mc.patch_size,
        image_size=mc.image_size,
        mlp_ratio=mc.mlp_ratio,
    )
    text = CLIPTextCfg(
        context_length=mc.context_length,
        vocab_size=mc.vocab_size,
        width=mc.width,
        heads=mc.width // mc.head_width,
        layers=mc.text_layers,
        mlp_ratio=mc.mlp_ratio,
    )
    return open_clip.CLIP(embed_dim=mc.embed_dim, vision_cfg=vision, text_cfg=text)


def save(model, card: dict, path: Path) -> None:
    """Weights in half precision + the card beside them (`path` with .json), each replaced whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp.safetensors")
    save_file(state, tmp)
    os.replace(tmp, path)
    tmp = path.with_suffix(".tmp.json")
    tmp.write_text(json.dumps(card, indent=1) + "\n")
    os.replace(tmp, path.with_suffix(".json"))


def load(path: Path, card: dict):
    """A frozen float32 model from `save`'s files (safetensors only: nothing is unpickled)."""
    mc = ModelConfig(**card["model_config"])
    model = make_model(mc)
    state = read_state_dict(Path(path))
    check_values(path, state, model)
    state = {k: v.float() for k, v in state.items()}
    model.load_state_dict(state)
    return freeze(model), mc


@lru_cache(maxsize=1)
def world_tokenizer() -> EmojiTokenizer:
    """The tokenizer of the shipped world's names, built once (it tokenises every caption to find its ids)."""
    return EmojiTokenizer(atlas.names())


def bundle(
    path: Path, spec: str, default_recipe=None, tokenizer: EmojiTokenizer | None = None, card: dict | None = None
) -> ModelBundle:
    """The frozen `ModelBundle` of the model `save` wrote to `path` (its card .json beside it, unless `card`
    gives it already read); `tokenizer` (default: the world's) says which words the model never read
    (`training.tokenizer_of`)."""
    path = Path(path)
    card = card or json.loads(path.with_suffix(".json").read_text())
    model, mc = load(path, card)
    return ModelBundle(
        model=model,
        tokenizer=tokenizer or world_tokenizer(),
        spec=spec,
        image_size=mc.image_size,
        mean=tuple(card["mean"]),
        std=tuple(card["std"]),
        context_length=mc.context_length,
        weights_hash=weights_hash(model),
        default_recipe=default_recipe,
        card=card,
    )
