"""Inversions as Ray tasks (`clipinv.runs.ray_cluster`) on a local two-CPU cluster with the toy model: the
images equal a single-process run's bit for bit, a killed worker's task is retried, a killed driver
loses only its tasks in flight, a closed port fails at once, and section 0 glues the same numbers."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import torch

import clipinv
from clipinv import ClipinvError, invert
from clipinv.book.runner import copy_sources, executed_parameters, glued
from clipinv.cli import main
from clipinv.core.cache import ResultCache
from clipinv.core.recipe import scaled_schedule
from clipinv.runs.ray_cluster import RayEngine, check_address, connect

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
PROMPTS = ["a red circle", "a blue square", "a green triangle", "a small yellow circle"]
TOY = clipinv.load_model("toy")
SHORT = TOY.default_recipe.replace(**scaled_schedule(TOY.default_recipe, 4))


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of two CPUs; its workers import this checkout's clipinv. Returns its address."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO)
    for attempt in (1, 2):  # on a loaded machine Ray's agent can miss the 15 s the raylet gives it
        try:
            ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20, log_to_driver=False)
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture(autouse=True)
def one_thread(private_cache):
    """The driver runs one torch thread, so each CPU task asks for one CPU and two run at once."""
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def alone():
    torch.set_num_threads(1)
    return invert(TOY, PROMPTS, seeds=8, recipe=SHORT, cache=False, progress=False)


def running_tasks() -> list[int]:
    """The pids of this process's descendants that are Ray workers running `invert_task` (their title)."""
    pids = []
    for p in psutil.Process().children(recursive=True):
        try:
            if " ".join(p.cmdline()).startswith("ray::invert_task"):
                pids.append(p.pid)
        except psutil.Error:
            continue
    return pids


class Tasks:
    """Watches for Ray workers running `invert_task`, and with kill=True kills the first one it sees."""

    def __init__(self, kill=False):
        self.kill, self.seen, self.killed = kill, set(), None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            for pid in running_tasks():
                self.seen.add(pid)
                if self.kill and self.killed is None:
                    os.kill(pid, signal.SIGKILL)
                    self.killed = pid
            time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class WatchedCache(ResultCache):
    """A results cache that notes, at each write, whether Ray tasks are still running."""

    def __init__(self, root):
        super().__init__(root)
        self.tasks_running = []

    def put(self, key, entry):
        self.tasks_running.append(bool(running_tasks()))
        super().put(key, entry)


def test_a_ray_run_equals_a_single_process_run_bit_for_bit(cluster, alone, tmp_path):
    cache = WatchedCache(tmp_path / "cache")
    spread = invert(TOY, PROMPTS, seeds=8, recipe=SHORT, cache=cache, progress=False, engine=RayEngine())
    assert torch.equal(spread.images, alone.images)
    assert torch.equal(spread.similarity, alone.similarity)
    assert all(torch.equal(spread.history[t], alone.history[t]) for t in alone.history)
    assert spread.record["device"] == "cpu" and "8 task(s) of <= 4 image(s) on 2 cpu" in spread.record["engine"]
    assert len(cache) == 32 and spread.record["cached"] == 0
    assert any(cache.tasks_running), "results reached the cache only after every task had finished"


def test_a_killed_worker_is_retried_and_the_grid_completes(cluster, alone):
    with Tasks(kill=True) as tasks:
        out = invert(TOY, PROMPTS, seeds=8, recipe=SHORT, cache=False, progress=False, engine=RayEngine())
    assert tasks.killed is not None, "no worker was caught running a task"
    assert torch.equal(out.images, alone.images) and torch.equal(out.similarity, alone.similarity)


def test_a_worker_refuses_other_weights_in_one_line(cluster):
    other = dataclasses.replace(TOY, weights_hash="0" * 16)  # as if the driver's toy were another checkpoint
    with pytest.raises(ClipinvError, match=r"loads toy with weights \w+, not the driver's 0{16}") as e:
        invert(other, PROMPTS[:1], seeds=2, recipe=SHORT, cache=False, progress=False, engine=RayEngine())
    assert len(str(e.value).splitlines()) == 1


