"""`clipinv section` and `clipinv book`: the command line of the book's runner (`clipinv.book.runner`).

clipinv section NAME [-p KEY VALUE ...] [--profile P] [--ray [ADDRESS]]   rerun one section, rebuild the site
clipinv book [--profile P] [--ray [ADDRESS]] [--jobs N]                    run every section, build the site
... --plan [--probe]                                  what they would compute and cost (`clipinv.book.plan`)
"""

from __future__ import annotations

import argparse
import time

from clipinv.book.runner import SECTIONS, available_sections, build_site, check_section, parse_value, root, run_section
from clipinv.errors import ClipinvError


def _overrides(args) -> dict:
    return {k: parse_value(v) for k, v in (args.parameters or [])}


def _plan(r, names, args, book_wide: bool) -> int:
    from clipinv.book.plan import plan, show

    show(plan(r, names, args.profile, _overrides(args), probe=args.probe, book_wide=book_wide))
    return 0


def cmd_section(args) -> int:
    r = root(args.root)
    if args.plan:
        return _plan(r, [args.name], args, book_wide=False)
    overrides = _overrides(args)
    run_section(r, args.name, args.profile, overrides, ray=args.ray)
    if not args.no_build:
        build_site(r, repository=args.repository)
    return 0


def cmd_book(args) -> int:
    r = root(args.root)
    names = args.only or available_sections(r)
    for name in names:  # every name, before any section runs
        check_section(r, name)
    if args.plan:
        return _plan(r, names, args, book_wide=True)
    if args.parameters:
        raise ClipinvError(
            "clipinv book takes -p only with --plan; rerun a section with new parameters: clipinv section NAME -p ..."
        )
    missing = [s for s in SECTIONS if s not in available_sections(r)]
    if missing and not args.only:
        print(f"[book] sections not written yet (left out of the site): {', '.join(missing)}")
    if args.jobs < 1:
        raise ClipinvError(f"--jobs {args.jobs}: run at least one section at a time (1, or 2 on a 2-core CPU)")
    t0 = time.perf_counter()
    timings = _run_sections(r, names, args) if args.jobs > 1 else []
    for i, name in enumerate(names if args.jobs == 1 else [], 1):
        print(f"[book] {i}/{len(names)} {name}", flush=True)
        timings.append(run_section(r, name, args.profile, ray=args.ray)["seconds"])
    if not args.no_build:
        build_site(r, repository=args.repository)
    total = time.perf_counter() - t0
    print(f"[book] profile {args.profile}: {len(names)} section(s) in {sum(timings):.1f} s, total {total:.1f} s")
    return 0


# the classroom book's sections, longest first (its measured seconds per section on a 2-core CPU), so
# that sections run side by side finish together rather than leave the longest running alone at the end;
# 02 starts before 07, which finds 02's inversions of the same ladder rung in the cache
LONGEST_FIRST = ("08", "02", "06", "07", "03", "05", "00", "01", "04")


def _run_sections(r, names, args) -> list[float]:
    """Run `names` `args.jobs` at a time, longest first, each kernel on its share of the CPU threads.
    The first failure stops what has not started and is raised once the running sections end."""
    import os
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    order = sorted(names, key=lambda n: LONGEST_FIRST.index(n[:2]) if n[:2] in LONGEST_FIRST else len(names))
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    print(f"[book] {len(names)} section(s), {args.jobs} at a time on {threads} thread(s) each", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_section, r, n, args.profile, ray=args.ray, threads=threads) for n in order]
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            f.cancel()  # after a failure nothing new starts (a no-op once all are done)
        wait(futures)
    failed = [f for f in futures if not f.cancelled() and f.exception() is not None]
    if failed:
        raise failed[0].exception()
    return [f.result()["seconds"] for f in futures]


def _add_parameter_flag(parser, help: str):
    parser.add_argument(
        "-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("KEY", "VALUE"), help=help
    )


def _add_build_options(parser):
    """The options `section` and `book` share: the profile, the repository the site links to."""
    parser.add_argument(
        "--profile",
        default="classroom",
        help="smoke, classroom (default) or paper (profiles/P.yaml), or the path of any profile file (P.yaml)",
    )
    parser.add_argument(
        "--repository",
        metavar="URL",
        default=None,
        help="the book's repository: adds its button and the launch buttons (default: CLIPINV_REPOSITORY, else none)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run the sections' inversions as Ray tasks: on this machine (no ADDRESS) or on the cluster at ADDRESS "
        "(default: the profile's `ray:`, else none); the pages' numbers are the same",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="compute nothing: print per section the inversions, images (cached / new), seed-steps and "
        "the hours they take at the throughput bench/RESULTS.md records",
    )
    parser.add_argument(
        "--probe", action="store_true", help="with --plan: time a few steps here for what no recorded figure covers"
    )
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)


def register(subparsers):
    """Add `clipinv section` and `clipinv book` to the CLI."""
    s = subparsers.add_parser(
        "section",
        help="rerun one section of the book with new parameters and rebuild its page",
        description="Execute notebooks/NAME.ipynb with papermill (profile parameters, then -p overrides) into "
        "book/_generated/, then rebuild the site. A failing cell stops with the section, the cell and "
        "the error; the page built before stays, the partial notebook goes to book/_generated/failed/.",
    )
    s.add_argument("name", metavar="NAME", help=f"the section, e.g. {', '.join(SECTIONS[:3])}")
    _add_parameter_flag(s, "override a parameter; VALUE is read as YAML (8, 0.5, null, '[a, b]'), as papermill does")
    s.add_argument("--no-build", action="store_true", help="only execute the notebook, do not rebuild the site")
    _add_build_options(s)
    s.set_defaults(func=cmd_section)

    b = subparsers.add_parser(
        "book",
        help="execute every section with a profile and build the site (book/_build/html)",
        description="Execute every notebook in notebooks/ with the profile's parameters, then build the "
        "Jupyter Book into book/_build/html without re-executing anything.",
    )
    b.add_argument("--only", nargs="+", metavar="NAME", help="only these sections (others keep their last output)")
    b.add_argument("--no-build", action="store_true", help="only execute the notebooks")
    b.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="run this many sections at a time, the CPU threads shared among them (make book: 2 for the CPU profiles)",
    )
    _add_parameter_flag(b, "with --plan: a parameter for every section that takes it (e.g. -p model ViT-B-16:random)")
    _add_build_options(b)
    b.set_defaults(func=cmd_book)
