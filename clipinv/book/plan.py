"""`--plan`: what a section or the book would compute before it runs, and what that would cost.

    clipinv book --profile paper --plan [--probe]
    clipinv section NAME --profile P --plan [-p KEY VALUE ...] [--probe]

Sections decide their prompts in their notebooks, so a plan executes each notebook as a run would,
with the same parameters, on a plan's engine (`clipinv.runs.planning.PlanningEngine`, handed to the
notebook's `Section` as its `run`): every inversion it asks for is written down with how much of it
the cache already holds, and nothing is optimised. The sections of one plan share it in book order, so what an earlier section computes counts
as cached in a later one, as it will be in the run. A profile that asks for CUDA where there is none
is planned on the CPU (the cache keys, and so the counts, do not depend on the device) and costed
for CUDA. Costs come from the figures bench/RESULTS.md records (`clipinv.runs.costs`); `--probe` times a
few steps here for what no figure covers.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from clipinv.book.runner import available_sections, execute, notebook_parameters, section_parameters
from clipinv.errors import ClipinvError
from clipinv.runs import costs, planning


def declared_overrides(r: Path, name: str, overrides: dict) -> dict:
    """The book-wide overrides a section declares (a -p for `clipinv book` goes to those that take it)."""
    declared = notebook_parameters(r / "notebooks" / f"{name}.ipynb")
    return {k: v for k, v in (overrides or {}).items() if k in declared}


def plan_section(r: Path, name: str, profile: str, overrides: dict | None, plan_file: Path, log=print) -> list[dict]:
    """Execute one section on a plan's engine; returns its rows (each with the device it will run on)."""
    import torch

    if name not in available_sections(r):
        raise ClipinvError(f"no section {name!r} to plan: pick one of {', '.join(available_sections(r))}")
    params = section_parameters(r, name, profile, overrides)
    target = str(params.get("device") or "cpu")
    planned = dict(params)
    if costs.device_type(target) == "cuda" and not torch.cuda.is_available():
        planned["device"] = "cpu"  # the counts do not depend on the device; the costs are for CUDA
        log(f"[plan] {name}: no CUDA here, planned on the CPU and costed for {target}")
    failed = r / "book" / "_generated" / "failed" / f"{name}.plan.ipynb"
    failed.parent.mkdir(parents=True, exist_ok=True)
    before = len(planning.rows(plan_file))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="clipinv-plan-") as tmp:
        execute(r, name, planned, Path(tmp) / f"{name}.ipynb", failed, run={"plan": str(plan_file)})
    failed.unlink(missing_ok=True)
    found = [{**row, "device": target} for row in planning.rows(plan_file)[before:]]
    log(f"[plan] {name}: {len(found)} request(s), planned in {time.perf_counter() - t0:.1f} s")
    return found


def plan(r: Path, names, profile: str, overrides=None, probe=False, book_wide=False, log=print) -> dict:
    """Plan `names` in order. Returns {"rows", "sections" (a DataFrame), "figures" (a DataFrame), "total"}.
    `book_wide`: the overrides go to every section that declares them (as `clipinv book -p`)."""
    with tempfile.TemporaryDirectory(prefix="clipinv-plan-") as tmp:
        plan_file = Path(tmp) / "plan.jsonl"
        rows = []
        for name in names:
            mine = declared_overrides(r, name, overrides) if book_wide else overrides
            rows += plan_section(r, name, profile, mine, plan_file, log=log)
    weights = {row["spec"]: row["parameters"] for row in rows if row["kind"] == "weights"}
    rows = [row for row in rows if row["kind"] != "weights"]
    figures = costs.load_figures()
    if probe:
        for device in dict.fromkeys(row["device"] for row in rows):
            figures = costs.probe([row for row in rows if row["device"] == device], figures, device, log=log)
    return {**summarise(rows, names, figures, profile), "missing_weights": weights}


def missing_weights_line(weights: dict) -> str:
    """What a run must download first, or "" (planned on random weights of the same architectures)."""
    if not weights:
        return ""
    each = ", ".join(f"{spec} ({n / 1e6:,.0f}M parameters, about {n * 4 / 1e9:.1f} GB)" for spec, n in weights.items())
    return (
        f"weights not on this machine (planned on random weights of the same architecture; their images count "
        f"as new; download them before the run): {each}"
    )