def test_a_killed_driver_loses_only_its_tasks_in_flight(cluster, alone, tmp_path):
    schedule = ",".join(f"{at}:{side}" for at, side in SHORT.resolution_schedule)
    cache, per_task, n = ResultCache(tmp_path / "cache"), 2, len(PROMPTS) * 8
    driver = subprocess.Popen(
        [sys.executable, "-m", "clipinv.cli", "invert", *PROMPTS, "--model", "toy", "--seeds", "8", "--quiet"]
        + ["--steps", str(SHORT.steps), "--resolution-schedule", schedule, "--out", str(tmp_path / "out")]
        + ["--ray", cluster, "--images-per-task", str(per_task)],
        env={**os.environ, "CLIPINV_CACHE": str(cache.root), "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while len(cache) < 2 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.kill()
    err = driver.communicate()[1].decode()
    landed = len(cache)
    assert 2 <= landed < n, f"the driver was not killed mid-run ({landed} images cached): {err}"
    assert not (tmp_path / "out").exists()

    engine = RayEngine(images_per_task=per_task)
    rerun = invert(TOY, PROMPTS, seeds=8, recipe=SHORT, cache=cache, progress=False, engine=engine)
    assert rerun.record["cached"] == landed
    assert engine.ran["tasks"] == math.ceil((n - landed) / per_task)  # only the rest ran
    assert len(cache) == n and torch.equal(rerun.images, alone.images)


@pytest.mark.parametrize("address", ["a red circle", "host", "host:0", "host:port"])
def test_an_address_that_is_not_one_is_refused(address):
    with pytest.raises(ClipinvError, match="is not HOST:PORT, ray://HOST:PORT, auto or local"):
        check_address(address)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_fails_in_one_line_within_seconds_and_writes_nothing(tmp_path, capsys):
    address = f"127.0.0.1:{closed_port()}"
    out = tmp_path / "out"
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "clipinv.cli", "invert", "a red circle", "--model", "toy", "--out", str(out)]
        + ["--ray", address],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and time.perf_counter() - t < 30
    assert (
        proc.stderr.strip().splitlines() == [proc.stderr.strip()]
        and f"no Ray cluster answers at {address}" in proc.stderr
    )
    assert not out.exists() and not Path(os.environ["CLIPINV_CACHE"]).exists()

    book = tmp_path / "book"
    book.mkdir()
    copy_sources(book, REPO)
    t = time.perf_counter()
    assert main(["section", "00_method", "--profile", "smoke", "--ray", address, "--root", str(book)]) == 2
    assert time.perf_counter() - t < 5
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no Ray cluster answers" in err
    # a profile's `ray:` is read as --ray is
    smoke = (book / "profiles" / "smoke.yaml").read_text()
    (book / "profiles" / "on-ray.yaml").write_text(f"ray: {address}\n{smoke}")
    assert main(["section", "00_method", "--profile", "on-ray", "--root", str(book)]) == 2
    assert f"no Ray cluster answers at {address}" in capsys.readouterr().err
    assert not (book / "book" / "_generated").exists()


def stderr(page) -> list[str]:
    return [
        o["text"]
        for c in nbformat.read(str(page), as_version=4).cells
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    ]


def test_section_0_on_ray_glues_the_numbers_of_a_single_process_run(cluster, tmp_path, monkeypatch):
    """The smoke section 0 runs twice at once, into two copies of the book with their own caches:
    in a subprocess without Ray, and here with --ray (this module's cluster)."""
    books = {}
    for name in ("alone", "ray"):
        books[name] = tmp_path / name
        books[name].mkdir()
        copy_sources(books[name], REPO)
    run = ["section", "00_method", "--profile", "smoke", "--no-build"]
    env = {k: v for k, v in os.environ.items() if k != "CLIPINV_RAY"}
    log = tmp_path / "alone.log"
    single = subprocess.Popen(
        [sys.executable, "-m", "clipinv.cli", *run, "--root", str(books["alone"])],
        env={**env, "PYTHONPATH": str(REPO), "CLIPINV_CACHE": str(tmp_path / "alone-cache")},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel imports this checkout's clipinv
    monkeypatch.delenv("CLIPINV_RAY", raising=False)
    monkeypatch.setenv("CLIPINV_CACHE", str(tmp_path / "ray-cache"))
    with Tasks() as tasks:
        assert main([*run, "--root", str(books["ray"]), "--ray"]) == 0
    assert single.wait(timeout=300) == 0, log.read_text()[-2000:]
    assert tasks.seen, "the section's inversions did not run as Ray tasks"
    pages = {name: book / "book" / "_generated" / "00_method.ipynb" for name, book in books.items()}
    assert executed_parameters(pages["ray"])["ray"] == cluster and "ray" not in executed_parameters(pages["alone"])
    alone = glued(pages["alone"])
    assert glued(pages["ray"]) == alone and {"judge_accuracy", "judge_hits", "headline"} <= set(alone)
    assert stderr(pages["ray"]) == stderr(pages["alone"])  # Ray leaves no notes on the page
    assert len(ResultCache(tmp_path / "ray-cache")) == len(ResultCache(tmp_path / "alone-cache")) > 0


class Listening:
    """A server on 127.0.0.1 that is not Ray: `answer` is what it sends a client (None: nothing, ever)."""

    def __init__(self, answer: bytes | None):
        self.answer, self.sock = answer, socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.held = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)  # kept open: a silent server never hangs up
            if self.answer is not None:
                conn.recv(1024)
                conn.sendall(self.answer)

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.sock.close()
        for conn in self.held:
            conn.close()


DASHBOARD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"  # what a web server answers HTTP/2 with


def test_a_web_server_at_the_address_fails_in_one_line_within_seconds_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    with Listening(DASHBOARD) as web:
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "clipinv.cli", "invert", "a red circle", "--model", "toy", "--out", str(out)]
            + ["--ray", web.address],
            env={**os.environ, "PYTHONPATH": str(REPO), "CLIPINV_CACHE": str(tmp_path / "cache")},
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert proc.returncode == 2 and time.perf_counter() - t < 30, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert f"the server at {web.address} is not a Ray cluster" in proc.stderr
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_a_silent_server_fails_within_seconds():
    with Listening(None) as silent:
        t = time.perf_counter()
        with pytest.raises(ClipinvError, match="is not a Ray cluster"):
            check_address(silent.address)
        assert time.perf_counter() - t < 10


def test_a_ray_cluster_passes_the_check_and_is_joined_by_address(cluster):
    check_address(cluster)  # Ray's GCS answers as gRPC does
    joined = subprocess.run(  # another driver joins the running cluster by its address
        [
            sys.executable,
            "-c",
            f"from clipinv.runs.ray_cluster import connect; print(connect({cluster!r}).is_initialized())",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert joined.returncode == 0 and joined.stdout.strip().endswith("True"), joined.stderr[-2000:]


def test_a_join_that_hangs_is_cut_off_in_one_line():
    from clipinv.runs.ray_cluster import _Deadline

    t = time.perf_counter()
    with pytest.raises(ClipinvError, match="did not answer in time"), _Deadline(0.3, "did not answer in time"):
        time.sleep(5)
    assert time.perf_counter() - t < 2


def test_a_garbage_ray_address_names_the_variable_it_came_from(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "garbage")
    with pytest.raises(ClipinvError) as caught:
        connect(None)
    assert "Ray address 'garbage' (from RAY_ADDRESS) is not HOST:PORT" in str(caught.value)
    assert "fix or unset RAY_ADDRESS" in str(caught.value) and "after the prompts" not in str(caught.value)
