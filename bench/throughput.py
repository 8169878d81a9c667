"""Throughput of clipinv's inversion loop, in seed-steps per second.

A seed-step is one optimisation step of one image with all its augmented copies (13 by default,
the paper's). Every row times `clipinv.core.invert.optimise` itself (the library's loop, not a copy):
a deterministic warm-up call with the same shapes and seeds (which also compiles, when compile is
on), then `--repeats` timed calls of `--steps` steps each; the device is synchronised only at the
two ends of each timed call (progress_every = steps, so the loop itself syncs once, at its end).
A timed call includes the call's set-up (text targets, initial noise, final similarity), so the
figures are slightly pessimistic for short calls. The median of the repeats is reported (and the
best, since CPU timings on a shared machine are noisy).

In the same run it times the paper code's compute pattern (`paper_pattern`, written here to mimic
the public code's operations, not copied from it): one image repeated 13 times, a kornia-style
random affine applied to the chosen copies (per-copy matrices in pixel space, normalised, inverted,
`affine_grid` + bilinear `grid_sample`), then a separate bicubic resize to the model's input,
fp32, `clip_grad_norm_`, Adam, a clamp, a loss readout every 50 steps, and autograd anomaly
detection on, as the public script sets it globally.

MFU = seed-steps/s x FLOPs per seed-step / the bf16 matrix-product rate measured here on the same
device. FLOPs per seed-step are counted with `torch.utils.flop_counter` on one forward + backward
(to the input only: the weights are frozen) of the image encoder, times the copies.

    python bench/throughput.py                      # GPU if there is one, else CPU (toy)
    python bench/throughput.py --device cpu --threads 2
    python bench/throughput.py --device cuda --model ViT-B-16:random --batches 1,8,32,64,128
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipinv.core import batching
from clipinv.core.invert import optimise
from clipinv.core.objective import Prompt, total_variation
from clipinv.core.recipe import Recipe
from clipinv.core.transform import AffineResample
from clipinv.models.bundle import ModelBundle, freeze, weights_hash
from clipinv.models.load import load_model

PROMPT = "a red circle"
TOY_WEIGHTS = ROOT / "clipinv" / "worlds" / "shapes" / "weights" / "toy.safetensors"


# ---------------------------------------------------------------------------------------- models


def _hashed_tokenizer(texts, context_length=16, vocab=512):
    out = torch.zeros(len(texts), context_length, dtype=torch.long)
    for i, t in enumerate(texts):
        ids = [vocab - 2] + [zlib.crc32(w.encode()) % (vocab - 3) + 1 for w in t.lower().split()] + [vocab - 1]
        ids = ids[:context_length]
        ids[-1] = vocab - 1
        out[i, : len(ids)] = torch.tensor(ids)
    return out


def toy_standin() -> ModelBundle:
    """A random open_clip CLIP with the toy model's draft vision tower (32 px, patch 8, width 128,
    3 layers): the CPU stand-in until `toy` weights exist. Speed does not depend on weight values."""
    import open_clip

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = open_clip.model.CLIP(
            embed_dim=64,
            vision_cfg={
                "image_size": 32,
                "patch_size": 8,
                "width": 128,
                "layers": 3,
                "head_width": 32,
                "mlp_ratio": 2.0,
            },
            text_cfg={"context_length": 16, "vocab_size": 512, "width": 64, "heads": 2, "layers": 1},
        )
    freeze(m)
    return ModelBundle(
        model=m,
        tokenizer=_hashed_tokenizer,
        spec="toy-standin:random",
        image_size=32,
        mean=(0.48145466, 0.4578275, 0.40821073),
        std=(0.26862954, 0.26130258, 0.27577711),
        context_length=16,
        weights_hash=weights_hash(m),
    )


def get_model(spec: str, device) -> ModelBundle:
    if spec == "toy" and not TOY_WEIGHTS.exists():
        print(f"note: {TOY_WEIGHTS.relative_to(ROOT)} not built yet: timing toy-standin instead", flush=True)
        spec = "toy-standin"
    if spec == "toy-standin":
        return toy_standin().to(device)
    return load_model(spec, device=device)


# ---------------------------------------------------------------------------------------- timing


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_compiled():
    """A fresh compile per configuration, as a fresh process inverting one batch size would get."""
    sys.modules["clipinv.invert"]._COMPILED.clear()  # (clipinv.invert is also the name of a function)
    torch._dynamo.reset()


def time_clipinv(bundle, n_seeds, recipe, device, steps, warmup, repeats, compile=False):
    """Seconds per timed call of `optimise` (steps each) over n_seeds images, after one warm-up call;
    peak GPU bytes. The images go in batches as `invert` would cut them (`clipinv.core.batching.batch_size`),
    so a count that does not fit in one batch runs as several, one after the other."""
    per = min(n_seeds, batching.batch_size([bundle], recipe, device))
    chunks = [list(range(i, min(i + per, n_seeds))) for i in range(0, n_seeds, per)]
    if len(chunks) > 1:
        print(f"# {n_seeds} seeds do not fit in one batch here: {len(chunks)} batches of up to {per}", flush=True)
    if compile:
        reset_compiled()
    optimise(
        [bundle],
        [Prompt(PROMPT)] * len(chunks[0]),
        chunks[0],
        recipe.replace(steps=warmup),
        device,
        progress=False,
        compile=compile,
        progress_every=warmup,
    )
    timed = recipe.replace(steps=steps)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, cpu = [], []
    for _ in range(repeats):
        sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        for seeds in chunks:
            optimise(
                [bundle],
                [Prompt(PROMPT)] * len(seeds),
                seeds,
                timed,
                device,
                progress=False,
                compile=compile,
                progress_every=steps,
            )
        sync(device)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return times, cpu, peak


def kornia_style_affine(x, gen, degrees=30.0, translate=0.1, scale=(0.7, 1.2), p=0.5):
    """Per-copy random affine the way kornia's RandomAffine computes it: choose the copies to
    transform, build each one's 3x3 matrix in pixel coordinates about the centre, normalise it to
    [-1, 1] coordinates, invert it, then affine_grid + bilinear grid_sample (border) on those copies."""
    n, _, h, w = x.shape
    on = torch.rand(n, generator=gen) < p
    idx = on.nonzero().flatten()
    if idx.numel() == 0:
        return x
    k = idx.numel()
    angle = (torch.rand(k, generator=gen) * 2 - 1) * math.radians(degrees)
    tx = (torch.rand(k, generator=gen) * 2 - 1) * translate * w
    ty = (torch.rand(k, generator=gen) * 2 - 1) * translate * h
    s = scale[0] + (scale[1] - scale[0]) * torch.rand(k, generator=gen)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    m = torch.zeros(k, 3, 3)
    m[:, 0, 0], m[:, 0, 1] = s * torch.cos(angle), -s * torch.sin(angle)
    m[:, 1, 0], m[:, 1, 1] = s * torch.sin(angle), s * torch.cos(angle)
    m[:, 0, 2] = cx + tx - m[:, 0, 0] * cx - m[:, 0, 1] * cy
    m[:, 1, 2] = cy + ty - m[:, 1, 0] * cx - m[:, 1, 1] * cy
    m[:, 2, 2] = 1
    norm = torch.tensor([[2 / (w - 1), 0, -1], [0, 2 / (h - 1), -1], [0, 0, 1]])
    theta = torch.linalg.inv(norm @ m @ torch.linalg.inv(norm))[:, :2].to(x.device)
    sub = x[idx]
    grid = F.affine_grid(theta, list(sub.shape), align_corners=True)
    warped = F.grid_sample(sub, grid, mode="bilinear", padding_mode="border", align_corners=True)
    out = x.clone()
    out[idx.to(x.device)] = warped
    return out


def paper_pattern(bundle, device, steps, warmup, repeats, copies=13, side=None, anomaly=True, tv_weight=0.005):
    """Seconds per `steps` steps of the paper code's compute pattern (one image, see the module doc)."""
    size = bundle.image_size
    side = side or size
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, side, side, generator=gen).to(device).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.1)
    target = bundle.encode_text([PROMPT]).to(device)
    mean = torch.tensor(bundle.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(bundle.std, device=device).view(1, 3, 1, 1)

    def step(i):
        opt.zero_grad()
        tv = total_variation(x).sum()
        a = kornia_style_affine(x.repeat(copies, 1, 1, 1), gen)
        a = F.interpolate(a, size=(size, size), mode="bicubic", align_corners=False)
        f = bundle.model.encode_image((a - mean) / std)
        f = f / f.norm(dim=-1, keepdim=True)
        loss = (f - target).norm(dim=1).mean() + tv_weight * tv
        loss.backward()
        torch.nn.utils.clip_grad_norm_([x], 1.0)
        x.data = torch.clip(x.data, 0, 1)
        opt.step()
        if i % 50 == 0:
            loss.item()  # the script prints the loss every 50 steps

    times, cpu = [], []
    with torch.autograd.set_detect_anomaly(anomaly):
        for i in range(warmup):
            step(i)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(repeats):
            sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(steps):
                step(i)
            sync(device)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return times, cpu, peak


def flops_per_seed_step(bundle, device, copies) -> float:
    """Counted FLOPs of one forward + backward-to-the-input of the image encoder, times copies."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, bundle.image_size, bundle.image_size, device=device, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        bundle.model.encode_image(x).float().sum().backward()
    return counter.get_total_flops() * copies


def matmul_rate(device, dtype, n=None, iters=None) -> float:
    """Measured dense matrix-product FLOP/s (best of a few)."""
    n = n or (8192 if device.type == "cuda" else 1024)
    iters = iters or (20 if device.type == "cuda" else 4)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(3):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            a @ b
        sync(device)
        best = min(best, (time.perf_counter() - t0) / iters)
    return 2 * n**3 / best


def augment_micro(device, n_seeds, copies, side, size, repeats, iters):
    """Forward + backward of the augmentation alone: clipinv's fused AffineResample (one bicubic
    grid_sample) vs the paper pattern's kornia-style affine then a separate bicubic resize."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n_seeds, 3, side, side, generator=gen).to(device).requires_grad_(True)
    fused = AffineResample(size)
    u = torch.rand(n_seeds * copies, AffineResample.n_draws, generator=gen).to(device)

    def run_fused():
        fused(x.repeat_interleave(copies, 0), u).sum().backward()

    def run_separate():
        a = kornia_style_affine(x.repeat_interleave(copies, 0), gen)
        F.interpolate(a, size=(size, size), mode="bicubic", align_corners=False).sum().backward()

    out = {}
    for name, fn in (("fused", run_fused), ("separate", run_separate)):
        fn()
        ts = []
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            for _ in range(iters):
                fn()
            sync(device)
            ts.append((time.perf_counter() - t0) / iters)
        out[name] = statistics.median(ts)
    return out