def duration(seconds, partial: bool = False) -> str:
    """Seconds as a reader reads them: 40 s, 12.5 min, 3.20 h; "?" where no figure covers the work,
    ">= 40 s" where one covers only part of it."""
    if seconds is None or (partial and seconds < 0.5):
        return "?"
    text = (
        "< 1 s"
        if 0 < seconds < 0.5
        else f"{seconds:.0f} s"
        if seconds < 120
        else f"{seconds / 60:.1f} min"
        if seconds < 7200
        else f"{seconds / 3600:.2f} h"
    )
    return f">= {text}" if partial else text


def hours_word(device: str) -> str:
    return "GPU-hours" if costs.device_type(device) == "cuda" else "CPU-hours"


def summarise(rows: list[dict], names, figures: dict, profile: str) -> dict:
    """The per-section table, the table of figures used, and the total line."""
    import pandas as pd

    for row in rows:
        row["seconds"], row["figure"] = costs.row_seconds(row, figures)
    per_section, per_figure = [], {}
    for name in names:
        mine = [row for row in rows if row["section"] == name]
        inv = [row for row in mine if row["kind"] == "inversion"]
        missing = sorted({row["figure"].split(": ", 1)[1] for row in mine if row["seconds"] is None})
        devices = sorted({row["device"] for row in mine}) or ["-"]
        per_section.append(
            {
                "section": name,
                "invert calls": len(inv),
                "images": sum(row["images"] for row in inv),
                "cached": sum(row["cached"] for row in inv),
                "new": sum(row["new"] for row in inv),
                "seed-steps": sum(row["seed_steps"] for row in inv),
                "device": ", ".join(devices),
                "time": duration(sum(row["seconds"] or 0.0 for row in mine), partial=bool(missing)),
                "not costed": "; ".join(missing) or "",
            }
        )
        for row in mine:
            if row["seconds"] == 0.0:
                continue
            what = (
                "inversion",
                " + ".join(costs.arch(m) for m in row["models"]),
                row["device"],
                f"{row['precision']}, {row['copies']} copies",
            )
            entry = per_figure.setdefault((*what, row["figure"]), {"steps": 0, "seconds": 0.0})
            entry["steps"] += row["seed_steps"]
            entry["seconds"] = (
                None if entry["seconds"] is None or row["seconds"] is None else entry["seconds"] + row["seconds"]
            )
    figures_table = pd.DataFrame(
        [
            {
                "work": k[0],
                "model": k[1],
                "device": k[2],
                "setting": k[3],
                "steps": v["steps"],
                "time": duration(v["seconds"]),
                "figure": k[4],
            }
            for k, v in per_figure.items()
        ],
        columns=["work", "model", "device", "setting", "steps", "time", "figure"],
    )
    return {
        "rows": rows,
        "sections": pd.DataFrame(per_section),
        "figures": figures_table,
        "total": total_line(rows, profile),
    }


def total_line(rows: list[dict], profile: str) -> str:
    inv = [row for row in rows if row["kind"] == "inversion"]
    by_device = {}
    for row in rows:
        if row["seconds"]:
            by_device[row["device"]] = by_device.get(row["device"], 0.0) + row["seconds"]
    hours = " + ".join(f"{s / 3600:.2f} {hours_word(d)} ({duration(s)}) on {d}" for d, s in by_device.items())
    missing = sorted({row["figure"].split(": ", 1)[1] for row in rows if row["seconds"] is None})
    line = (
        f"total ({profile}): {len(inv)} inversion request(s), {sum(r['images'] for r in inv):,} images, "
        f"{sum(r['cached'] for r in inv):,} cached, {sum(r['new'] for r in inv):,} new = "
        f"{sum(r['seed_steps'] for r in inv):,} seed-steps; "
        + (f"about {hours} at the recorded figures" if hours else "nothing costed" if missing else "nothing to compute")
    )
    if missing:
        line += f"; not costed ({costs.NO_FIGURE}): {', '.join(missing)} (--probe times them on this machine)"
    return line


def show(result: dict, out=print) -> None:
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 120):
        out(result["sections"].to_string(index=False))
        if len(result["figures"]):
            out("")
            out(result["figures"].to_string(index=False))
    out(result["total"])
    if result.get("missing_weights"):
        out(missing_weights_line(result["missing_weights"]))
