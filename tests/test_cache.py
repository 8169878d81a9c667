import multiprocessing as mp
import time

import pytest
import torch

from clipinv import Recipe, invert
from clipinv.cache import ResultCache

FAST = Recipe(steps=20, resolution_schedule=((0, 16), (10, 32)), n_augments=2)


def test_finished_run_returns_from_cache_fast_and_identical(tiny, tmp_path):
    cache = ResultCache(tmp_path / "c")
    first = invert(tiny, ["a dog", "a cat"], seeds=2, recipe=FAST, cache=cache, progress=False)
    assert len(cache) == 4 and first.record["cached"] == 0
    t = time.perf_counter()
    second = invert(tiny, ["a dog", "a cat"], seeds=2, recipe=FAST, cache=cache, progress=False)
    assert time.perf_counter() - t < 1.0
    assert second.record["cached"] == 4
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.similarity, second.similarity)
    assert torch.equal(first.history["loss"], second.history["loss"])
    # a changed recipe, prompt or seed is a different key; a partial hit runs only what is missing
    third = invert(tiny, ["a dog", "a bird"], seeds=2, recipe=FAST, cache=cache, progress=False)
    assert third.record["cached"] == 2 and len(cache) == 6
    invert(tiny, ["a dog"], seeds=2, recipe=FAST.replace(tv_weight=0.01), cache=cache, progress=False)
    assert len(cache) == 8


def test_cache_false_bypasses(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPINV_CACHE", str(tmp_path / "default"))
    invert(tiny, "a dog", seeds=1, recipe=FAST, cache=False, progress=False)
    assert not (tmp_path / "default").exists()
    invert(tiny, "a dog", seeds=1, recipe=FAST, progress=False)
    assert len(ResultCache(tmp_path / "default")) == 1


def _writer(root, key, value, n, barrier):
    cache = ResultCache(root)
    barrier.wait()
    for _ in range(n):
        cache.put(
            key,
            {
                "image": torch.full((3, 64, 64), float(value)),
                "similarity": torch.tensor(value / 10),
                "history": torch.full((50, 4), float(value)),
            },
        )


def test_two_writer_processes_never_leave_a_corrupt_entry(tmp_path):
    root, key = tmp_path / "c", "ab" * 16
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_writer, args=(root, key, v, 60, barrier)) for v in (1, 2)]
    for p in procs:
        p.start()
    barrier.wait()
    cache, seen = ResultCache(root), set()
    while any(p.is_alive() for p in procs):
        entry = cache.get(key)
        if entry is not None:  # every read is a whole entry of one writer, never a mix
            v = entry["image"][0, 0, 0].item()
            assert v in (1.0, 2.0)
            assert torch.all(entry["image"] == v) and torch.all(entry["history"] == v)
            seen.add(v)
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = cache.get(key)
    assert final is not None and final["image"][0, 0, 0].item() in (1.0, 2.0)
    assert list(root.rglob("*.tmp")) == []


def test_interrupted_write_leaves_no_half_entry(tmp_path, monkeypatch):
    cache = ResultCache(tmp_path / "c")
    key = "cd" * 16

    def dying_save(tensors, path):
        with open(path, "wb") as f:
            f.write(b"\x00" * 100)  # half a file, then the process is interrupted
        raise KeyboardInterrupt

    monkeypatch.setattr("clipinv.cache.save_file", dying_save)
    with pytest.raises(KeyboardInterrupt):
        cache.put(key, {"image": torch.zeros(3, 4, 4), "similarity": 0.5, "history": torch.zeros(3, 4)})
    assert cache.get(key) is None
    assert list((tmp_path / "c").rglob("*")) == [cache.path(key).parent]  # only the empty shard folder


def test_damaged_entry_counts_as_missing(tmp_path):
    cache = ResultCache(tmp_path / "c")
    key = "ef" * 16
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_bytes(b"garbage")
    assert cache.get(key) is None
