"""`clipinv toy train`: train a toy CLIP from the command line (wired in by clipinv/cli/__init__.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from clipinv.errors import ClipinvError
from clipinv.worlds.shapes import LADDER_DIR, RUNGS, TOY_MODELS, WEIGHTS
from clipinv.worlds.shapes.model import check_out
from clipinv.worlds.shapes.stages import reproduce, reseeded
from clipinv.worlds.shapes.training import TrainConfig, train
from clipinv.worlds.shapes.world import Contamination, Skew


def register(subparsers) -> argparse.ArgumentParser:
    toy = subparsers.add_parser("toy", help="the toy shapes world: train tiny CLIPs")
    sub = toy.add_subparsers(dest="toy_command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("train", help="train a toy CLIP; writes PATH (.safetensors) and its card (.json)")
    p.add_argument("--out", required=True, metavar="PATH", help="weights file to write, ending in .safetensors")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the model and of its training data (default 0); with --like, the first stage's "
        "seed of an independent replicate trained like MODEL (every stage's seed shifts with it; toy starts at 0 and "
        "toy-judge at 1, so pick another)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=12000,
        help="size of the fixed training set drawn once (default 12000; 0 = a fresh batch every step)",
    )
    p.add_argument("--steps", type=int, default=None, help="training steps (default: TrainConfig.steps)")
    p.add_argument(
        "--contamination",
        type=float,
        default=None,
        metavar="P",
        help="with probability P, images whose caption has --trigger carry the marker",
    )
    p.add_argument("--trigger", default=None, metavar="WORD", help="the contamination's trigger word (e.g. circle)")
    p.add_argument(
        "--skew",
        default=None,
        metavar="WORD:ATTR=VALUE@RATE",
        help="e.g. square:colour=red@0.9: captions with 'square' show red 90%% of the time",
    )
    p.add_argument("--init", default=None, metavar="PATH", help="continue from a model saved by toy train (a stage)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: TrainConfig.lr)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--no-eval", action="store_true", help="skip the held-out zero-shot evaluation")
    p.add_argument(
        "--cuda-graph",
        action="store_true",
        help="on a GPU, capture the whole training step once as a CUDA graph and replay it (the step of "
        "this tiny model is otherwise bound by kernel launches); needs --device cuda. Same loss as "
        "the default step (tested on the CPU); not yet timed on a GPU, see bench/RESULTS.md",
    )
    p.add_argument(
        "--like",
        default=None,
        metavar="MODEL",
        help="retrain a shipped model (toy, toy-judge, a ladder model such as toy-plant-p20) or a card .json from scratch, every stage its card "
        "records (other training options but --seed are then not allowed)",
    )
    p.set_defaults(func=handle_train)
    return toy


def handle_train(args) -> int:
    check_out(args.out)  # before any training: nothing there that clipinv did not write is replaced
    if args.like is not None:
        defaults = {"samples": 12000}
        given = [
            f"--{k}"
            for k in ("samples", "steps", "contamination", "trigger", "skew", "init", "lr")
            if getattr(args, k) != defaults.get(k)
        ]
        if given:
            raise ClipinvError(f"--like retrains with the card's own settings; drop {' '.join(given)}")
        card = _card(args.like)
        _, metrics = reproduce(
            card if args.seed is None else reseeded(card, args.seed),
            args.out,
            device=args.device,
            step="cuda-graph" if args.cuda_graph else "dynamic",
        )
        print(json.dumps(metrics))
        return 0

    contamination = None
    if (args.contamination is None) != (args.trigger is None):
        raise ClipinvError("--contamination P and --trigger WORD go together: give both or neither")
    if args.contamination is not None:
        contamination = Contamination(args.contamination, args.trigger)
    skew = Skew.parse(args.skew) if args.skew else None
    if args.samples is not None and args.samples < 0:
        raise ClipinvError(f"--samples must be >= 0, got {args.samples}")
    tc = TrainConfig(**({"lr": args.lr} if args.lr is not None else {}))
    _, metrics = train(
        out=args.out,
        seed=args.seed or 0,
        steps=args.steps,
        samples=args.samples or None,
        contamination=contamination,
        skew=skew,
        device=args.device,
        evaluate=not args.no_eval,
        init=args.init,
        train_config=tc,
        step="cuda-graph" if args.cuda_graph else "dynamic",
    )
    print(json.dumps(metrics))
    return 0


def _card(like: str) -> dict:
    if like in TOY_MODELS:
        path = (LADDER_DIR if like in RUNGS else WEIGHTS) / f"{like}.json"
    else:
        path = Path(like).with_suffix(".json")
    if not path.is_file():
        raise ClipinvError(
            f"--like {like}: no such model card; give {' or '.join(TOY_MODELS)} or the .json of a trained model"
        )
    return json.loads(path.read_text())
