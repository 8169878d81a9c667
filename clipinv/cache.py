"""A results cache: one file per (model specs, weights hashes, recipe, prompt, seed, version).

Each entry is a single safetensors file written to a temporary name in the same folder and moved
into place with `os.replace`, which is atomic: a reader sees a whole entry or none, two processes
writing the same key each move a complete file (the last one wins), and an interrupted run leaves
at most a stray temporary file, never a half entry. Unreadable entries count as missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .errors import ClipinvError


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

    def get(self, key: str) -> dict | None:
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            t = load_file(str(p))
            return {"image": t["image"], "similarity": t["similarity"][0], "history": t["history"]}
        except Exception:  # a damaged file (disk trouble, manual edits): recompute rather than fail
            return None

    def put(self, key: str, entry: dict) -> None:
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
            tensors = {
                "image": entry["image"].contiguous(),
                "history": entry["history"].contiguous(),
                "similarity": torch.as_tensor(entry["similarity"]).reshape(1).float(),
            }
            save_file(tensors, tmp)
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def __len__(self) -> int:
        # entries live in two-character folders (toy models trained for the book share the root)
        return sum(1 for _ in self.root.glob("??/*.safetensors")) if self.root.is_dir() else 0