# ---------------------------------------------------------------------------------------- report


def fmt_mem(b):
    return "n/a" if b is None else f"{b / 2**30:.2f} GiB"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--model", default=None, help="default: ViT-B-16:random on a GPU, toy on CPU")
    ap.add_argument(
        "--batches", default=None, help="seeds per batch, comma-separated (default GPU 1,8,32,64,128; CPU 1,4,16)"
    )
    ap.add_argument("--steps", type=int, default=None, help="timed steps per repeat (GPU 20, CPU 5)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up steps (GPU 5, CPU 2)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--copies", type=int, default=13)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--compile", default="off,on", help="off, on, or off,on")
    ap.add_argument(
        "--compile-batches",
        default=None,
        help="seeds per batch timed with compile on "
        "(default: all on a GPU; on CPU the largest, as each compile takes minutes there)",
    )
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    ap.add_argument("--no-vit-row", action="store_true", help="CPU: skip the short ViT-B-16:random rows")
    ap.add_argument("--ablations", action="store_true", help="also time the augmentation alone and anomaly off")
    ap.add_argument("--quick", action="store_true", help="a smoke run: fewer batches, steps and repeats")
    ap.add_argument("--json", default=None, help="write the results here as JSON")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    gpu = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    if gpu:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model = args.model or ("ViT-B-16:random" if gpu else "toy")
    batches = [int(b) for b in (args.batches or ("1,8,32,64,128" if gpu else "1,4,16")).split(",")]
    steps = args.steps or (20 if gpu else 5)
    warmup = args.warmup or (5 if gpu else 2)
    repeats = args.repeats
    if args.quick:
        batches = batches[:2] if not args.batches else batches
        steps, warmup, repeats = min(steps, 3 if not gpu else 10), min(warmup, 1 if not gpu else 3), min(repeats, 2)
    precisions = args.precisions.split(",")
    compiles = [c == "on" for c in args.compile.split(",")]
    compile_batches = (
        [int(b) for b in args.compile_batches.split(",")] if args.compile_batches else batches if gpu else batches[-1:]
    )

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    machine = (
        torch.cuda.get_device_name(device)
        if gpu
        else f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, load average "
        f"{os.getloadavg()[0]:.1f} at start"
    )
    print(
        f"# clipinv throughput  {datetime.date.today()}  commit {commit}{'+dirty' if dirty else ''}  "
        f"torch {torch.__version__}  device {device} ({machine})"
    )
    print(f"# command: python bench/throughput.py {' '.join(argv if argv is not None else sys.argv[1:])}")

    rates = {"bf16": matmul_rate(device, torch.bfloat16), "fp32": matmul_rate(device, torch.float32)}
    print(
        f"# measured matmul rate: bf16 {rates['bf16'] / 1e12:.3g} TFLOP/s, fp32{' (TF32)' if gpu else ''} "
        f"{rates['fp32'] / 1e12:.3g} TFLOP/s; MFU below is over the bf16 rate"
    )

    results = {
        "date": str(datetime.date.today()),
        "commit": commit,
        "dirty": bool(dirty),
        "device": str(device),
        "machine": machine,
        "torch": torch.__version__,
        "matmul_flops": rates,
        "rows": [],
    }

    def table(spec, batch_list, precs, comps, n_steps, n_warm, n_rep, baseline=True):
        bundle = get_model(spec, device)
        side = bundle.image_size
        flops = flops_per_seed_step(bundle, device, args.copies)
        print(
            f"\n## {bundle.spec}: {side} px, {args.copies} copies, {flops / 1e9:.3g} GFLOP per seed-step; "
            f"{n_steps} timed steps x {n_rep} repeats after {n_warm} warm-up steps"
        )
        print(
            f"{'what':<34} {'seeds':>5} {'seed-steps/s':>12} {'best':>8} {'x base':>7} {'MFU':>7} {'peak mem':>10}"
            + ("  per cpu-s  x base" if not gpu else "")
        )
        rows = []

        def emit(what, n, times, cpu, peak):
            med = n * n_steps / statistics.median(times)
            best = n * n_steps / min(times)
            per_cpu = n * n_steps / statistics.median(cpu)  # seed-steps per CPU-second of this process
            rows.append(
                {
                    "model": bundle.spec,
                    "what": what,
                    "seeds": n,
                    "seed_steps_per_s": med,
                    "best": best,
                    "seed_steps_per_cpu_s": per_cpu,
                    "peak_bytes": peak,
                    "times": times,
                    "cpu_times": cpu,
                    "steps": n_steps,
                }
            )
            base = next((r for r in rows if r["what"].startswith("baseline")), None)
            ratio = f"{med / base['seed_steps_per_s']:.2f}" if base else "-"
            cpu_cols = (
                ""
                if gpu
                else (
                    f"  {per_cpu:>9.3g}  " + (f"{per_cpu / base['seed_steps_per_cpu_s']:>6.2f}" if base else "     -")
                )
            )
            print(
                f"{what:<34} {n:>5} {med:>12.3g} {best:>8.3g} {ratio:>7} {med * flops / rates['bf16']:>7.2%} "
                f"{fmt_mem(peak):>10}{cpu_cols}",
                flush=True,
            )

        if baseline:
            t, c, peak = paper_pattern(bundle, device, n_steps, n_warm, n_rep, args.copies, side)
            emit("baseline (paper pattern, fp32)", 1, t, c, peak)
            if args.ablations:
                t, c, peak = paper_pattern(bundle, device, n_steps, n_warm, n_rep, args.copies, side, anomaly=False)
                emit("  same, anomaly detection off", 1, t, c, peak)
        for comp in comps:
            for prec in precs:
                recipe = Recipe(resolution_schedule=((0, side),), n_augments=args.copies, precision=prec)
                for n in batch_list:
                    if comp and batch_list is batches and n not in compile_batches:
                        continue
                    try:
                        t, c, peak = time_clipinv(bundle, n, recipe, device, n_steps, n_warm, n_rep, compile=comp)
                    except torch.OutOfMemoryError:
                        print(f"{'clipinv ' + prec + (' compile' if comp else ''):<34} {n:>5} out of memory")
                        torch.cuda.empty_cache()
                        continue
                    emit(f"clipinv {prec}{' compile' if comp else ''}", n, t, c, peak)
        if comps and any(comps):
            reset_compiled()
        return rows, flops

    rows, flops = table(model, batches, precisions, compiles, steps, warmup, repeats)
    results["rows"] += rows
    results["flops_per_seed_step"] = {rows[0]["model"]: flops}
    if not gpu and not args.no_vit_row:
        # one timed step: a ViT-B/16 step of 13 copies takes ~10-60 s on 2 (shared) cores
        vrows, vflops = table("ViT-B-16:random", [1], precisions[:1] if args.quick else precisions, [False], 1, 1, 1)
        results["rows"] += vrows
        results["flops_per_seed_step"][vrows[0]["model"]] = vflops
    if args.ablations:
        bundle = get_model(model, device)
        print("\n## augmentation alone (forward + backward), seconds per call")
        for n in batches[:2]:
            side = bundle.image_size
            for src in sorted({side // 2, side}):
                r = augment_micro(device, n, args.copies, src, side, repeats, 5 if not gpu else 20)
                print(
                    f"seeds {n:>3}, {src:>3} px -> {side} px: fused {r['fused'] * 1e3:8.2f} ms   "
                    f"kornia-style + resize {r['separate'] * 1e3:8.2f} ms   ({r['separate'] / r['fused']:.1f}x)"
                )
                results.setdefault("augment", []).append({"seeds": n, "from": src, "to": side, **r})
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return results


if __name__ == "__main__":
    main()
