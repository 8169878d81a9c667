"""`clipinv explore`: the section-0 explorer (`clipinv.book.explorer`) in the browser, served by Voilà on
127.0.0.1 with a local kernel, offline.

Everything Voilà is given is written into a temporary folder, nothing into the package: the notebook
(one cell, `explorer.app(**explorer.served_settings(OPTIONS))`, the options written into it), a kernel spec that runs this Python (so the
kernel imports this clipinv, whatever kernels the user has installed), and a template, `clipinv`:
Voilà's `lab` template without its two Font Awesome stylesheets from cdn.jsdelivr.net, the only
requests the stock page makes outside the machine (the explorer's widgets use no icons). The page's
model and prompt reach the kernel through Voilà's own channel: it starts each kernel with the page's
QUERY_STRING in its environment. Voilà's user files (its notebook-signing key) go to the temporary folder as well.

Only the user's own browser tab can use it: the printed URL carries a random token, without which Voilà
starts no kernel; requests whose Host is not 127.0.0.1 or localhost (a DNS-rebinding page) get 403; a
page may pick only the started model or a shipped one (`explorer.served_settings`); and a kernel no page
is connected to is shut down after `cull_after` idle seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import webbrowser
from pathlib import Path

import torch

from clipinv.errors import ClipinvError
from clipinv.models.load import load_model

DEFAULT_PORT = 8866  # Voilà's own default
DEFAULT_CULL_AFTER = 600  # seconds a kernel no page is connected to may idle before it is shut down
KERNEL = "clipinv-explorer"
NOTEBOOK_CELL = "import json\n\nfrom clipinv.book import explorer\n\nexplorer.app(**explorer.served_settings(json.loads({options!r})))"
FONT_AWESOME = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/css/"
TEMPLATE = (
    "{%- extends 'voila/templates/lab/index.html.j2' -%}\n{%- block notebook_css -%}\n{{ super()"
    + "".join(f' | replace("{FONT_AWESOME}{name}", "data:text/css,")' for name in ("all.min.css", "v4-shims.min.css"))
    + " }}\n{%- endblock notebook_css -%}\n"
)


def free_port(port: int) -> int:
    """`port` if nothing listens on it on 127.0.0.1 (0: a free one the system picks), else a one-line error."""
    if not 0 <= port <= 65535:
        raise ClipinvError(f"--port {port} is not a port: give 1..65535, or 0 for any free one")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise ClipinvError(
                f"port {port} on 127.0.0.1 is in use: pick another with --port N (or --port 0 for any free one)"
            ) from None
        return s.getsockname()[1]


def server_config(token: str, cull_after: int) -> dict:
    """Voilà's configuration (voila.json in its working folder): the token a request must carry, the Host
    check Voilà itself turns off, and the culling of kernels no page is connected to."""
    return {
        "Voila": {
            "token": token,
            "tornado_settings": {"allow_remote_access": False, "local_hostnames": ["localhost"]},
        },
        "MappingKernelManager": {
            "cull_idle_timeout": cull_after,
            "cull_interval": max(1, min(60, cull_after)),
            "cull_connected": False,
        },
    }


def prepare(folder: Path, settings: dict, token: str = "", cull_after: int = DEFAULT_CULL_AFTER) -> tuple[Path, dict]:
    """Write the notebook, the kernel spec, the template and Voilà's configuration into `folder`; return
    the notebook and the environment the server runs in."""
    import nbformat

    (folder / "voila.json").write_text(json.dumps(server_config(token, cull_after)))

    jupyter = folder / "jupyter"
    kernel = jupyter / "kernels" / KERNEL
    template = jupyter / "voila" / "templates" / "clipinv"
    for d in (kernel, template, folder / "runtime"):
        d.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python"}
    (kernel / "kernel.json").write_text(json.dumps({**spec, "display_name": "clipinv"}))
    (template / "conf.json").write_text(json.dumps({"base_template": "lab"}))
    (template / "index.html.j2").write_text(TEMPLATE)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "clipinv", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CELL.format(options=json.dumps(settings)))]
    notebook = folder / "explorer.ipynb"
    nbformat.write(nb, str(notebook))
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(jupyter), env.get("JUPYTER_PATH")]))
    env.update(JUPYTER_DATA_DIR=str(jupyter), JUPYTER_RUNTIME_DIR=str(folder / "runtime"))
    return notebook, env


def voila_command(notebook: Path, port: int, folder: Path) -> list[str]:
    """The server: only on 127.0.0.1, on exactly this port (Voilà would move to another one if taken)."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.log_level=WARN",
        "--Voila.port_retries=0",
        "--template=clipinv",
        "--show_tracebacks=True",
        "--KernelManager.transport=ipc",  # the kernel on unix sockets in the temporary folder, not on TCP ports
        f"--Voila.connection_dir_root={folder}",
    ]


