"""The `clipinv` command: invert, models, toy, section, book, explore, read."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from clipinv.book import explorer_server
from clipinv.cli import book, read
from clipinv.core.images import new_run_folder, slug, to_pil
from clipinv.core.invert import MAX_IMAGES, invert
from clipinv.core.recipe import KNOBS, Recipe
from clipinv.errors import ClipinvError
from clipinv.models.load import load_model
from clipinv.runs.costs import beyond_a_day
from clipinv.version import __version__
from clipinv.worlds.shapes import TOY_MODELS
from clipinv.worlds.shapes import cli as toy_cli


def _parse_range(text: str):
    try:
        low, high = (float(v) for v in text.split(","))
        return (low, high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"range {text!r} is not LOW,HIGH (e.g. 0.7,1.2)") from None


def _parse_schedule(text: str):
    try:
        pairs = [p.split(":") for p in text.split(",")]
        return tuple((int(a), int(b)) for a, b in pairs)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"resolution schedule {text!r} is not STEP:SIDE,STEP:SIDE,... (e.g. 0:64,900:128,1800:224)"
        ) from None


def _parse_grey(text: str):
    return None if text.lower() == "none" else float(text)


def _shown(value) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ",".join(f"{a}:{b}" for a, b in value)
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return str(value)


# how a flag's text becomes a knob's value (the other knobs: their default's type), and its placeholder
PARSERS = {
    "resolution_schedule": (_parse_schedule, "STEP:SIDE,..."),
    "scale_range": (_parse_range, "LOW,HIGH"),
    "background_fill": (_parse_grey, "GREY|none"),
}
METAVARS = {int: "N", float: "X", str: "NAME"}


def add_recipe_flags(parser):
    """One flag per recipe knob (`clipinv.core.recipe.KNOBS`), each defaulting to the model's own recipe."""
    paper = Recipe()
    group = parser.add_argument_group(
        "recipe", "each flag's default is the model's own recipe; (paper: ...) is the paper's public code"
    )
    for name, meta in KNOBS.items():
        default = getattr(paper, name)
        text = f"{meta['help']} (paper: {_shown(default)})"
        if isinstance(default, bool):
            group.add_argument(
                "--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=None, help=text
            )
        else:
            parse, metavar = PARSERS.get(name, (type(default), METAVARS.get(type(default))))
            options = getattr(meta["check"], "options", None)
            group.add_argument(
                "--" + name.replace("_", "-"),
                type=parse,
                default=None,
                help=text,
                **({"choices": options} if options else {"metavar": metavar}),
            )


def add_ray_flag(parser):
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="compute the images as Ray tasks: on this machine (no ADDRESS, or RAY_ADDRESS's cluster), or on the "
        "cluster at ADDRESS (HOST:PORT, ray://HOST:PORT, auto); results are cached here as tasks finish",
    )


def recipe_changes(args) -> dict:
    return {name: getattr(args, name) for name in KNOBS if getattr(args, name) is not None}


def _add_invert(sub):
    p = sub.add_parser(
        "invert",
        help="invert prompts into images",
        description="Invert prompts into images. Recipe flags default to the model's own recipe "
        "(the paper's for real CLIPs, each world's own for its models: emoji, toy); each flag's "
        "help gives the paper's value.",
    )
    p.add_argument("prompts", nargs="+", metavar="PROMPT", help="text prompts to invert (quote each)")
    p.add_argument(
        "--model",
        default="ViT-B-16:openai",
        help="model spec (default: ViT-B-16:openai, the paper's); offline: emoji or toy",
    )
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per prompt (default 1)")
    p.add_argument("--out", default="inversions", help="output folder (default ./inversions)")
    p.add_argument(
        "--compile", action="store_true", help="torch.compile the image encoder (same images; pays on a GPU)"
    )
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda if available, else cpu")
    p.add_argument("--no-cache", action="store_true", help="bypass the results cache (CLIPINV_CACHE, ~/.cache/clipinv)")
    p.add_argument(
        "--truncate", action="store_true", help="cut prompts longer than the model's context instead of failing"
    )
    p.add_argument("--no-blur", action="store_true", help="write NSFW-flagged images unblurred (default: blurred)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--large",
        action="store_true",
        help="run even what would take more than a day of the device at the throughput bench/RESULTS.md "
        "records (or more than 10,000 images where it records none); without it such a run is refused",
    )
    add_ray_flag(p)
    p.add_argument(
        "--images-per-task",
        type=int,
        metavar="N",
        default=None,
        help="with --ray: images per Ray task (default: about 4 tasks per worker, at most 64)",
    )
    add_recipe_flags(p)
    p.set_defaults(func=cmd_invert)


