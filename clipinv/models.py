"""Load any CLIP as a frozen `ModelBundle`, named the way open_clip names models.

Specs:
- ``ARCH:TAG``         a pretrained tag open_clip lists (``ViT-B-16:openai``, the paper's model);
- ``hf-hub:ORG/REPO``  an open_clip model on the Hugging Face hub;
- ``ARCH:PATH``        an architecture with a local checkpoint (``.safetensors``; ``.pt``/``.bin``
                       only through ``torch.load(weights_only=True)``);
- ``PATH``             a local ``.safetensors`` with an ``open_clip_config.json`` beside it;
- ``ARCH:random``      explicit random initialisation (seed 0), for benchmarks and smoke tests;
- ``toy``, ``toy-judge`` the shipped toy-world models (see `clipinv.toy`);
- ``PATH``             a toy CLIP that ``clipinv toy train --out PATH`` saved (its card ``.json`` beside it).

Weights that are missing offline raise a one-line `ClipinvError`; nothing ever falls back to
random weights silently.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .errors import ClipinvError

DEFAULT_SPEC = "ViT-B-16:openai"
OFFLINE_ALTERNATIVES = "toy, toy-judge, ARCH:random (e.g. ViT-B-16:random), or ARCH:/path/to/weights.safetensors"


@dataclass(eq=False)
class ModelBundle:
    """A frozen CLIP with everything inversion and judging need."""

    model: nn.Module  # has encode_image(normalised pixels) and encode_text(tokens)
    tokenizer: Callable[..., torch.Tensor]  # tokenizer(texts, context_length=None) -> LongTensor
    spec: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    context_length: int
    weights_hash: str
    default_recipe: Any = None  # a clipinv.invert.Recipe, or None for the paper's
    card: dict = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def is_stand_in(self) -> bool:
        """True for models whose outputs do not show what a pretrained CLIP does."""
        return self.spec.endswith(":random") or self.spec.startswith("toy") or "world" in self.card

    def to(self, device) -> "ModelBundle":
        self.model.to(device)
        return self

    def count_tokens(self, text: str) -> int:
        """Tokens the prompt takes, start and end tokens included."""
        ids = self.tokenizer([text], context_length=max(1024, 8 * len(text) + 8))
        return int((ids != 0).sum())

    def tokenize(self, texts: list[str], truncate: bool = False) -> torch.Tensor:
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ClipinvError(f"prompt {text!r} is empty: give a non-blank prompt")
            if not truncate:
                n = self.count_tokens(text)
                if n > self.context_length:
                    raise ClipinvError(
                        f"prompt {text[:40]!r}... takes {n} tokens but {self.spec} reads at most "
                        f"{self.context_length}: shorten it or pass truncate=True (--truncate)"
                    )
        return self.tokenizer(texts, context_length=self.context_length)

    @torch.no_grad()
    def encode_text(self, texts: list[str], truncate: bool = False) -> torch.Tensor:
        """Unit-norm text features, fp32, shape [len(texts), D]."""
        tokens = self.tokenize(list(texts), truncate=truncate).to(self.device)
        feats = self.model.encode_text(tokens).float()
        return feats / feats.norm(dim=-1, keepdim=True)

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """[0,1] pixels at the model's size -> the model's input."""
        mean = torch.tensor(self.mean, device=pixels.device, dtype=pixels.dtype).view(3, 1, 1)
        std = torch.tensor(self.std, device=pixels.device, dtype=pixels.dtype).view(3, 1, 1)
        return (pixels - mean) / std

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unit-norm image features of [N,3,H,W] pixels in [0,1] (resized to the input size)."""
        if pixels.shape[-1] != self.image_size or pixels.shape[-2] != self.image_size:
            pixels = torch.nn.functional.interpolate(
                pixels, size=(self.image_size, self.image_size), mode="bicubic", align_corners=False
            )
        feats = self.model.encode_image(self.normalise(pixels)).float()
        return feats / feats.norm(dim=-1, keepdim=True)

    @property
    def logit_scale(self) -> float:
        scale = getattr(self.model, "logit_scale", None)
        return float(scale.exp()) if scale is not None else 100.0