def _wait_until_listening(server: subprocess.Popen, port: int, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ClipinvError(
                f"Voilà exited (code {server.returncode}) before serving the explorer: see its lines above"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise ClipinvError(f"Voilà did not answer on port {port} within {timeout:.0f} s: see its lines above")


def _stop(server: subprocess.Popen):
    if server.poll() is None:
        server.terminate()  # Voilà stops its loop on SIGTERM and shuts its kernels down
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def serve(
    model="emoji", port=DEFAULT_PORT, device="cpu", steps=None, open_browser=True, blur=True, cull_after=None
) -> int:
    """Serve the explorer until Ctrl-C; print its URL (with its token) and open it in the browser unless
    told not to."""
    if importlib.util.find_spec("voila") is None:
        raise ClipinvError("voila is not installed (a dependency of clipinv): run `make install` or `pip install -e .`")
    if device == "cuda" and not torch.cuda.is_available():
        raise ClipinvError("--device cuda but no CUDA GPU is visible: use --device cpu")
    if steps is not None and steps < 1:
        raise ClipinvError(f"--steps must be >= 1, got {steps}")
    cull_after = DEFAULT_CULL_AFTER if cull_after is None else cull_after
    if cull_after < 1:
        raise ClipinvError(f"--cull-after must be >= 1 second, got {cull_after}")
    port = free_port(port)
    load_model(model)  # a bad spec fails here, in one line, before any server starts
    settings = {"model": model, "device": device, "steps": steps, "blur": blur}
    # Ctrl-C and `kill` both stop it, server and folder too (Ctrl-C even where the shell that started it
    # ignores interrupts for its background jobs, which their children inherit)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _run(model, port, device, settings, open_browser, cull_after)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("explorer: stopped", flush=True)
    return 0


def _run(model, port, device, settings, open_browser, cull_after):
    with tempfile.TemporaryDirectory(prefix="clipinv-explore-") as tmp:
        folder = Path(tmp)
        token = secrets.token_urlsafe(24)
        notebook, env = prepare(folder, settings, token, cull_after)
        server = subprocess.Popen(voila_command(notebook, port, folder), env=env, cwd=folder)
        try:
            _wait_until_listening(server, port)
            url = f"http://127.0.0.1:{port}/?token={token}"
            print(f"explorer: {url} (model {model}, device {device}); Ctrl-C stops it", flush=True)
            if open_browser and not webbrowser.open(url):
                print("explorer: no browser found here: open the URL above in one", flush=True)
            code = server.wait()
            if code:
                raise ClipinvError(f"Voilà stopped with exit code {code}: see its lines above")
        except KeyboardInterrupt:
            pass
        finally:
            _stop(server)


def cmd_explore(args) -> int:
    return serve(
        args.model, args.port, args.device, args.steps, open_browser=not args.no_browser, cull_after=args.cull_after
    )


def register(subparsers):
    """Add `clipinv explore` to the CLI."""
    p = subparsers.add_parser(
        "explore",
        help="the section-0 explorer in the browser: invert a prompt and watch it (Voilà, offline)",
        description="Serve section 0's explorer (a prompt, TV, L1, steps, copies, a model, Invert, the image "
        "redrawn as it optimises) with Voilà on 127.0.0.1, with a kernel on this machine; print its URL and "
        "open the browser. Ctrl-C stops it.",
    )
    p.add_argument(
        "--model", default="emoji", help="the model it serves (default emoji); the page also offers the shipped ones"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where it inverts (default cpu)")
    p.add_argument("--steps", type=int, default=None, help="the steps slider's start (default: the model's recipe)")
    p.add_argument("--no-browser", action="store_true", help="only print the URL")
    p.add_argument(
        "--cull-after",
        type=int,
        metavar="SECONDS",
        default=None,
        help=f"shut down a kernel no page is connected to after it idled this long (default {DEFAULT_CULL_AFTER})",
    )
    p.set_defaults(func=cmd_explore)
