"""The book: sections are notebooks run by papermill with a profile's parameters, compiled by Jupyter Book.

    clipinv section NAME [-p KEY VALUE ...] [--profile P]   rerun one section, rebuild the site
    clipinv book [--profile P]                               run every section, build the site

This module is the runner those commands (`clipinv.cli.book`) call.

A profile (``profiles/P.yaml``) is a parameter file: ``defaults`` for every section, ``sections``
overriding them per notebook; ``-p`` overrides both. A top-level ``ray: ADDRESS`` (or ``ray: local``)
runs the sections' inversions as Ray tasks, as ``--ray`` does: the runner injects ``run`` (how the
section runs: its name, a Ray address, a plan or ledger file) as a notebook parameter, and
`clipinv.book.section.Section` builds its engine from it. papermill writes each executed notebook to
``book/_generated/NAME.ipynb`` (ignored by git); ``jupyter-book build`` then compiles the site
without executing anything (``execute_notebooks: off``) into ``book/_build/html``.

A section runs on the worlds its notebook declares in its metadata, ``"clipinv": {"worlds": ["toy"]}``
(section 8 needs the toy world's planted truth, section 7 a world with a contamination ladder); none
declared: every world (`clipinv.worlds.WORLDS`).
`check_world` refuses any other in one line before a kernel starts.

The committed ``_toc.yml`` lists all nine sections. The build uses a table of contents generated
next to the executed notebooks that lists the sections that exist, so the book builds while some
sections are still being written. Notebooks use `clipinv.book.section.Section` to load their models
and recipe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from clipinv.book.page import executed_parameters, glued  # noqa: F401 (what an executed page says, read here too)
from clipinv.errors import ClipinvError
from clipinv.worlds import EXAMPLE_MODELS, WORLDS, world_of

SECTIONS = (
    "00_method",
    "01_concepts",
    "02_nsfw",
    "03_gender",
    "04_bag_of_words",
    "05_data_scale",
    "06_ablations",
    "07_contamination_audit",
    "08_image_prior",
)
COMMON = ("model", "judge", "seeds", "steps", "precision", "device")  # every profile's `defaults`


# ---------------------------------------------------------------- where things are
def root(path=None) -> Path:
    """The book's root: the folder holding _config.yml, notebooks/ and profiles/ (`path`, else this
    checkout, else the working directory)."""
    if path:
        r = Path(path)
    else:
        here = Path(__file__).resolve().parents[2]
        r = here if (here / "notebooks").is_dir() else Path.cwd()
    if not (r / "notebooks").is_dir() or not (r / "profiles").is_dir():
        raise ClipinvError(f"{r} holds no notebooks/ and profiles/: run from the clipinv repository (or pass --root)")
    return r.resolve()


def available_sections(r: Path) -> list[str]:
    """Sections whose notebook source exists, in book order (then any others, alphabetically)."""
    have = {p.stem for p in (r / "notebooks").glob("*.ipynb")}
    return [s for s in SECTIONS if s in have] + sorted(have - set(SECTIONS))


def check_section(r: Path, name: str) -> None:
    """Refuse anything but the name of a section in notebooks/ (never a path: a run writes beside its notebook)."""
    if name not in available_sections(r):
        raise ClipinvError(
            f"no section {name!r}: a section is a notebook's name in {r / 'notebooks'}, "
            f"one of {', '.join(available_sections(r))}"
        )


# ---------------------------------------------------------------- profiles and parameters
def supported_worlds(r: Path, name: str) -> tuple:
    """The worlds a section runs on: its notebook's metadata ``clipinv: {worlds: [...]}`` (a section
    that needs planted truth names only "toy"), every world where it names none."""
    import json

    nb = json.loads((r / "notebooks" / f"{name}.ipynb").read_text())
    return tuple(nb.get("metadata", {}).get("clipinv", {}).get("worlds") or WORLDS)


def check_world(r: Path, name: str, params: dict) -> None:
    """Refuse, in one line and before a kernel starts, a section run on a world it does not support."""
    world, supported = world_of(params.get("model", "toy")), supported_worlds(r, name)
    if world not in supported:
        model, judge = EXAMPLE_MODELS[supported[0]]
        raise ClipinvError(
            f"section {name} runs only on the {' or '.join(supported)} world, not on the {world} world of "
            f"model {params.get('model')!r}: run it with -p model {model} -p judge {judge}"
        )


def load_profile(r: Path, name: str) -> dict:
    import yaml

    path = Path(name) if name.endswith((".yaml", ".yml")) else r / "profiles" / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in (r / "profiles").glob("*.yaml")))
        raise ClipinvError(f"no profile {name!r} ({path} does not exist): pick one of {known}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:  # a syntax slip, or a tag (!!python/...) that safe_load refuses
        raise ClipinvError(f"profile {path} is not plain YAML: {_yaml_problem(e)}: fix that line") from None
    if not isinstance(data, dict):
        raise ClipinvError(
            f"profile {path} must be a mapping with `defaults:` and `sections:`, not a {type(data).__name__}"
        )
    if not isinstance(data.get("defaults", {}), dict) or not isinstance(data.get("sections", {}) or {}, dict):
        raise ClipinvError(f"profile {path} must have a `defaults:` mapping and a `sections:` mapping")
    if data.get("ray") is not None and not isinstance(data["ray"], str):
        raise ClipinvError(f"profile {path}: `ray:` is a Ray address (HOST:PORT, auto) or local, not {data['ray']!r}")
    return {"defaults": data.get("defaults") or {}, "sections": data.get("sections") or {}, "ray": data.get("ray")}


def notebook_parameters(nb_path: Path) -> dict:
    """The names (and default source) of a notebook's `parameters` cell."""
    import papermill

    return papermill.inspect_notebook(str(nb_path))


