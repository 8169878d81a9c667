"""`clipinv read`: images back into words, from image files or from a run of `clipinv invert`.

Prints a table (image, seed, words, cosine) and writes it as JSON (`readings.json` in --out); an
existing file is never overwritten: the run stops before any work instead.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from clipinv.analyses.roundtrip import content_words, words_of
from clipinv.core.images import writable_dir
from clipinv.core.reading import DEFAULT_STEPS, METHODS, read
from clipinv.errors import ClipinvError
from clipinv.models.load import load_model

OUT_NAME = "readings.json"


def register(sub):
    p = sub.add_parser(
        "read",
        help="read images back into words (the tokens a CLIP scores most similar to each image)",
        description="Read images back into words: for each image and seed, the tokens of the model's own vocabulary "
        "whose text the model scores most similar to the image (PEZ: projected embeddings, Wen et al. 2023).",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument(
        "--from-inversion",
        metavar="RUN_DIR",
        default=None,
        help="read the images of a `clipinv invert` run (its folder, with run.json); the model defaults to the run's",
    )
    p.add_argument("--model", default=None, help="model spec (default: ViT-B-16:openai, or the inverted run's model)")
    p.add_argument("--tokens", type=int, default=4, metavar="N", help="tokens per reading (default 4)")
    p.add_argument("--seeds", type=int, default=1, metavar="K", help="seeds 0..K-1 per image (default 1)")
    p.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, metavar="N", help=f"optimisation steps (default {DEFAULT_STEPS})"
    )
    p.add_argument("--method", choices=METHODS, default="pez", help="the searcher (default pez)")
    p.add_argument("--out", default="readings", help=f"output folder for {OUT_NAME} (default ./readings)")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda if available, else cpu")
    p.add_argument("--no-cache", action="store_true", help="bypass the results cache (CLIPINV_CACHE, ~/.cache/clipinv)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_read)


def inversion_run(run_dir) -> tuple[str, list[Path], list[str]]:
    """(model spec, image files, their prompts) of a `clipinv invert` output folder."""
    run = Path(run_dir) / "run.json"
    if not run.is_file():
        raise ClipinvError(f"{run_dir} has no run.json: give the --out folder of a `clipinv invert` run")
    try:
        record = json.loads(run.read_text())
        spec, entries = record["specs"][0], record["images"]
        files = [Path(run_dir) / e["file"] for e in entries]
        prompts = [e["prompt"] for e in entries]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ClipinvError(f"{run} is not the record of a `clipinv invert` run (no specs or images)") from None
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ClipinvError(f"{len(missing)} image(s) of {run} are missing (e.g. {missing[0]}): rerun the inversion")
    return spec, files, prompts


def cmd_read(args) -> int:
    if args.from_inversion and args.images:
        raise ClipinvError("give image files or --from-inversion RUN_DIR, not both")
    prompts = None
    if args.from_inversion:
        spec, files, prompts = inversion_run(args.from_inversion)
        spec = args.model or spec
    elif args.images:
        spec, files = args.model or "ViT-B-16:openai", [Path(f) for f in args.images]
    else:
        raise ClipinvError("no images given: clipinv read IMAGE... --model SPEC, or clipinv read --from-inversion DIR")
    if args.seeds < 1:
        raise ClipinvError(f"--seeds must be >= 1, got {args.seeds}")
    if args.tokens < 1:
        raise ClipinvError(f"--tokens must be >= 1, got {args.tokens}")
    out = writable_dir(args.out)
    target = out / OUT_NAME
    if target.exists():
        raise ClipinvError(f"{target} exists and is never overwritten: choose another --out or move it")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ClipinvError("--device cuda but no CUDA GPU is visible: use --device cpu")
    from clipinv.core.reading import as_images

    pictures = as_images([str(f) for f in files])  # every file checked before the model loads
    bundle = load_model(spec, device=device)
    result = read(
        bundle,
        pictures,
        n_tokens=args.tokens,
        seeds=args.seeds,
        method=args.method,
        steps=args.steps,
        cache=not args.no_cache,
        progress=not args.quiet,
    )
    rows = []
    for i, f in enumerate(files):
        for j, seed in enumerate(result.seeds):
            row = {"image": str(f), "seed": seed, "words": result.texts[i][j]}
            row["tokens"] = result.words[i][j]
            row["cosine"] = round(float(result.similarity[i, j]), 5)
            if prompts is not None:
                row["prompt"] = prompts[i]
                wanted = content_words(prompts[i])
                row["prompt words back"] = [w for w in wanted if w in set(words_of(result.texts[i][j]))]
            rows.append(row)
    record = {**result.record, "model": spec, "readings": rows, "command": ["clipinv", *sys.argv[1:]]}

    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".readings-", suffix=".tmp", dir=out)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(record, indent=2) + "\n")
        try:
            os.link(tmp, target)  # fails rather than replace a file that appeared meanwhile
        except FileExistsError:
            raise ClipinvError(f"{target} appeared during the run and is never overwritten: nothing written") from None
    finally:
        os.unlink(tmp)
    print_table(rows)
    print(target)
    return 0


def print_table(rows) -> None:
    name = max(len(Path(r["image"]).name) for r in rows)
    extra = "prompt" in rows[0]
    head = f"{'image':<{name}}  seed  cosine  words" + ("  | prompt words back" if extra else "")
    print(head)
    for r in rows:
        line = f"{Path(r['image']).name:<{name}}  {r['seed']:>4}  {r['cosine']:.3f}   {r['words']}"
        if extra:
            line += f"  | {', '.join(r['prompt words back']) or '-'}"
        print(line)