def cmd_invert(args) -> int:
    out = new_run_folder(args.out)
    if out != Path(args.out):
        print(f"clipinv: {args.out} holds an earlier run: this one goes to {out}", file=sys.stderr)
    if args.seeds < 1:
        raise ClipinvError(f"--seeds must be >= 1, got {args.seeds}")
    images = len(args.prompts) * args.seeds
    if images > MAX_IMAGES:
        raise ClipinvError(f"{images:,} images is more than one run holds ({MAX_IMAGES:,}): run fewer seeds at a time")
    for prompt in args.prompts:
        if not prompt.strip():
            raise ClipinvError('a prompt is empty: quote each prompt, e.g. clipinv invert "a red circle"')
    engine = None
    if args.ray is not None:
        from clipinv.runs.ray_cluster import RayEngine

        engine = RayEngine(args.ray, device=args.device, images_per_task=args.images_per_task)
        engine.connect()  # a bad address fails here, in seconds, before any work
    elif args.images_per_task is not None:
        raise ClipinvError("--images-per-task sizes Ray tasks: use it with --ray")
    # with Ray the driver only checks the prompts and hashes the weights: on the CPU, the tasks on --device
    device = "cpu" if engine else args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ClipinvError("--device cuda but no CUDA GPU is visible: use --device cpu")
    bundle = load_model(args.model, device=device)
    note = bundle.unknown_words_note(args.prompts)
    if note:
        print(f"clipinv: note: {note}", file=sys.stderr)
    recipe = (bundle.default_recipe or Recipe()).replace(**recipe_changes(args))
    too_big = None if args.large else beyond_a_day([bundle], recipe, args.device or device, images)
    if too_big:
        raise ClipinvError(too_big)
    result = invert(
        bundle,
        args.prompts,
        seeds=args.seeds,
        recipe=recipe,
        cache=not args.no_cache,
        progress=not args.quiet,
        truncate=args.truncate,
        compile=args.compile,
        engine=engine,
    )
    images, flagged = result.images, None
    if not args.no_blur:
        from clipinv.safety import blur_flagged

        images, flagged = blur_flagged(images)

    created = not out.exists()
    try:
        files = _write_run(out, result, images, flagged)
    except OSError as e:
        if created:  # the folder this run made, left empty
            shutil.rmtree(
                out, ignore_errors=True
            )  # a full disk, a folder gone read-only: the images computed are kept where they can be
        kept = "are in the results cache: rerun the same command to write them" if not args.no_cache else "are lost"
        raise ClipinvError(
            f"could not write the run into {out} ({e.strerror or type(e).__name__}): nothing was written "
            f"there; its {len(files_of(result))} image(s) {kept} (free space or choose another --out)"
        ) from None
    for f in files:
        print(f"{out / f['file']}  similarity {f['similarity']:.3f}")
    print(f"{out / 'run.json'}")
    return 0


def files_of(result) -> list[tuple[int, int, str]]:
    """(prompt index, seed index, file name) of each image of a run."""
    return [
        (i, j, f"{i:02d}-{slug(prompt)}-seed{seed}.png")
        for i, prompt in enumerate(result.prompts)
        for j, seed in enumerate(result.seeds)
    ]


def _write_run(out: Path, result, images, flagged) -> list[dict]:
    """The PNGs and run.json, written into a temporary folder first, then moved into place: nothing half-done."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".clipinv-", dir=out))
    try:
        files = []
        for i, j, name in files_of(result):
            to_pil(images[i, j]).save(tmp / name)
            files.append(
                {
                    "file": name,
                    "prompt": result.prompts[i],
                    "seed": result.seeds[j],
                    "similarity": round(float(result.similarity[i, j]), 5),
                    "nsfw_blurred": bool(flagged[i, j]) if flagged is not None else None,
                }
            )
        record = {**result.record, "images": files, "command": ["clipinv", *sys.argv[1:]]}
        (tmp / "run.json").write_text(json.dumps(record, indent=2, allow_nan=False))
        for f in files:
            os.replace(tmp / f["file"], out / f["file"])
        os.replace(tmp / "run.json", out / "run.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files


def cmd_models(args) -> int:
    print("Offline (shipped with clipinv):")
    for name, desc in TOY_MODELS.items():
        print(f"  {name:<28} {desc}")
    print("  ARCH:random                  random initialisation of any architecture below (benchmarks, smoke tests)")
    print("Pretrained (open_clip; downloaded on first use, needs internet):")
    import open_clip

    for arch, tag in open_clip.list_pretrained():
        print(f"  {arch}:{tag}")
    print("Also: hf-hub:ORG/REPO, ARCH:/path/to/weights.safetensors")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipinv", description="Invert CLIP models into images (Kazemi et al. 2024).")
    parser.add_argument("--version", action="version", version=f"clipinv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_invert(sub)
    sub.add_parser("models", help="list the model specs clipinv knows").set_defaults(func=cmd_models)
    toy_cli.register(sub)
    book.register(sub)
    explorer_server.register(sub)
    read.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ClipinvError as e:
        print(f"clipinv: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("clipinv: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