def _yaml_problem(error) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{getattr(error, 'problem', None) or type(error).__name__}{where}"


def parse_value(text: str):
    """A -p value as YAML (papermill's convention): 8 -> int, 0.5 -> float, null -> None, [a, b] -> list.
    Text that is not plain YAML is refused, not passed on as a string."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ClipinvError(
            f"-p value {text!r} is not plain YAML ({_yaml_problem(e)}): fix it, or wrap it in quotes "
            f"inside the shell's (-p KEY \"'text'\") to pass it as text"
        ) from None


def section_parameters(r: Path, name: str, profile: str, overrides: dict | None = None) -> dict:
    """Profile defaults (only those the notebook declares), then its section block, then overrides."""
    check_section(r, name)
    declared = notebook_parameters(r / "notebooks" / f"{name}.ipynb")
    prof = load_profile(r, profile)
    params = {k: v for k, v in prof["defaults"].items() if k in declared}
    block = prof["sections"].get(name) or {}
    explicit = {**block, **(overrides or {})}
    unknown = sorted(set(explicit) - set(declared))
    if unknown:
        raise ClipinvError(
            f"section {name} has no parameter(s) {', '.join(unknown)} (from profile {profile!r} or -p): "
            f"its parameters are {', '.join(declared)}"
        )
    if "run" in explicit:
        raise ClipinvError(f"section {name}: `run` is set by the runner (--plan, --ray), not by a profile or -p")
    params.update(explicit)
    if "profile" in declared:
        params["profile"] = profile
    return params


# ---------------------------------------------------------------- running
def _fail_line(name: str, kept: Path, err) -> str:
    cell = getattr(err, "exec_count", None) or getattr(err, "cell_index", None)
    ename = getattr(err, "ename", type(err).__name__)
    evalue = str(getattr(err, "evalue", err)).strip().splitlines()
    first = evalue[0] if evalue else ""
    # ClipinvErrors raised inside the notebook keep their one line
    return (
        f"section {name} failed in cell {cell}: {ename}: {first[:300]} "
        f"(the page built before is kept; this run's partial notebook is {kept})"
    )


def _could_not_run(name: str, kept: Path, err) -> str:
    what = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:300] if str(err).strip() else ''}"
    if type(err).__name__ == "DeadKernelError":  # the kernel was killed, almost always for memory
        what += " - the kernel died, most likely out of memory: run fewer seeds (-p seeds N) or a smaller model"
    return f"section {name} could not run: {what} (the page built before is kept; partial output, if any, in {kept})"


def ray_address(r: Path, profile: str, ray: str | None = None) -> str | None:
    """The Ray cluster a section's kernel joins (`ray`, else the profile's `ray:`; None: no Ray). For
    local, this process starts or joins the cluster and gives its address, so the sections share it."""
    target = ray or load_profile(r, profile)["ray"]
    if not target:
        return None
    from clipinv.runs.ray_cluster import check_address, cluster_address, connect

    if target.strip() == "local":
        connect(None)
        return cluster_address()
    check_address(target, "--ray" if ray else "the profile's ray:")  # in seconds, before the kernel starts
    return target.strip()


def kernel_manager(env: dict):
    """A Jupyter kernel manager whose kernels start with this process's environment plus `env` (this
    process's own environment is left as it is)."""
    from jupyter_client.manager import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            return await super().start_kernel(**{**kw, "env": {**os.environ, **kw.get("env", {}), **env}})

    return KernelManager