def weights_hash(model: nn.Module) -> str:
    """sha256 over the state dict (names, shapes, dtypes, bytes): identifies weights, not files."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def _freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _open_clip():
    import open_clip

    return open_clip


def known_specs() -> list[str]:
    """Every spec `load_model` understands by name (local paths aside)."""
    from .toy import TOY_MODELS

    oc = _open_clip()
    specs = list(TOY_MODELS)
    specs += [f"{arch}:{tag}" for arch, tag in oc.list_pretrained()]
    specs += [f"{arch}:random" for arch in oc.list_models()]
    return specs


def _unknown(spec: str, why: str) -> ClipinvError:
    close = difflib.get_close_matches(spec, known_specs(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `clipinv models` lists the known specs"
    return ClipinvError(f"unknown model spec {spec!r} ({why}){hint}")


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


def _bundle_from_open_clip(model, arch: str, spec: str) -> ModelBundle:
    oc = _open_clip()
    _freeze(model)
    visual = model.visual
    size = visual.image_size if hasattr(visual, "image_size") else 224
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    mean = tuple(getattr(visual, "image_mean", None) or oc.OPENAI_DATASET_MEAN)
    std = tuple(getattr(visual, "image_std", None) or oc.OPENAI_DATASET_STD)
    tok = oc.get_tokenizer(arch)
    ctx = int(getattr(model, "context_length", None) or getattr(tok, "context_length", 77))
    return ModelBundle(
        model=model, tokenizer=tok, spec=spec, image_size=size, mean=mean, std=std,
        context_length=ctx, weights_hash=weights_hash(model),
    )


def _create(arch: str, spec: str, **kw):
    oc = _open_clip()
    if arch not in oc.list_models() and not arch.startswith("hf-hub:"):
        raise _unknown(spec, f"open_clip has no architecture {arch!r}")
    return oc.create_model(arch, **kw)


def load_model(spec: str = DEFAULT_SPEC, device: str | torch.device | None = None) -> ModelBundle:
    """Load a frozen CLIP by spec (see the module docstring). `device` defaults to cpu."""
    if not isinstance(spec, str) or not spec.strip():
        raise ClipinvError("model spec is empty: give e.g. 'toy' or 'ViT-B-16:openai'")
    spec = spec.strip()
    device = torch.device(device or "cpu")
    from .toy import TOY_MODELS, is_toy_checkpoint, load_toy

    if spec in TOY_MODELS or is_toy_checkpoint(spec):  # shipped, or saved by `clipinv toy train`
        return load_toy(spec).to(device)

    path = Path(spec)
    if spec.endswith((".safetensors", ".pt", ".bin", ".pth")) and ":" not in spec.replace(":\\", ""):
        if not path.is_file():
            raise ClipinvError(f"no checkpoint at {spec}: check the path")
        cfg = path.parent / "open_clip_config.json"
        if not cfg.is_file():
            raise ClipinvError(
                f"checkpoint {spec} has neither an open_clip_config.json nor a toy model card ({path.stem}.json) "
                f"beside it: name its architecture as ARCH:{spec}"
            )
        arch = json.loads(cfg.read_text()).get("model_name") or json.loads(cfg.read_text()).get("arch")
        if not arch:
            raise ClipinvError(f"{cfg} names no model_name: add it, or use ARCH:{spec}")
        spec = f"{arch}:{spec}"

    if spec.startswith("hf-hub:"):
        return _load_pretrained(spec, spec, None, device)
    if ":" not in spec:
        raise _unknown(spec, "expected ARCH:TAG, hf-hub:ORG/REPO, a checkpoint path or a toy model")
    arch, tag = spec.split(":", 1)
    if tag == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = _create(arch, spec)
        return _bundle_from_open_clip(model, arch, spec).to(device)
    if tag.endswith((".safetensors", ".pt", ".bin", ".pth")) or os.path.sep in tag:
        state = read_state_dict(tag)
        model = _create(arch, spec)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ClipinvError(
                f"checkpoint {tag} does not fit {arch}: {len(missing)} missing and {len(unexpected)} "
                f"unexpected tensors (e.g. {(list(missing) + list(unexpected))[0]}): check the architecture"
            )
        return _bundle_from_open_clip(model, arch, spec).to(device)
    return _load_pretrained(spec, arch, tag, device)


def _online(host: str = "huggingface.co") -> bool:
    """Whether the weights host resolves (a DNS lookup fails at once where there is no network)."""
    import socket

    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def _load_pretrained(spec: str, arch: str, tag: str | None, device) -> ModelBundle:
    oc = _open_clip()
    if tag is not None and tag not in oc.list_pretrained_tags_by_model(arch):
        raise _unknown(spec, f"open_clip lists no pretrained tag {tag!r} for {arch!r}")
    from huggingface_hub import constants as hf_constants

    saved = hf_constants.HF_HUB_OFFLINE
    if not _online():  # use the local cache only: fail in a second instead of retrying for a minute
        hf_constants.HF_HUB_OFFLINE = True
    try:
        model = _create(arch, spec, pretrained=tag) if tag else oc.create_model(arch)
    except ClipinvError:
        raise
    except Exception as e:
        cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
            os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub"
        )
        raise ClipinvError(
            f"weights for {spec} could not be loaded ({type(e).__name__}); they are not in the cache "
            f"{cache} and could not be downloaded: connect to the internet once, or use an offline "
            f"model: {OFFLINE_ALTERNATIVES}"
        ) from None
    finally:
        hf_constants.HF_HUB_OFFLINE = saved
    return _bundle_from_open_clip(model, arch, spec).to(device)
