"""Fixtures for every lane: a tiny random open_clip CLIP (`helpers.make_tiny`) and a private cache."""

import pytest
import torch
from helpers import make_tiny


@pytest.fixture(scope="session")
def tiny():
    return make_tiny(0)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPINV_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(2)
