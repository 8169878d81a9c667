"""The `clipinv` command: invert, models, toy, section, book."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import book_cli
from .errors import ClipinvError

def _parse_range(text: str):
    try:
        low, high = (float(v) for v in text.split(","))
        return (low, high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"range {text!r} is not LOW,HIGH (e.g. 0.3,0.5)")


# recipe knobs exposed as flags: name -> (type, help)
KNOB_HELP = {
    "lr": (float, "Adam learning rate"),
    "n_augments": (int, "augmented copies per image per step"),
    "tv_weight": (float, "total-variation weight"),
    "l1_weight": (float, "L1-norm weight"),
    "l1_center": (float, "the grey level in [0, 1] the L1 term pulls pixels toward (0: black)"),
    "init_range": (_parse_range, "LOW,HIGH: the initial image is uniform noise in [LOW, HIGH]"),
    "parameterization": (str, "what the optimiser changes: pixels, or fourier (the 1/f-scaled spectrum)"),
    "fourier_decay": (float, "with --parameterization fourier: the spectrum's scale falls as 1/f^decay"),
    "affine_p": (float, "probability of the random affine per copy"),
    "rotate_degrees": (float, "max rotation of the affine (degrees)"),
    "translate": (float, "max translation of the affine (fraction of the side)"),
    "jitter_px": (float, "roll jitter in pixels at the first resolution"),
    "background_fill": (float, "pad the affine with this plain grey level in [0, 1] instead of the border pixels"),
    "color_shift_mean": (float, "ColorShift mean range m"),
    "color_shift_log_std": (float, "ColorShift log-std range s"),
    "color_jitter": (float, "brightness/contrast/saturation jitter strength"),
    "noise_std": (float, "Gaussian pixel noise on the copies"),
    "smooth_sigma": (float, "replace the final image by its Gaussian blur of this sigma (pixels), 0: none"),
    "smooth_every": (int, "and the image every N steps too, 0: only at the end"),
    "final_scale": (float, "shrink the final image to this fraction of its side onto --background-fill, 1: as optimised"),
    "residual_jitter": (float, "ghost networks: scale each residual branch of each copy by U[1-J, 1+J] every step (ViTs), 0: off"),
    "grad_clip": (float, "max gradient norm per image"),
}


def _parse_schedule(text: str):
    try:
        pairs = [p.split(":") for p in text.split(",")]
        return tuple((int(a), int(b)) for a, b in pairs)
    except ValueError:
        raise argparse.ArgumentTypeError(f"resolution schedule {text!r} is not STEP:SIDE,STEP:SIDE,... (e.g. 0:64,900:128,1800:224)")


def _add_invert(sub):
    from .recipe import Recipe

    paper = Recipe()
    p = sub.add_parser("invert", help="invert prompts into images",
                       description="Invert prompts into images. Recipe flags default to the model's own recipe "
                                   "(the paper's for real CLIPs, the toy recipe for toy models); each flag's "
                                   "help gives the paper's value.")
    p.add_argument("prompts", nargs="+", metavar="PROMPT", help="text prompts to invert (quote each)")
    p.add_argument("--model", default="ViT-B-16:openai", help="model spec (default: ViT-B-16:openai, the paper's); offline: toy")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per prompt (default 1)")
    p.add_argument("--out", default="inversions", help="output folder (default ./inversions)")
    p.add_argument("--steps", type=int, help=f"optimisation steps (paper: {paper.steps})")
    p.add_argument("--resolution-schedule", type=_parse_schedule,
                   help="STEP:SIDE,... (paper: " + ",".join(f"{a}:{b}" for a, b in paper.resolution_schedule) + ")")
    for name, (typ, text) in KNOB_HELP.items():
        p.add_argument("--" + name.replace("_", "-"), type=typ, help=f"{text} (paper: {getattr(paper, name)})")
    p.add_argument("--precision", choices=["fp32", "bf16"], help="fp32 or bf16 autocast (paper: fp32)")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the image encoder (paper: off)")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda if available, else cpu")
    p.add_argument("--no-cache", action="store_true", help="bypass the results cache (CLIPINV_CACHE, ~/.cache/clipinv)")
    p.add_argument("--truncate", action="store_true", help="cut prompts longer than the model's context instead of failing")
    p.add_argument("--no-blur", action="store_true", help="write NSFW-flagged images unblurred (default: blurred)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_invert)


def cmd_invert(args) -> int:
    import torch

    from .invert import invert
    from .recipe import Recipe
    from .io import slug, to_pil, writable_dir
    from .models import load_model

    out = writable_dir(args.out)
    if args.seeds < 1:
        raise ClipinvError(f"--seeds must be >= 1, got {args.seeds}")
    for prompt in args.prompts:
        if not prompt.strip():
            raise ClipinvError("a prompt is empty: quote each prompt, e.g. clipinv invert \"a red circle\"")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ClipinvError("--device cuda but no CUDA GPU is visible: use --device cpu")
    changes = {k: getattr(args, k) for k in list(KNOB_HELP) + ["steps", "resolution_schedule", "precision", "compile"]
               if getattr(args, k) is not None}
    bundle = load_model(args.model, device=device)
    recipe = (bundle.default_recipe or Recipe()).replace(**changes)
    result = invert(bundle, args.prompts, seeds=args.seeds, recipe=recipe, cache=not args.no_cache,
                    progress=not args.quiet, truncate=args.truncate)
    images, flagged = result.images, None
    if not args.no_blur:
        from .nsfw import blur_flagged

        images, flagged = blur_flagged(images)

    # write everything into a temporary folder first, then move it into place: nothing half-done
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".clipinv-", dir=out))
    try:
        files = []
        for i, prompt in enumerate(result.prompts):
            for j, seed in enumerate(result.seeds):
                name = f"{i:02d}-{slug(prompt)}-seed{seed}.png"
                to_pil(images[i, j]).save(tmp / name)
                files.append({"file": name, "prompt": prompt, "seed": seed,
                              "similarity": round(float(result.similarity[i, j]), 5),
                              "nsfw_blurred": bool(flagged[i, j]) if flagged is not None else None})
        record = {**result.record, "images": files, "command": ["clipinv", *sys.argv[1:]]}
        (tmp / "run.json").write_text(json.dumps(record, indent=2))
        for f in files:
            os.replace(tmp / f["file"], out / f["file"])
        os.replace(tmp / "run.json", out / "run.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in files:
        print(f"{out / f['file']}  similarity {f['similarity']:.3f}")
    print(f"{out / 'run.json'}")
    return 0


def cmd_models(args) -> int:
    from .toy import TOY_MODELS

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
    from . import __version__

    parser = argparse.ArgumentParser(prog="clipinv", description="Invert CLIP models into images (Kazemi et al. 2024).")
    parser.add_argument("--version", action="version", version=f"clipinv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_invert(sub)
    sub.add_parser("models", help="list the model specs clipinv knows").set_defaults(func=cmd_models)
    from .toy import cli as toy_cli

    toy_cli.register(sub)
    book_cli.register(sub)
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
