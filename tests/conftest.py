"""Fixtures for every lane: a tiny random open_clip CLIP (`helpers.make_tiny`) and a private cache.

Under `make test` the tests run in two pytest-xdist workers: each computes on one thread, and so do the
kernels and processes it starts (OMP_NUM_THREADS), so the two share the machine's two cores."""

import os

import pytest
import torch
from book_helpers import smoke_book_in
from helpers import make_tiny

WORKER = "PYTEST_XDIST_WORKER" in os.environ
THREADS = 1 if WORKER else 2


def pytest_configure(config):
    if WORKER:
        os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
        os.environ.setdefault("MKL_NUM_THREADS", str(THREADS))


@pytest.fixture(scope="session")
def tiny():
    return make_tiny(0)


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """(root, seconds) of the smoke book every section's page is checked on, built once a test run. The
    workers of one run share pytest's folder for the run (each has its own folder below it)."""
    base = tmp_path_factory.getbasetemp()
    return smoke_book_in(base.parent if WORKER else base, shared=WORKER)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPINV_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(THREADS)