def execute(
    r: Path, name: str, params: dict, running: Path, failed: Path, run: dict | None = None, threads: int | None = None
) -> None:
    """papermill: notebooks/NAME.ipynb with `params` (and `run`, how the section runs, for its `Section`:
    `clipinv.book.section.engine_for`) into `running`, its kernel on `threads` CPU threads (None: torch's
    default). A failure moves the partial notebook to `failed` and raises one line."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    # the kernel imports the clipinv that runs it (a checkout's, not another install's); the
    # second setting quiets a debugger warning in every kernel
    here = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": path, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    try:
        papermill.execute_notebook(
            str(r / "notebooks" / f"{name}.ipynb"),
            str(running),
            parameters={**params, **({"run": {"section": name, **run}} if run else {})},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(r),
            log_output=False,
            report_mode=False,
            kernel_manager_class=kernel_manager(env),
        )
    except PapermillExecutionError as e:
        os.replace(running, failed)
        raise ClipinvError(_fail_line(name, failed, e)) from None
    except Exception as e:  # kernel died, timeout, missing kernel: still one line
        if running.exists():
            os.replace(running, failed)
        raise ClipinvError(_could_not_run(name, failed, e)) from None


def run_section(
    r: Path,
    name: str,
    profile: str,
    overrides: dict | None = None,
    log=print,
    ray: str | None = None,
    ledger: str | Path | None = None,
    threads: int | None = None,
) -> dict:
    """Execute notebooks/NAME.ipynb with the profile's parameters into book/_generated/NAME.ipynb.
    `ray` (an address or "local"; default the profile's `ray:`) runs its inversions as Ray tasks;
    `ledger` (a file) gets a row for each inversion it asks for (`clipinv.runs.planning.Ledger`);
    `threads` caps the kernel's CPU threads (sections run side by side share the cores)."""
    check_section(r, name)
    address = ray_address(r, profile, ray)  # reads, and so checks, the profile before any notebook
    params = section_parameters(r, name, profile, overrides)
    check_world(r, name, params)
    out_dir = r / "book" / "_generated"
    failed_dir = out_dir / "failed"
    failed_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.ipynb"
    running = failed_dir / f"{name}.running.ipynb"  # the page is replaced only when the run succeeds
    failed = failed_dir / f"{name}.ipynb"
    log(
        f"[{name}] profile {profile}: "
        + ", ".join(f"{k}={v!r}" for k, v in params.items())
        + (f"; inversions on Ray at {address}" if address else "")
    )
    t0 = time.perf_counter()
    run = {**({"ray": address} if address else {}), **({"ledger": str(ledger)} if ledger else {})}
    execute(r, name, params, running, failed, run=run, threads=threads)
    seconds = time.perf_counter() - t0
    _stamp(running, name, profile, params, overrides or {}, seconds, ray=address)
    os.replace(running, out)
    failed.unlink(missing_ok=True)  # an earlier failure of this section is superseded
    log(f"[{name}] done in {seconds:.1f} s -> {out.relative_to(r)}")
    return {"section": name, "seconds": seconds, "output": out, "parameters": params}


def rerun_command(name: str, profile: str, overrides: dict) -> str:
    """The command that reruns a section with these parameters."""
    import shlex

    import yaml

    def text(v):
        return (
            v if isinstance(v, str) else yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()
        )

    return " ".join(
        ["clipinv section", name, "--profile", profile]
        + [f"-p {k} {shlex.quote(text(v))}" for k, v in overrides.items()]
    )


def _stamp(out: Path, name: str, profile: str, params: dict, overrides: dict, seconds: float, ray=None):
    """Make the executed notebook a page: record which profile and parameters made it and how long it
    took, keep its parameter cells out of the page (a small box after the title says what ran and
    how to rerun it), and fold every other code cell's source away, one click from its output."""
    import html

    import nbformat

    nb = nbformat.read(str(out), as_version=4)
    nb.metadata["clipinv"] = {
        **nb.metadata.get("clipinv", {}),  # what the source declares (its worlds)
        "profile": profile,
        "parameters": params,
        "overrides": overrides,
        "seconds": round(seconds, 1),
        **({"ray": ray} if ray else {}),
    }
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
        elif not {"remove-cell", "remove-input", "hide-input"} & set(tags):
            tags.append("hide-input")
    changed = ", ".join(f"{k} = {v!r}" for k, v in overrides.items())
    box = (
        f'<div class="admonition note clipinv-run"><p class="admonition-title">Built with the {html.escape(profile)} '
        f"profile{' and ' + html.escape(changed) if changed else ''}</p><p>Rerun this page: "
        f"<code>{html.escape(rerun_command(name, profile, overrides))}</code>"
        f" ({len(params)} parameters; {round(seconds)} s to execute)</p></div>"
    )
    cell = nbformat.v4.new_markdown_cell(box)
    cell.metadata["tags"] = ["clipinv-run"]
    at = 1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0
    nb.cells.insert(at, cell)
    nbformat.write(nb, str(out))


def write_toc(r: Path) -> Path:
    """A table of contents listing the executed sections that exist (order of the committed _toc.yml)."""
    import yaml

    gen = r / "book" / "_generated"
    done = [s for s in SECTIONS if (gen / f"{s}.ipynb").is_file()]
    done += sorted(p.stem for p in gen.glob("*.ipynb") if p.stem not in SECTIONS)
    committed = yaml.safe_load((r / "_toc.yml").read_text())

    def keep(entries):
        out = []
        for e in entries:
            f = e.get("file", "")
            if f.startswith("book/_generated/") and Path(f).name not in done:
                continue
            out.append(e)
        return out

    toc = {k: v for k, v in committed.items() if k != "parts"}
    parts = []
    for part in committed.get("parts", []):
        chapters = keep(part.get("chapters", []))
        if chapters:
            parts.append({**part, "chapters": chapters})
    toc["parts"] = parts
    path = gen / "_toc.yml"
    path.write_text(
        "# generated by `clipinv book` from _toc.yml: the sections executed so far\n"
        + yaml.safe_dump(toc, sort_keys=False)
    )
    return path


# what a build with a repository adds to _config.yml: the repository button and the launch buttons
REPOSITORY_HOSTS = ("github.com", "gitlab.com", "bitbucket.org")
LAUNCH = {
    "launch_buttons": {
        "notebook_interface": "jupyterlab",
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
    }
}


def write_config(r: Path, repository: str | None = None) -> Path:
    """The build's _config.yml: the committed one, plus the repository and launch buttons when the book
    has a repository (`repository`, else CLIPINV_REPOSITORY; none: no button points anywhere)."""
    import yaml

    config = yaml.safe_load((r / "_config.yml").read_text())
    repository = repository or os.environ.get("CLIPINV_REPOSITORY")
    if repository:
        if not repository.startswith(tuple(f"https://{host}/" for host in REPOSITORY_HOSTS)):
            raise ClipinvError(
                f"--repository must be a repository's address on {', '.join(REPOSITORY_HOSTS)} "
                f"(https://github.com/OWNER/NAME, the hosts the launch buttons know), got {repository!r}"
            )
        config = {
            **config,
            **LAUNCH,
            "repository": {"url": repository, "path_to_book": ".", "branch": "main"},
            "html": {**config.get("html", {}), "use_repository_button": True},
        }
    path = r / "book" / "_generated" / "_config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# generated by `clipinv book` from _config.yml\n" + yaml.safe_dump(config, sort_keys=False))
    return path


