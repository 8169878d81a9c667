import multiprocessing as mp
import time

import pytest
import torch

from clipinv import Recipe, invert
from clipinv.core.cache import ResultCache

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
                "image": torch.full((3, 64, 64), value / 4),  # an image: values in [0, 1]
                "similarity": torch.tensor(value / 10),
                "history": torch.full((50, 4), value / 4),
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
            assert v in (0.25, 0.5)
            assert torch.all(entry["image"] == v) and torch.all(entry["history"] == v)
            seen.add(v)
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = cache.get(key)
    assert final is not None and final["image"][0, 0, 0].item() in (0.25, 0.5)
    assert list(root.rglob("*.tmp")) == []


def test_interrupted_write_leaves_no_half_entry(tmp_path, monkeypatch):
    cache = ResultCache(tmp_path / "c")
    key = "cd" * 16

    def dying_save(tensors, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"\x00" * 100)  # half a file, then the process is interrupted
        raise KeyboardInterrupt

    monkeypatch.setattr("clipinv.core.cache.save_file", dying_save)
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


def _tampered(t: dict, how: str) -> dict:
    t = {k: v.clone() for k, v in t.items()}
    if how == "rank":
        t["image"] = t["image"][0]
    elif how == "dtype":
        t["image"] = t["image"].double()
    elif how == "nan":
        t["similarity"][0] = float("nan")
    elif how == "history":
        t["history"] = t["history"][:-1]
    elif how == "range":
        t["image"][0, 0, 0] = 7.0
    return t


@pytest.mark.parametrize("resigned", [True, False], ids=["checksum-recomputed", "checksum-kept"])
@pytest.mark.parametrize("how", ["rank", "dtype", "nan", "history", "range"])
def test_a_damaged_entry_is_recomputed_not_served(tiny, tmp_path, how, resigned):
    from safetensors.torch import load_file, save_file

    from clipinv.core.cache import checksum

    cache = ResultCache(tmp_path / "c")
    fresh = invert(tiny, "a dog", seeds=1, recipe=FAST, cache=cache, progress=False)
    (path,) = (tmp_path / "c").glob("??/*.safetensors")
    bad = _tampered(load_file(str(path)), how)
    stored = checksum(bad) if resigned else checksum(load_file(str(path)))
    save_file({k: v.contiguous() for k, v in bad.items()}, str(path), metadata={"sha256": stored})
    again = invert(tiny, "a dog", seeds=1, recipe=FAST, cache=cache, progress=False)
    assert again.record["cached"] == 0  # recomputed
    assert torch.equal(again.images, fresh.images) and torch.equal(again.similarity, fresh.similarity)
    assert invert(tiny, "a dog", seeds=1, recipe=FAST, cache=cache, progress=False).record["cached"] == 1  # replaced


def test_flipped_bytes_in_an_entry_are_recomputed(tiny, tmp_path):
    cache = ResultCache(tmp_path / "c")
    fresh = invert(tiny, "a dog", seeds=1, recipe=FAST, cache=cache, progress=False)
    (path,) = (tmp_path / "c").glob("??/*.safetensors")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x10  # a bit of the last tensor's data (the file ends with tensor bytes)
    path.write_bytes(bytes(data))
    again = invert(tiny, "a dog", seeds=1, recipe=FAST, cache=cache, progress=False)
    assert again.record["cached"] == 0 and torch.equal(again.images, fresh.images)


def test_a_cache_that_cannot_be_written_fails_before_any_image_is_computed(tiny, tmp_path, monkeypatch):
    import importlib

    from clipinv import ClipinvError

    inversion = importlib.import_module("clipinv.core.invert")

    computed = []
    monkeypatch.setattr(inversion, "optimise", lambda *a, **k: computed.append(1) or pytest.fail("computed"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ClipinvError, match=r"cannot write the results cache at .*file/cache .*--no-cache"):
        invert(tiny, "a dog", seeds=2, recipe=FAST, cache=tmp_path / "file" / "cache", progress=False)
    assert not computed


def test_a_full_cache_warns_once_and_still_returns_every_image(tiny, tmp_path, monkeypatch, capsys):
    import errno

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("clipinv.core.cache.save_file", full)
    out = invert(tiny, ["a dog", "a cat"], seeds=2, recipe=FAST, cache=tmp_path / "c", progress=False)
    assert out.images.shape[:2] == (2, 2) and out.record["cached"] == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "not cached" in err[0], err
    assert len(ResultCache(tmp_path / "c")) == 0
