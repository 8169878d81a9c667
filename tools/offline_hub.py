"""A dress rehearsal of the paper profile, offline: random weights where open_clip's loader looks for
the pretrained ones, so the real loading code runs on a machine that never downloaded them.

`hub_file(spec)` is the Hugging Face hub file open_clip 3.3.0 reads for a pretrained tag: its
`pretrained.py` names each tag's ``hf_hub`` entry ``ORG/NAME/FILE`` (``ORG/NAME/``: the default
``open_clip_pytorch_model.bin``), and `download_pretrained_from_hf` tries the safetensors version of
that file first (``open_clip_model.safetensors``). `write_weights(hub, specs)` writes random weights
there (`open_clip.create_model(ARCH)` with a seed of each spec's own, never `ARCH:random`'s 0, so a
test can tell them apart) in the hub cache's layout:

    HUB/models--ORG--NAME/snapshots/COMMIT/FILE
    HUB/models--ORG--NAME/refs/main            (holds COMMIT)

With ``HF_HUB_CACHE=HUB`` and ``HF_HUB_OFFLINE=1`` (`offline_env`), `clipinv.load_model(spec)` then
loads them through open_clip's pretrained path, as it would load the downloaded weights.

`PeakMemory` samples the resident memory of this process's children (a notebook's kernel) while a
section runs. `tools/dress_rehearsal.py` runs every section this way; tests/test_dress_rehearsal.py
runs a few.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import zlib
from pathlib import Path

from clipinv.errors import ClipinvError


def profile_specs(r: Path, profile: str) -> list[str]:
    """The pretrained open_clip specs (ARCH:TAG) a profile names, in order: models, judges, lists."""
    from clipinv.book.runner import load_profile

    prof = load_profile(r, profile)
    blocks = [prof["defaults"], *prof["sections"].values()]
    found = []
    for block in blocks:
        for key in ("model", "judge", "models"):
            value = (block or {}).get(key)
            for spec in value if isinstance(value, list) else [value]:
                if isinstance(spec, str) and ":" in spec and not spec.endswith(":random"):
                    found.append(spec)
    return list(dict.fromkeys(found))


def hub_file(spec: str) -> tuple[str, str]:
    """(hub repository id, file name) open_clip reads for the pretrained spec ARCH:TAG."""
    import open_clip
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    arch, _, tag = spec.partition(":")
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg or not cfg.get("hf_hub"):
        raise ClipinvError(f"open_clip names no Hugging Face hub file for {spec!r}: a rehearsal cannot stand in for it")
    repo, filename = os.path.split(cfg["hf_hub"])
    filename = filename or HF_WEIGHTS_NAME
    if filename == HF_WEIGHTS_NAME:
        filename = HF_SAFE_WEIGHTS_NAME
    elif filename.endswith((".bin", ".pth")):
        filename = filename[:-4] + ".safetensors"
    return repo, filename


def seed_of(spec: str) -> int:
    return zlib.crc32(spec.encode()) % (2**31 - 1) + 1


def write_weights(hub, specs, log=print) -> dict:
    """Random weights for each spec where the hub cache `hub` keeps the real ones; a spec already
    written (its seed recorded beside it) is kept. Returns {spec: path}."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    hub = Path(hub)
    paths = {}
    for spec in specs:
        repo, filename = hub_file(spec)
        folder = hub / f"models--{repo.replace('/', '--')}"
        commit = hashlib.sha1(f"clipinv rehearsal {spec}".encode()).hexdigest()
        path = folder / "snapshots" / commit / filename
        marker = path.with_name(path.name + ".clipinv.json")
        paths[spec] = path
        if path.is_file() and marker.is_file() and json.loads(marker.read_text()).get("seed") == seed_of(spec):
            continue
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_of(spec))
            model = open_clip.create_model(spec.partition(":")[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(path))
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / "main").write_text(commit)
        marker.write_text(json.dumps({"spec": spec, "seed": seed_of(spec)}))
        log(f"[rehearsal] {spec}: random weights as {repo}/{filename} in {time.perf_counter() - t0:.1f} s")
        del model, state
    return paths


def offline_env(hub) -> dict:
    """The environment under which open_clip reads `hub` and never the network."""
    return {"HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"}


def use_offline_hub(hub) -> None:
    """Point this process (and the kernels it starts) at `hub`, offline, including a
    huggingface_hub already imported (it reads its settings once, on import)."""
    os.environ.update(offline_env(hub))
    try:
        from huggingface_hub import constants
    except ImportError:
        return
    constants.HF_HUB_CACHE = str(hub)
    constants.HF_HUB_OFFLINE = True


class PeakMemory:
    """The largest resident memory of this process's children (summed over the tree) while the
    `with` block runs, sampled every `every` seconds: `peak_bytes`."""

    def __init__(self, every: float = 0.2):
        self.every = every
        self.peak_bytes = 0
        self._stop = threading.Event()

    def _sample(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # a child that ended between the listing and the reading
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    @property
    def peak_gb(self) -> float:
        return self.peak_bytes / 1e9