def build_site(r: Path, log=print, repository: str | None = None) -> Path:
    """Compile the executed notebooks and pages into book/_build/html (nothing is executed)."""
    toc = write_toc(r)
    config = write_config(r, repository)
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(exe) if exe.exists() else "jupyter-book",
        "build",
        str(r),
        "--toc",
        str(toc),
        "--config",
        str(config),
        "--path-output",
        str(r / "book"),
        "-q",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=str(r), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise ClipinvError("jupyter-book build failed: " + " | ".join(tail)[-800:])
    index = r / "book" / "_build" / "html" / "index.html"
    log(f"[site] built in {time.perf_counter() - t0:.1f} s -> {index}")
    return index


def copy_sources(dst: Path, src: Path | None = None) -> Path:
    """Copy what a book build needs (not outputs) into dst: used by tests to build off the working tree."""
    src = root(src)
    dst = Path(dst)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(src / name, dst / name)
    for folder in ("notebooks", "profiles"):
        shutil.copytree(src / folder, dst / folder, dirs_exist_ok=True)
    (dst / "book").mkdir(exist_ok=True)
    for p in (src / "book").iterdir():
        if p.is_file():
            shutil.copy2(p, dst / "book" / p.name)
    shutil.copytree(src / "book" / "_static", dst / "book" / "_static", dirs_exist_ok=True)
    return dst
