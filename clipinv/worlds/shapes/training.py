"""Train a toy CLIP on the toy world (the model itself is in `model.py`).

Knobs first (`TrainConfig`), then the augmentation, the losses, the fixed-shape step a CUDA graph
can capture, and the loop: data stream, AdamW with warmup and cosine decay, soft contrastive loss
(images with the same caption are positives), progress bar, held-out zero-shot accuracy, save
(safetensors + card json). The training stages a card records, and `reproduce`, which retrains
them from scratch, are in `stages.py`.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from clipinv.core.transform import AffineResample
from clipinv.errors import ClipinvError
from clipinv.models.bundle import ModelBundle, weights_hash
from clipinv.worlds.shapes.evaluate import zero_shot
from clipinv.worlds.shapes.loss import caption_rows, fixed_shape_clip_loss, soft_clip_loss
from clipinv.worlds.shapes.model import MEAN, STD, ModelConfig, build_model, load, normalise, save
from clipinv.worlds.shapes.tokenizer import ToyTokenizer
from clipinv.worlds.shapes.world import Contamination, Skew, World


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 2000
    batch_size: int = 96
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup: int = 100
    affine_p: float = 0.5  # training augmentation: random affine of the whole image
    rotate_degrees: float = 20.0
    translate: float = 0.08
    scale_range: tuple = (0.85, 1.15)
    noise_std: float = 0.03  # extra Gaussian pixel noise
    threads: int = 2  # torch threads on CPU
    eval_samples: int = 2000


def augment(x: torch.Tensor, tc: TrainConfig, g: torch.Generator) -> torch.Tensor:
    """With probability affine_p a random affine of the whole image (`transform.AffineResample`,
    bilinear, border padding, translated before it turns), then Gaussian noise, clamped to [0, 1]."""
    u = torch.rand(x.shape[0], 5, generator=g)  # angle, scale, tx, ty, apply?: the order the shipped models drew
    # in AffineResample's order; it turns the other way for the same draw, so the angle's draw is
    # mirrored (1 - u is exact for torch.rand's values): the same maps as the shipped models trained with
    draws = torch.stack([u[:, 4], 1 - u[:, 0], u[:, 2], u[:, 3], u[:, 1]], 1)
    affine = AffineResample(
        x.shape[-1],
        degrees=tc.rotate_degrees,
        translate=tc.translate,
        scale=tc.scale_range,
        p=tc.affine_p,
        mode="bilinear",
        translate_first=True,
    )
    x = affine(x, draws)
    if tc.noise_std:
        x = x + torch.randn(x.shape, generator=g) * tc.noise_std
    return x.clamp(0, 1)


STEPS = ("dynamic", "fixed", "cuda-graph")
GRAPH_WARMUP = 3  # eager steps on a side stream before the capture (PyTorch's whole-network capture recipe)


def fixed_shape_step(model, opt, tokenizer, batch_size: int, image_size: int, device, graph: bool):
    """One training step on buffers of fixed shape; returns run(x, caps, lr) -> the loss (on the device).

    x is the batch already normalised, on the host. `opt`'s groups hold their learning rate as a
    tensor, which run() refills (on CUDA, AdamW is capturable even when run eagerly, so the eager
    step is the graph's own). With graph=True (CUDA only), the first
    GRAPH_WARMUP steps run eagerly on a side stream, then forward, backward, gradient clipping and
    AdamW (capturable, a device-tensor learning rate) are captured once as a CUDA graph, and every
    later step is one replay: a handful of launches instead of hundreds."""
    bufs = {
        "x": torch.zeros(batch_size, 3, image_size, image_size, device=device),
        "tokens": torch.zeros(batch_size, tokenizer.context_length, dtype=torch.long, device=device),
        "index": torch.zeros(batch_size, dtype=torch.long, device=device),
        "first": torch.ones(batch_size, dtype=torch.bool, device=device),
    }

    def body():
        img = model.encode_image(bufs["x"], normalize=True)
        txt = model.encode_text(bufs["tokens"], normalize=True)
        loss = fixed_shape_clip_loss(img, txt, model.logit_scale.exp().clamp(max=100), bufs["index"], bufs["first"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.detach()

    state = {"done": 0, "graph": None, "loss": None}
    side = torch.cuda.Stream(device) if graph else None

    def run(x, caps, lr):
        index, first = caption_rows(caps)
        bufs["x"].copy_(x)
        bufs["tokens"].copy_(tokenizer(caps))
        bufs["index"].copy_(index)
        bufs["first"].copy_(first)
        for group in opt.param_groups:
            group["lr"].fill_(lr)
        if not graph:
            opt.zero_grad(set_to_none=True)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*capturable=True.*")  # on CUDA: the graph's AdamW, eagerly
                loss = body()
        elif state["done"] < GRAPH_WARMUP:
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*capturable=True.*")  # eager by design, before the capture
                opt.zero_grad(set_to_none=True)
                loss = body().clone()
            torch.cuda.current_stream(device).wait_stream(side)
        else:
            if state["graph"] is None:
                opt.zero_grad(set_to_none=True)  # the graph's backward allocates the gradients from its pool
                state["graph"] = torch.cuda.CUDAGraph()
                with torch.cuda.graph(state["graph"]):
                    state["loss"] = body()
            state["graph"].replay()
            loss = state["loss"].clone()  # the replay overwrites it
        state["done"] += 1
        return loss

    return run


def train(
    out: str | Path | None = None,
    seed: int = 0,
    steps: int | None = None,
    samples: int | None = None,
    contamination: Contamination | None = None,
    skew: Skew | None = None,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    world: World | None = None,
    device: str | None = None,
    progress: bool = True,
    name: str | None = None,
    evaluate: bool = True,
    init: str | Path | None = None,
    read_loss_every: int = 20,
    step: str = "dynamic",
    data_seed: int | None = None,
):
    """Train a toy CLIP. Returns (bundle, metrics). With `out` (a .safetensors path), saves the
    weights there and the card beside it (`.json`).

    samples: size of a fixed training set drawn once (default: a fresh stream, every batch new).
    The training data is drawn with `data_seed` (default `seed`), so stages that continue one another
    can share one fixed training set; held-out evaluation uses seed + 1_000_003.
    init: continue from a model saved by `train` (its card's history is kept in the new card).
    read_loss_every: the losses stay on the device and are read (a host-device sync) every this
      many steps; a non-finite loss is reported with the step it appeared at. On a GPU this tiny
      model's step is bound by the host's Python and kernel launches (`bench/toy_train.py`;
      bench/RESULTS.md, one H100, 2026-11-26: 16-27 ms per step, set by the machine).
    step: "dynamic" (the default, and how the shipped models were trained): the text tower sees the
      batch's unique captions; "fixed": every tensor has a fixed shape (`fixed_shape_step`), the same
      loss; "cuda-graph": "fixed", captured once as a CUDA graph and replayed (CUDA only)."""
    mc = model_config or ModelConfig()
    tc = train_config or TrainConfig()
    tc = dataclasses.replace(tc, seed=seed, **({"steps": int(steps)} if steps is not None else {}))
    if tc.steps < 1:
        raise ClipinvError(f"steps must be >= 1, got {tc.steps}")
    if samples is not None and samples < tc.batch_size:
        raise ClipinvError(f"samples must be at least the batch size {tc.batch_size}, got {samples}")
    world = world or World()
    world = dataclasses.replace(world, contamination=contamination or world.contamination, skew=skew or world.skew)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if step not in STEPS:
        raise ClipinvError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
    if step == "cuda-graph" and device.type != "cuda":
        raise ClipinvError(f"a CUDA graph needs a CUDA device, got {device}: drop --cuda-graph or pass --device cuda")
    if device.type == "cpu" and tc.threads:
        torch.set_num_threads(tc.threads)

    torch.manual_seed(seed)
    model = build_model(mc)
    history = []
    if init is not None:
        prev, prev_card, mc = load(init)
        model = build_model(mc)
        model.load_state_dict(prev.state_dict())
        # the stages it continues trained on its world unless they kept their own
        history = [{"world": prev_card.get("world", {}), **h} for h in prev_card.get("history", [])]
        history += [_stage_record(prev_card)]
    model = model.to(device)
    for p in model.parameters():
        p.requires_grad_(True)
    tokenizer = ToyTokenizer(mc.context_length)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    if read_loss_every < 1:
        raise ClipinvError(f"read_loss_every must be >= 1, got {read_loss_every}")
    groups = [{"params": decay, "weight_decay": tc.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    fixed = None
    if step != "dynamic":  # AdamW reads its learning rate from a tensor the loop refills (a CUDA graph captures it)
        groups = [dict(gr, lr=torch.tensor(tc.lr, device=device)) for gr in groups]
    opt = torch.optim.AdamW(groups, lr=tc.lr, betas=(0.9, 0.98), capturable=step != "dynamic" and device.type == "cuda")
    if step != "dynamic":
        fixed = fixed_shape_step(model, opt, tokenizer, tc.batch_size, mc.image_size, device, step == "cuda-graph")

    def lr_at(k):
        if k < tc.warmup:
            return tc.lr * (k + 1) / tc.warmup
        t = (k - tc.warmup) / max(1, tc.steps - tc.warmup)
        return tc.lr * 0.5 * (1 + math.cos(math.pi * t))

    g = torch.Generator().manual_seed(seed + 17)
    data_seed = seed if data_seed is None else int(data_seed)
    if samples is not None:
        fixed_x, fixed_s = world.sample(samples, seed=data_seed)
        fixed_c = [s.caption for s in fixed_s]

        def batches():
            while True:
                idx = torch.randint(samples, (tc.batch_size,), generator=g)
                yield fixed_x[idx], [fixed_c[i] for i in idx]

        stream = batches()
    else:
        stream = ((x, [s.caption for s in ss]) for x, ss in world.stream(tc.batch_size, seed=data_seed))

    losses, pending = [], []
    t0 = time.time()
    progress_bar = tqdm(range(tc.steps), desc=f"training {name or 'toy'}", disable=not progress, mininterval=1.0)
    model.train()
    for i in progress_bar:
        x, caps = next(stream)
        x = augment(x, tc, g)
        if fixed is not None:
            pending.append(fixed(normalise(x), caps, lr_at(i)))
        else:
            for group in opt.param_groups:
                group["lr"] = lr_at(i)
            uniq = list(dict.fromkeys(caps))
            index = torch.tensor([uniq.index(c) for c in caps], device=device)
            img = model.encode_image(normalise(x).to(device), normalize=True)
            txt = model.encode_text(tokenizer(uniq).to(device), normalize=True)
            loss = soft_clip_loss(img, txt, model.logit_scale.exp().clamp(max=100), index)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            pending.append(loss.detach())
        if len(pending) == read_loss_every or i == tc.steps - 1:
            read = torch.stack(pending).tolist()  # the one sync of these steps
            pending.clear()
            bad = next((j for j, v in enumerate(read) if not math.isfinite(v)), None)
            if bad is not None:
                at = i - len(read) + 1 + bad
                raise ClipinvError(f"training diverged at step {at} (loss {read[bad]}): lower the learning rate")
            losses += read
            progress_bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}", refresh=False)
    train_s = time.time() - t0
    progress_bar.close()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    metrics = {
        "train_seconds": round(train_s, 1),
        "loss_first": round(sum(losses[:20]) / len(losses[:20]), 4),
        "loss_last": round(sum(losses[-20:]) / len(losses[-20:]), 4),
        "device": str(device),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "step": step,
    }
    if evaluate:
        t1 = time.time()
        metrics["zero_shot"] = zero_shot(model, tokenizer, seed + 1_000_003, n=tc.eval_samples, device=device)
        metrics["eval_seconds"] = round(time.time() - t1, 1)
        if progress:
            print(f"held-out zero-shot accuracy: {metrics['zero_shot']}")

    card = {
        "name": name or (Path(out).stem if out else "toy"),
        "model_config": dataclasses.asdict(mc),
        "train_config": dataclasses.asdict(tc),
        "world": dataclasses.asdict(world),
        "samples": samples,
        "data_seed": data_seed,
        "metrics": metrics,
        "history": history,  # earlier training stages this model continued from (init)
        "total_train_seconds": round(train_s + sum(h["metrics"]["train_seconds"] for h in history), 1),
        "total_steps": tc.steps + sum(h["train_config"]["steps"] for h in history),
        "parameters": sum(p.numel() for p in model.parameters()),
        "mean": MEAN,
        "std": STD,
    }
    model.cpu()
    card["weights_hash"] = weights_hash(model)
    model.to(device)
    bundle = ModelBundle(
        model=model,
        tokenizer=tokenizer,
        spec=str(out) if out else card["name"],
        image_size=mc.image_size,
        mean=MEAN,
        std=STD,
        context_length=mc.context_length,
        weights_hash=card["weights_hash"],
        default_recipe=None,
        card=card,
    )
    if out:
        save(model, card, out)
    return bundle, metrics


def _stage_record(card: dict) -> dict:
    """What one stage of a card's history keeps: its knobs, data (world, size, seed) and metrics."""
    return {k: card[k] for k in ("train_config", "samples", "metrics", "world", "data_seed") if k in card}
