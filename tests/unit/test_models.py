import os
import pickle
from pathlib import Path

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from clipinv import ClipinvError, load_model
from clipinv.models.bundle import weights_hash

HERE = Path(__file__).parent
open_clip.add_model_config(HERE / "data" / "clipinv-tiny-test.json")
ARCH = "clipinv-tiny-test"


def test_random_spec_is_explicit_deterministic_and_frozen():
    a = load_model(f"{ARCH}:random")
    b = load_model(f"{ARCH}:random")
    assert a.weights_hash == b.weights_hash
    assert a.is_stand_in and a.image_size == 32 and a.context_length == 16
    assert not any(p.requires_grad for p in a.model.parameters())
    assert not a.model.training


def test_safetensors_checkpoint_round_trip(tmp_path):
    src = load_model(f"{ARCH}:random")
    state = {k: v + 0.01 for k, v in src.model.state_dict().items()}
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "w.safetensors")
    got = load_model(f"{ARCH}:{tmp_path / 'w.safetensors'}")
    assert got.weights_hash != src.weights_hash
    for k, v in got.model.state_dict().items():
        assert torch.equal(v, state[k])


def test_pt_checkpoint_loads_with_weights_only(tmp_path):
    src = load_model(f"{ARCH}:random")
    torch.save(src.model.state_dict(), tmp_path / "w.pt")
    assert load_model(f"{ARCH}:{tmp_path / 'w.pt'}").weights_hash == src.weights_hash


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['CLIPINV_PWNED']}",))


def test_malicious_checkpoint_is_refused_and_its_payload_never_runs(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("CLIPINV_PWNED", str(marker))
    with open(tmp_path / "evil.pt", "wb") as f:
        torch.save({"visual.proj": Payload()}, f)
    with pytest.raises(ClipinvError, match="unrestricted unpickling") as e:
        load_model(f"{ARCH}:{tmp_path / 'evil.pt'}")
    assert "\n" not in str(e.value)
    assert not marker.exists()
    # a raw pickle (not even a torch zip) is refused too
    (tmp_path / "evil.bin").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ClipinvError):
        load_model(f"{ARCH}:{tmp_path / 'evil.bin'}")
    assert not marker.exists()


def test_corrupt_and_mismatched_checkpoints(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(os.urandom(300))
    with pytest.raises(ClipinvError, match="corrupt"):
        load_model(f"{ARCH}:{tmp_path / 'bad.safetensors'}")
    save_file({"nothing.like.clip": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ClipinvError, match="does not fit"):
        load_model(f"{ARCH}:{tmp_path / 'other.safetensors'}")
    with pytest.raises(ClipinvError, match="does not exist"):
        load_model(f"{ARCH}:{tmp_path / 'missing.safetensors'}")


def test_unknown_specs_suggest_close_names():
    with pytest.raises(ClipinvError, match="did you mean.*ViT-B-16:openai"):
        load_model("ViT-B-16:opnai")
    with pytest.raises(ClipinvError, match="did you mean.*ViT-B-32"):
        load_model("ViT-B-23:random")
    with pytest.raises(ClipinvError, match="empty"):
        load_model("  ")


def test_missing_weights_offline_name_spec_cache_and_alternatives(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("clipinv.models.load._online", lambda host="": False)
    monkeypatch.setattr(
        "clipinv.models.load._create", lambda arch, spec, **kw: (_ for _ in ()).throw(RuntimeError("no file"))
    )
    with pytest.raises(ClipinvError) as e:
        load_model("ViT-B-16:openai")
    msg = str(e.value)
    assert "ViT-B-16:openai" in msg and str(tmp_path / "hub") in msg and "toy" in msg and "random" in msg
    assert "\n" not in msg


def test_weights_hash_tracks_values():
    m = load_model(f"{ARCH}:random").model
    h = weights_hash(m)
    with torch.no_grad():
        next(m.parameters()).add_(1e-3)
    assert weights_hash(m) != h
