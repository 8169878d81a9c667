"""Large runs on Ray: `RayEngine` computes an inversion's images as Ray tasks on a cluster.

    out = clipinv.invert(model, prompts, seeds=100, engine=RayEngine())                # this machine
    out = clipinv.invert(model, prompts, seeds=100, engine=RayEngine("10.0.0.5:6379"))  # a cluster

Tasks. `invert` hands the engine the images its results cache lacks. The engine cuts them into tasks
of a few (prompt, seed) images, all of one model and recipe, submits them all, and Ray runs each on
one device: a task asks for one GPU where the cluster has GPUs, else for as many CPUs as the driver
runs torch threads, and uses that many (CPU sums over large tensors depend on the thread count, so
the images equal a single-process run's bit for bit). Each image is independent of the rest of its
batch (`clipinv.invert`), so how the grid is cut changes no result.

Models. A loaded model is too big to send with every task: a task gets the models' specs (``toy``,
``ViT-B-16:openai``, a checkpoint path every node can read) and weights hashes, loads them once per
worker process (kept for the worker's later tasks) and refuses weights whose hash is not the driver's.

Retries. A task whose worker dies (killed, out of memory, its node lost) is run again by Ray, up to
`retries` times; an error inside a task (a bad spec, other weights) is reported, not retried.

The cache stays on the driver. Each task's results come back to the driver as it finishes
(`ray.wait`) and `invert` puts them into the driver's results cache there: workers need no shared
filesystem, a killed driver loses only the tasks in flight, and a rerun serves every finished image
from the cache.

Addresses follow Ray's conventions: none or "local" joins the cluster RAY_ADDRESS names, else the one
`ray start` started on this machine, else starts Ray here; "auto" joins the local `ray start` cluster;
"HOST:PORT" or "ray://HOST:PORT" joins that cluster; a process already connected stays on its cluster.
Ray's connect waits minutes where nothing listens, or where something else does, so the engine first
opens a TCP connection to HOST:PORT and checks that it answers as gRPC (Ray's GCS) does, failing in
seconds if not, and gives the join itself JOIN_TIMEOUT_S. A CPU task runs the driver's torch threads: start the
driver with OMP_NUM_THREADS=1 for many one-thread tasks.
`clipinv section/book --ray` hand the address to the notebooks' `Section`s, which run on a RayEngine.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from contextlib import nullcontext

import torch
from tqdm.auto import tqdm

from clipinv.core import batching, objective
from clipinv.core.invert import InProcess, Work
from clipinv.errors import ClipinvError
from clipinv.models.load import load_model
from clipinv.version import __version__

CONNECT_TIMEOUT_S = 3.0
JOIN_TIMEOUT_S = 45.0  # ray.init on a cluster that answers: seconds; on a loaded machine, tens of them
TASKS_PER_WORKER = 4  # a lost task costs a quarter of a worker's share; fast workers take over slow ones'
MAX_IMAGES_PER_TASK = 64


def host_port(address: str, source: str = "--ray") -> tuple[str, int] | None:
    """(host, port) of "HOST:PORT" or "ray://HOST:PORT"; None for "auto"/"local". `source`: where the
    address came from (--ray, RAY_ADDRESS, a profile), for the error line."""
    text = address.strip()
    if text in ("auto", "local"):
        return None
    text = text.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        hint = "on the command line, put --ray after the prompts" if source == "--ray" else f"fix or unset {source}"
        raise ClipinvError(
            f"Ray address {address!r} (from {source}) is not HOST:PORT, ray://HOST:PORT, auto or local: {hint}"
        )
    return host, int(port)


# a gRPC server (Ray's GCS and its client server are) answers an HTTP/2 client preface with its SETTINGS
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def speaks_grpc(sock: socket.socket) -> bool:
    """Whether the server on `sock` answers as a gRPC server does (an HTTP/2 SETTINGS frame first)."""
    try:
        sock.sendall(HTTP2_PREFACE)
        head = b""
        while len(head) < 9:
            chunk = sock.recv(9 - len(head))
            if not chunk:
                return False
            head += chunk
    except OSError:  # timed out (a server that says nothing), reset
        return False
    return head[3] == 4  # frame type 4: SETTINGS


def check_address(address: str, source: str = "--ray") -> None:
    """Fail in one line, within seconds, where no Ray cluster listens at a HOST:PORT address: nothing
    listens, or something that does not speak gRPC (a web server, Ray's dashboard on 8265)."""
    target = host_port(address, source)
    if target is None:
        return
    try:
        sock = socket.create_connection(target, timeout=CONNECT_TIMEOUT_S)
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
        raise ClipinvError(
            f"no Ray cluster answers at {address} ({why}): start one there with `ray start --head`, "
            f"or check the address ({source})"
        ) from None
    with sock:
        if not speaks_grpc(sock):
            raise ClipinvError(
                f"the server at {address} is not a Ray cluster (it does not answer as Ray's GCS does; Ray's "
                f"dashboard, 8265, is not its address): give the address `ray start --head` printed, "
                f"e.g. HOST:6379 ({source})"
            )


class _Deadline:
    """Raise ClipinvError if the block runs longer than `seconds` (SIGALRM: the main thread on Unix only;
    elsewhere it does nothing)."""

    def __init__(self, seconds: float, message: str):
        self.seconds, self.message, self.armed = seconds, message, False

    def _fire(self, _signum, _frame):
        raise ClipinvError(self.message)

    def __enter__(self):
        import signal
        import threading

        if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    def __exit__(self, *_exc):
        import signal

        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def connect(address: str | None = None, source: str = "--ray"):
    """The `ray` module, connected: to the cluster at `address`, else as `ray.init()` finds one (see the
    module docstring). A process already connected stays on its cluster. Joining a cluster at an
    address takes at most JOIN_TIMEOUT_S, or fails in one line."""
    try:
        import ray
    except ImportError:
        raise ClipinvError("Ray is not installed: pip install 'clipinv[ray]' (or run without --ray)") from None
    address = None if address in (None, "", "local") else address.strip()
    target = address or os.environ.get("RAY_ADDRESS")
    source = source if address else "RAY_ADDRESS"
    if target:
        check_address(target, source)
    if ray.is_initialized():  # one cluster per process: the one it is on, unless asked for another port
        here = cluster_address()
        asked = host_port(address, source) if address and not address.startswith("ray://") else None
        if asked and str(asked[1]) != here.rpartition(":")[2]:
            raise ClipinvError(f"this process is connected to the Ray cluster at {here}: it cannot join {address} too")
        return ray
    for attempt in (1, 2):  # a loaded machine can miss the 15 s Ray gives its agent to start; once more
        try:
            # quiet: no worker output or connection notes in the driver's output (a notebook's cells)
            late = f"the Ray cluster at {target} did not let this process join within {JOIN_TIMEOUT_S:.0f} s: check that it is a Ray cluster's address ({source}) and that it is up"
            with _Deadline(JOIN_TIMEOUT_S, late) if target else nullcontext():
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            return ray
        except Exception as e:
            ray.shutdown()
            if isinstance(e, ClipinvError):
                raise
            if target or attempt == 2:
                lines = str(e).strip().splitlines()
                where = f"join the Ray cluster at {target}" if target else "start Ray on this machine"
                raise ClipinvError(f"could not {where}: {type(e).__name__}: {lines[0] if lines else ''}") from None


def cluster_address() -> str:
    """The address of the cluster this process is connected to, for other processes to join."""
    import ray

    return ray.get_runtime_context().gcs_address


class RayEngine:
    """Runs a `Work`'s images as Ray tasks (module docstring): `images_per_task` images a task (default
    about TASKS_PER_WORKER tasks per worker, at most MAX_IMAGES_PER_TASK), each retried up to `retries`
    times if its worker dies, on `device` ("cuda": one GPU a task; "cpu"; None: GPUs if the cluster
    has them)."""

    watches = False  # a callback watches images in this process, not on Ray's workers

    def __init__(
        self,
        address: str | None = None,
        *,
        device=None,
        images_per_task: int | None = None,
        retries=3,
        source: str = "--ray",
    ):
        if images_per_task is not None and (
            isinstance(images_per_task, bool) or not isinstance(images_per_task, int) or images_per_task < 1
        ):
            raise ClipinvError(f"images_per_task must be a whole number >= 1, got {images_per_task!r}")
        if device is not None and torch.device(device).type not in ("cpu", "cuda"):
            raise ClipinvError(f"a Ray task runs on cpu or cuda, not {device}")
        self.address, self.source = address, source  # source: where the address came from, for errors
        self.device = torch.device(device).type if device is not None else None
        self.images_per_task = images_per_task
        self.retries = int(retries)
        self.ran: dict = {}

    def connect(self):
        return connect(self.address, self.source)

    def plan(self, ray, n_images: int) -> dict:
        """Where the tasks run and how big they are, from the cluster's resources."""
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        gpus = sum(r.get("GPU", 0) for r in nodes)
        device = self.device or ("cuda" if gpus else "cpu")
        if device == "cuda":
            if not gpus:
                raise ClipinvError(
                    "device cuda, but the Ray cluster has no GPUs: use device cpu (--device cpu) or a cluster with GPUs"
                )
            threads, workers, per_node = None, int(gpus), 1
            resources = {"num_gpus": 1}
        else:  # the driver's torch threads, capped at the largest node
            biggest = int(max((r.get("CPU", 0) for r in nodes), default=1))
            threads = max(1, min(torch.get_num_threads(), biggest))
            workers = max(1, sum(int(r.get("CPU", 0)) // threads for r in nodes))
            per_node = max(1, biggest // threads)
            resources = {"num_cpus": threads}
        size = self.images_per_task or min(MAX_IMAGES_PER_TASK, math.ceil(n_images / (TASKS_PER_WORKER * workers)))
        return {
            "device": device,
            "threads": threads,
            "workers": workers,
            "per_node": per_node,
            "size": size,
            **resources,
        }

    def run(self, work: Work):
        """Yields (item index, result) for every image of `work.todo`, task by task as they finish."""
        if work.callback is not None:
            raise ClipinvError("a callback watches the images in this process, not on Ray workers: run it without Ray")
        ray = self.connect()
        plan = self.plan(ray, len(work.todo))
        size = int(plan["size"])
        chunks = [work.todo[i : i + size] for i in range(0, len(work.todo), size)]
        task = ray.remote(invert_task).options(
            num_cpus=plan.get("num_cpus", 1), num_gpus=plan.get("num_gpus", 0), max_retries=self.retries
        )
        specs = [(b.spec, b.weights_hash) for b in work.bundles]
        options = {
            "recipe": work.recipe,
            "device": plan["device"],
            "threads": plan["threads"],
            "share": plan["per_node"],
            "batch_size": work.batch_size,
            "truncate": work.truncate,
            "compile": work.compile,
            "progress_every": work.progress_every,
            "version": __version__,
        }
        self.ran = {**plan, "tasks": len(chunks), "address": cluster_address()}
        pending = {
            task.remote(specs, [(work.items[i][0].terms, work.items[i][1]) for i in chunk], **options): chunk
            for chunk in chunks
        }
        n = len(work.items)
        bar = tqdm(
            total=n,
            initial=n - len(work.todo),
            unit="image",
            desc=f"inverting on Ray ({plan['workers']} {plan['device']} worker(s))",
            disable=not work.progress,
            mininterval=0.5,
        )
        try:
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                chunk = pending.pop(ref)
                entries = self._result(ray, ref, len(chunk))
                yield from zip(chunk, entries)
                bar.update(len(chunk))
        finally:
            bar.close()
            for ref in pending:  # the driver stops (an error, Ctrl-C): the cluster stops working for it
                ray.cancel(ref)

    def _result(self, ray, ref, n: int) -> list:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, ClipinvError):
                raise ClipinvError(str(cause)) from None
            lines = str(cause or e).strip().splitlines()
            raise ClipinvError(
                f"a Ray task of {n} image(s) failed: {type(cause or e).__name__}: {lines[-1] if lines else ''}"
            ) from None
        except ray.exceptions.RayError as e:
            lines = str(e).strip().splitlines()
            raise ClipinvError(
                f"a Ray task of {n} image(s) was lost after {self.retries} retries ({type(e).__name__}: "
                f"{lines[0] if lines else ''}); finished images are in the results cache: rerun to go on"
            ) from None

    def record(self, work: Work) -> dict:
        """Where the images were computed, for the run's record."""
        if not self.ran:
            return {"device": str(work.device), "engine": "ray (nothing to compute)"}
        r = self.ran
        threads = f", {r['threads']} torch thread(s) each" if r["threads"] else ""
        return {
            "device": r["device"],
            "engine": f"ray at {r['address']}: {r['tasks']} task(s) of <= {r['size']} image(s) on {r['workers']} "
            f"{r['device']} worker(s){threads}, up to {self.retries} retries",
        }


_MODELS: dict = {}  # (spec, device) -> ModelBundle, loaded once per worker process


def worker_model(spec: str, weights_hash: str, device: torch.device):
    """The model `spec` on `device`, loaded once per worker process; its weights must be the driver's."""
    key = (spec, str(device))
    if key not in _MODELS:
        _MODELS[key] = load_model(spec, device=device)
    bundle = _MODELS[key]
    if bundle.weights_hash != weights_hash:
        raise ClipinvError(
            f"the Ray worker on {socket.gethostname()} loads {spec} with weights {bundle.weights_hash}, not the "
            f"driver's {weights_hash}: give every node the same weights"
        )
    return bundle


def invert_task(
    specs, items, *, recipe, device, threads, share, batch_size, truncate, compile, progress_every, version
):
    """One Ray task: invert `items` [(prompt terms, seed)] with the models `specs` [(spec, weights hash)]
    on `device`. `share`: tasks that may run on this node at once (they split its free memory)."""
    if version != __version__:
        raise ClipinvError(
            f"the Ray worker on {socket.gethostname()} runs clipinv {__version__}, the driver {version}: "
            f"install the same clipinv on every node"
        )
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(device)
    bundles = [worker_model(spec, h, device) for spec, h in specs]
    pairs = [(objective.Prompt(terms), seed) for terms, seed in items]
    if batch_size is None:
        free = batching.free_bytes(device) // share
        batch_size = min(len(pairs), batching.batch_size(bundles, recipe, device, free=free))
    work = Work(
        bundles, pairs, list(range(len(pairs))), recipe, device, truncate, batch_size, compile, False, progress_every
    )
    out = [None] * len(pairs)
    for i, entry in InProcess().run(work):
        out[i] = entry
    return out
