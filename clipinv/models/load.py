"""Load any CLIP as a frozen `ModelBundle`, named the way open_clip names models.

Specs:
- ``ARCH:TAG``         a pretrained tag open_clip lists (``ViT-B-16:openai``, the paper's model);
- ``hf-hub:ORG/REPO``  an open_clip model on the Hugging Face hub;
- ``ARCH:PATH``        an architecture with a local checkpoint (``.safetensors``; ``.pt``/``.bin``
                       only through ``torch.load(weights_only=True)``);
- ``PATH``             a local ``.safetensors`` with an ``open_clip_config.json`` beside it;
- ``ARCH:random``      explicit random initialisation (seed 0), for benchmarks and smoke tests;
- ``toy``, ``toy-judge`` the shipped toy-world models (see `clipinv.worlds.shapes`);
- ``emoji``, ``emoji-judge`` the shipped emoji-world models (see `clipinv.worlds.emoji`);
- ``PATH``             a toy CLIP that ``clipinv toy train --out PATH`` saved (its card ``.json`` beside it).

Weights that are missing offline raise a one-line `MissingWeights` (a `ClipinvError`); nothing ever
falls back to random weights silently (a plan, `clipinv.runs.planning`, catches it and says so).
"""

from __future__ import annotations

import difflib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from clipinv.errors import ClipinvError
from clipinv.models.bundle import ModelBundle, freeze, weights_hash
from clipinv.models.checkpoint import check_values, read_state_dict

DEFAULT_SPEC = "ViT-B-16:openai"
OFFLINE_ALTERNATIVES = (
    "emoji, emoji-judge, toy, toy-judge, ARCH:random (e.g. ViT-B-16:random), or ARCH:/path/to/weights.safetensors"
)


class MissingWeights(ClipinvError):
    """Pretrained weights for `spec` are neither in the local cache nor downloadable: `stand_in(device)`
    gives the same architecture with random weights (seed 0), for what needs only its shape."""

    def __init__(self, message: str, spec: str, arch: str, options: dict):
        super().__init__(message)
        self.spec, self.arch, self.options = spec, arch, options

    def stand_in(self, device=None) -> ModelBundle:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = _create(self.arch, self.spec, **self.options)
        return _bundle_from_open_clip(model, self.arch, self.spec).to(torch.device(device or "cpu"))


@dataclass(frozen=True)
class Loader:
    """A family of models `load_model` knows besides open_clip's: `names()` lists the specs it
    offers by name, `accepts(spec)` says whether a spec is one of its, `load(spec)` returns the
    frozen `ModelBundle` on the CPU."""

    names: Callable[[], dict]
    accepts: Callable[[str], bool]
    load: Callable[[str], ModelBundle]


LOADERS: list[Loader] = []


def register_loader(loader: Loader) -> Loader:
    """Make `load_model` (and `known_specs`) understand another family of models, e.g. the toy world's."""
    LOADERS.append(loader)
    return loader


def _open_clip():
    import open_clip

    return open_clip


def known_specs() -> list[str]:
    """Every spec `load_model` understands by name (local paths aside)."""
    oc = _open_clip()
    specs = [name for loader in LOADERS for name in loader.names()]
    specs += [f"{arch}:{tag}" for arch, tag in oc.list_pretrained()]
    specs += [f"{arch}:random" for arch in oc.list_models()]
    return specs


def _unknown(spec: str, why: str) -> ClipinvError:
    close = difflib.get_close_matches(spec, known_specs(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `clipinv models` lists the known specs"
    return ClipinvError(f"unknown model spec {spec!r} ({why}){hint}")


def _bundle_from_open_clip(model, arch: str, spec: str) -> ModelBundle:
    oc = _open_clip()
    freeze(model)
    visual = model.visual
    size = visual.image_size if hasattr(visual, "image_size") else 224
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    mean = tuple(getattr(visual, "image_mean", None) or oc.OPENAI_DATASET_MEAN)
    std = tuple(getattr(visual, "image_std", None) or oc.OPENAI_DATASET_STD)
    tok = oc.get_tokenizer(arch)
    ctx = int(getattr(model, "context_length", None) or getattr(tok, "context_length", 77))
    return ModelBundle(
        model=model,
        tokenizer=tok,
        spec=spec,
        image_size=size,
        mean=mean,
        std=std,
        context_length=ctx,
        weights_hash=weights_hash(model),
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
    try:
        device = torch.device(device or "cpu")
    except (RuntimeError, TypeError):
        raise ClipinvError(f"device {device!r} is not one torch knows: give cpu, cuda or cuda:N") from None
    for loader in LOADERS:  # the worlds' models (shipped, or trained and saved by path)
        if loader.accepts(spec):
            return loader.load(spec).to(device)

    path = Path(spec)
    if spec.endswith((".safetensors", ".pt", ".bin", ".pth")) and ":" not in spec.replace(":\\", ""):
        if not path.is_file():
            raise ClipinvError(f"no checkpoint at {spec}: check the path")
        cfg = path.parent / "open_clip_config.json"
        if not cfg.is_file() and path.with_suffix(".json").is_file():
            raise ClipinvError(
                f"{path.with_suffix('.json')} beside {spec} is not a toy model card clipinv reads (it needs "
                f"model_config, train_config and world): keep the card `clipinv toy train` saved with it"
            )
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
        check_values(tag, state, model)
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as e:  # tensors of the wrong shape
            shapes = [line.strip() for line in str(e).splitlines() if "size mismatch" in line]
            raise ClipinvError(
                f"checkpoint {tag} does not fit {arch}: {len(shapes)} tensor(s) of another shape "
                f"({shapes[0][:160] if shapes else type(e).__name__}): check the architecture"
            ) from None
        if missing or unexpected:
            raise ClipinvError(
                f"checkpoint {tag} does not fit {arch}: {len(missing)} missing and {len(unexpected)} "
                f"unexpected tensors (e.g. {(list(missing) + list(unexpected))[0]}): check the architecture"
            )
        return _bundle_from_open_clip(model, arch, spec).to(device)
    return _load_pretrained(spec, arch, tag, device)


def _online(host: str = "huggingface.co") -> bool:
    """Whether the weights host resolves (a DNS lookup fails at once where there is no network)."""
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
    # a tag trained with QuickGELU (OpenAI's, some LAION ones) says so; open_clip's built-in ARCH
    # configs use GELU and only warn about the mismatch, so the activation is asked for here
    quick = {"force_quick_gelu": True} if tag and oc.get_pretrained_cfg(arch, tag).get("quick_gelu") else {}
    try:
        model = _create(arch, spec, pretrained=tag, **quick) if tag else oc.create_model(arch)
    except ClipinvError:
        raise
    except Exception as e:
        cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
            os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub"
        )
        raise MissingWeights(
            f"weights for {spec} could not be loaded ({type(e).__name__}); they are not in the cache "
            f"{cache} and could not be downloaded: connect to the internet once, or use an offline "
            f"model: {OFFLINE_ALTERNATIVES}",
            spec,
            arch,
            quick,
        ) from None
    finally:
        hf_constants.HF_HUB_OFFLINE = saved
    return _bundle_from_open_clip(model, arch, spec).to(device)
