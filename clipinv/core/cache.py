"""A results cache: one file per (model specs, weights hashes, recipe, prompt, seed, version).

Each entry is a single safetensors file written to a temporary name in the same folder and moved
into place with `os.replace`, which is atomic: a reader sees a whole entry or none, two processes
writing the same key each move a complete file (the last one wins), and an interrupted run leaves
at most a stray temporary file, never a half entry.

Each entry carries a checksum of its tensors (in the file's metadata) and is checked when read: an
entry that does not parse, whose bytes do not match its checksum, or whose tensors are not an image
[3, H, W] in [0, 1], a finite similarity and a finite history [steps, terms] counts as missing and is
recomputed (and replaced).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from clipinv.errors import ClipinvError


def checksum(tensors: dict) -> str:
    """sha256 of the tensors' names, dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def default_root() -> Path:
    return Path(os.environ.get("CLIPINV_CACHE") or Path.home() / ".cache" / "clipinv")


def default_cache() -> ResultCache | None:
    if os.environ.get("CLIPINV_NO_CACHE"):
        return None
    return ResultCache(default_root())


class ResultCache:
    def __init__(self, root):
        self.root = Path(root)

    @staticmethod
    def key(ident: dict, prompt: str, terms, seed: int) -> str:
        payload = json.dumps(
            {**ident, "prompt": prompt, "terms": [list(t) for t in terms], "seed": seed}, sort_keys=True, default=str
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def writable(self) -> None:
        """Fail in one line, before any work, where entries cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise ClipinvError(
                f"cannot write the results cache at {self.root} ({e.strerror}): "
                f"set CLIPINV_CACHE to a writable folder or pass cache=False (--no-cache)"
            ) from None

    def load(self, key: str) -> dict | None:
        """The entry's tensors, or None where there is none, it does not parse or its checksum fails."""
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            with safe_open(str(p), framework="pt") as f:
                stored = (f.metadata() or {}).get("sha256")
                t = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
        except Exception:  # a damaged file (disk trouble, manual edits): recompute rather than fail
            return None
        return t if stored == checksum(t) else None

    def save(self, key: str, tensors: dict) -> None:
        """Write `tensors` (with their checksum) as the entry `key`, atomically; a failure is one line."""
        p = self.path(key)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=p.parent)
            os.close(fd)
        except OSError as e:
            raise ClipinvError(
                f"cannot write the results cache at {self.root} ({e.strerror}): "
                f"set CLIPINV_CACHE to a writable folder or pass cache=False (--no-cache)"
            ) from None
        try:
            save_file(tensors, tmp, metadata={"sha256": checksum(tensors)})
            os.replace(tmp, p)
        except (OSError, SafetensorError) as e:  # a full disk
            raise ClipinvError(
                f"cannot write the results cache at {self.root} ({getattr(e, 'strerror', None) or e}): "
                f"free space there or set CLIPINV_CACHE to another folder"
            ) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def get(self, key: str, steps: int | None = None) -> dict | None:
        """The inversion entry, or None where there is none or it is damaged (module docstring); `steps`:
        the history's expected length."""
        t = self.load(key)
        if t is None or set(t) != {"image", "similarity", "history"}:
            return None
        image, similarity, history = t["image"], t["similarity"], t["history"]
        sound = (
            all(v.dtype == torch.float32 and bool(torch.isfinite(v).all()) for v in t.values())
            and image.dim() == 3
            and image.shape[0] == 3
            and image.numel() > 0
            and bool(((image >= 0) & (image <= 1)).all())
            and similarity.shape == (1,)
            and abs(float(similarity[0])) <= 1 + 1e-4
            and history.dim() == 2
            and (steps is None or history.shape[0] == steps)
        )
        return {"image": image, "similarity": similarity[0], "history": history} if sound else None

    def put(self, key: str, entry: dict) -> None:
        self.save(
            key,
            {
                "image": entry["image"].float().contiguous(),
                "history": entry["history"].float().contiguous(),
                "similarity": torch.as_tensor(entry["similarity"]).reshape(1).float(),
            },
        )

    def __len__(self) -> int:
        # entries live in two-character folders (toy models trained for the book share the root)
        return sum(1 for _ in self.root.glob("??/*.safetensors")) if self.root.is_dir() else 0
