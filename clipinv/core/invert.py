"""Invert CLIP: find images whose embedding matches a text, with the paper's recipe.

`optimise` is the loop, top to bottom (its knobs are one `Recipe`, `clipinv.core.recipe`):
targets, images and their parameters (`clipinv.core.param`: the pixels themselves in the paper's recipe),
per-image random draws, then per step: resolution schedule, the image from its parameters,
augmented copies (with an opacity channel, each drawn over a random plain background), embedding,
loss terms, backward, per-image gradient clipping, Adam, then in pixel space clamp and smoothing (if
on) and back to the parameters (for pixels and fourier; the rendered priors draw an image in [0, 1]
from their own parameters), history.

Every prompt x every seed is one image of one batch. Each image has its own loss, its own
gradient-norm clip and its own generators (seeded by its seed) for its initial noise, its
augmentation draws and its pixel noise, so an image does not depend on what else shares its batch: a batch can be
split or cached per (prompt, seed) without changing any result.

`invert` serves what the results cache holds and hands the other images, as a `Work`, to an engine:
`InProcess` (the default: batches through `optimise` here), or one passed in, e.g.
`clipinv.runs.ray_cluster.RayEngine` (Ray tasks on a cluster) or `clipinv.runs.planning.PlanningEngine`
(a plan: placeholders, nothing computed); each result goes into the cache as it arrives. The result is
an `Inversion` (`clipinv.core.result`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from clipinv.core import batching, objective, param
from clipinv.core.cache import ResultCache, default_cache
from clipinv.core.recipe import Recipe
from clipinv.core.residual_jitter import ResidualJitter
from clipinv.core.result import TERMS, Inversion, assemble
from clipinv.core.transform import (
    AffineResample,
    ColorJitter,
    ColorShift,
    GaussianBlur,
    GaussianNoise,
    Normalize,
    OntoBackground,
    ShrinkOnto,
    over,
)
from clipinv.errors import ClipinvError
from clipinv.version import __version__

NOISE_STREAM = 1 << 40  # seed s draws its pixel noise from a generator seeded NOISE_STREAM + s
MAX_SEED = 1 << 62  # NOISE_STREAM + seed stays a 64-bit generator seed
MAX_IMAGES = 1_000_000  # one call returns its images in memory: more is refused before anything is listed


def _seeds(seeds) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ClipinvError(f"seeds must be >= 1 (how many) or a list of seed values, got {seeds}")
        return list(range(seeds))
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds):
        shown = seeds if len(seeds) <= 8 else [*seeds[:8], "..."]
        raise ClipinvError(f"seeds must be a count or a non-empty list of whole numbers from 0 to 2**62, got {shown}")
    return seeds


_COMPILED = {}


def _image_encoder(bundle, compile: bool):
    if not compile:
        return bundle.model.encode_image
    key = id(bundle.model)
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(bundle.model.encode_image)
    return _COMPILED[key]


def optimise(
    bundles,
    prompts,
    seeds,
    recipe: Recipe,
    device,
    progress=True,
    truncate=False,
    desc="inverting",
    compile=False,
    progress_every=50,
    callback=None,
):
    """The loop. prompts[i], seeds[i] describe image i. Returns images [B,3,H,W] (cpu),
    similarity [B] (cpu) and history [B, steps, len(TERMS)] (cpu). `compile`, `progress_every` and
    `callback` as in `invert`."""
    n, steps, copies = len(prompts), recipe.steps, recipe.n_augments
    dev_type = device.type

    # targets: per model, features [B, K, D] and weights [B, K]
    uniq = list(dict.fromkeys(prompts))
    targets = []
    for b in bundles:
        feats, weights = objective.target_features(b, uniq, truncate=truncate)
        index = torch.tensor([uniq.index(p) for p in prompts], device=feats.device)
        targets.append((feats[index].to(device), weights[index].to(device)))

    # the pipeline from the image to each model's input
    side0 = recipe.resolution_schedule[0][1]
    resample = [
        AffineResample(
            b.image_size,
            recipe.rotate_degrees,
            recipe.translate,
            recipe.scale_range,
            recipe.affine_p,
            recipe.jitter_px,
            fill=0.0 if recipe.opacity else recipe.background_fill,  # with opacity: transparent padding
        )
        for b in bundles
    ]
    color_shift = ColorShift(recipe.color_shift_mean, recipe.color_shift_log_std)
    color_jitter = ColorJitter(recipe.color_jitter)
    noise = GaussianNoise(recipe.noise_std)
    final_side = recipe.resolution_schedule[-1][1]

    def smooth(im):  # the smoothing blur, its sigma scaled to the current resolution
        return GaussianBlur(recipe.smooth_sigma * im.shape[-1] / final_side)(im)

    normalize = [Normalize(b.mean, b.std).to(device) for b in bundles]
    encoders = [_image_encoder(b, compile) for b in bundles]
    onto = OntoBackground() if recipe.opacity else None
    split = [AffineResample.n_draws, ColorShift.n_draws, ColorJitter.n_draws, OntoBackground.n_draws if onto else 0]
    n_draws = sum(split)
    ghosts = [ResidualJitter(b.model, recipe.residual_jitter) if recipe.residual_jitter else None for b in bundles]
    ghost_draws = [g.n_draws if g else 0 for g in ghosts]

    # each image's own generator: initial noise now, augmentation draws in chunks of steps
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    x = torch.stack([torch.rand(3, side0, side0, generator=g) for g in gens]).to(device)
    if recipe.opacity:  # a fourth channel, the opacity, half opaque everywhere to start
        x = torch.cat([x, torch.full_like(x[:, :1], 0.5)], dim=1)

    def shown(im):  # the image as a person sees it: with opacity, drawn over the plain grey
        return over(im, recipe.background_fill) if recipe.opacity else im

    world = bundles[0].card.get("world")  # a toy model's world: the phase prior measures its spectrum there
    par = param.make(recipe.parameterization, side0, recipe.fourier_decay, device, recipe, world)
    # and, with pixel noise on, a second stream per image on the device for the noise
    noise_gens = (
        [torch.Generator(device=device).manual_seed(NOISE_STREAM + int(s)) for s in seeds] if recipe.noise_std else None
    )
    chunk = 100

    def draws(step):
        k = min(chunk, steps - step)
        u = torch.stack([torch.rand(k, copies, n_draws, generator=g) for g in gens], dim=1)
        if not sum(ghost_draws):
            return u.to(device, non_blocking=True), None  # [k, B, copies, n_draws]
        v = torch.stack([torch.rand(k, copies, sum(ghost_draws), generator=g) for g in gens], dim=1)
        return u.to(device, non_blocking=True), v.to(device, non_blocking=True)

    history = torch.zeros(steps, n, len(TERMS), device=device)
    schedule = dict(recipe.resolution_schedule)
    checked = 0
    items = [(str(p), int(s)) for p, s in zip(prompts, seeds)]
    bar = tqdm(total=steps, desc=desc, disable=not progress, leave=False, mininterval=0.5)
    z = par.start(x, seeds).requires_grad_(True)  # what Adam changes; the image is par.to_image(z)
    opt = torch.optim.Adam([z], lr=recipe.lr)
    for step in range(steps):
        if step in schedule and schedule[step] != par.side:
            side = schedule[step]
            for b, r in zip(bundles, resample):
                r.jitter = recipe.jitter_px * side / side0
            par, z = par.resized(z.detach(), side)  # the image upsampled, or a rendered prior drawn larger
            z = z.requires_grad_(True)
            if recipe.reset_optimizer_on_resize:
                opt = torch.optim.Adam([z], lr=recipe.lr)
            else:  # pixels only (Recipe.validate): Adam's moments resized with the image
                state = opt.state.pop(opt.param_groups[0]["params"][0], {})
                opt.param_groups[0]["params"] = [z]
                if state:
                    opt.state[z] = {
                        k: (
                            F.interpolate(v, size=(side, side), mode="bilinear", align_corners=False)
                            if torch.is_tensor(v) and v.dim() == 4
                            else v
                        )
                        for k, v in state.items()
                    }
        x = par.to_image(z)
        if step % chunk == 0:
            u_chunk, v_chunk = draws(step)
        u = u_chunk[step % chunk].reshape(n * copies, n_draws)
        v = v_chunk[step % chunk].reshape(n * copies, -1).split(ghost_draws, dim=1) if v_chunk is not None else None
        u_aff, u_cs, u_cj, u_bg = u.split(split, dim=1)

        copies_x = x.repeat_interleave(copies, dim=0)  # image-major: copies of image i are rows i*C..i*C+C-1
        dist = 0.0
        for i, (r, norm, enc, (t_feat, t_w)) in enumerate(zip(resample, normalize, encoders, targets)):
            a = r(copies_x, u_aff)
            a = onto(a, u_bg) if onto else a
            a = noise(color_jitter(color_shift(a, u_cs), u_cj), noise_gens)
            with (
                torch.autocast(dev_type, dtype=torch.bfloat16, enabled=recipe.precision == "bf16"),
                ghosts[i](v[i]) if ghosts[i] else contextlib.nullcontext(),
            ):
                f = enc(norm(a))
            f = f.float()
            f = f / f.norm(dim=-1, keepdim=True)
            dist = dist + objective.distance(f.view(n, copies, -1), t_feat, t_w) / len(bundles)
        if recipe.opacity:  # the colour's terms on what shows; the opacity's own smoothness and size
            tv, l1 = objective.total_variation(x[:, :3] * x[:, 3:]), objective.l1(x[:, :3])
            opacity = recipe.opacity_tv_weight * objective.total_variation(x[:, 3:])
            opacity = opacity + recipe.opacity_weight * x[:, 3].mean(dim=(1, 2))
        else:
            tv, l1, opacity = objective.total_variation(x), objective.l1(x), 0.0
        loss = dist + recipe.tv_weight * tv + recipe.l1_weight * l1 + opacity
        loss.sum().backward()

        with torch.no_grad():
            g = z.grad
            norms = g.flatten(1).norm(dim=1)
            g.mul_((recipe.grad_clip / (norms + 1e-6)).clamp(max=1.0).view(-1, *[1] * (g.dim() - 1)))
            opt.step()
            opt.zero_grad(set_to_none=True)
            x = par.to_image(z).clamp_(0, 1)  # the pixels' constraints hold in pixel space, whatever Adam changes
            if recipe.smooth_sigma and step + 1 == steps:
                x = smooth(x)  # a smoothing step, not a loss term: the gradient never sees it
            if par.invertible and x is not z:  # pixels, unsmoothed: the clamp already wrote into z
                z.copy_(par.to_params(x))
            history[step] = torch.stack([loss, dist, tv, l1], dim=1)
        bar.update(1)
        if callback is not None:
            callback(step + 1, shown(x.detach()), items)
        if (step + 1) % progress_every == 0 or step + 1 == steps:
            window = history[checked : step + 1]
            if not torch.isfinite(window).all():  # one sync every progress_every steps, none per step
                bad = (~torch.isfinite(window)).nonzero()[0].tolist()
                raise ClipinvError(
                    f"optimisation diverged at step {checked + bad[0]}: the {TERMS[bad[2]]} term became "
                    f"{window[bad[0], bad[1], bad[2]].item()} for prompt {str(prompts[bad[1]])!r} seed "
                    f"{seeds[bad[1]]}: lower lr or the regulariser weights"
                )
            checked = step + 1
            bar.set_postfix(loss=f"{history[step, :, 0].mean().item():.4f}", side=par.side, refresh=False)
    bar.close()

    with torch.no_grad():
        x = ShrinkOnto(recipe.final_scale, recipe.background_fill)(shown(x.detach()))  # identity at final_scale 1
        sims = final_similarity(bundles[0], x, targets[0])
    return x.cpu(), sims.cpu(), history.transpose(0, 1).cpu()


@torch.no_grad()
def final_similarity(bundle, images: torch.Tensor, target) -> torch.Tensor:
    """Cosine similarity of each image (no augmentation) to the positive part of its target."""
    feats, weights = target
    direction = (feats * weights.clamp(min=0)[..., None]).sum(dim=1)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    return (bundle.encode_image(images) * direction).sum(dim=-1)


@dataclass(frozen=True)
class Work:
    """What an engine computes: the images `todo` (indices into `items`, the grid's (Prompt, seed)
    pairs) with everything their results depend on, and the options of `invert` that shape the run."""

    bundles: list
    items: list
    todo: list
    recipe: Recipe
    device: torch.device
    truncate: bool = False
    batch_size: int | None = None
    compile: bool = False
    progress: bool = True
    progress_every: int = 50
    callback: Callable | None = None
    keys: tuple = ()  # each item's results-cache key
    kept: bool = True  # whether the run keeps what it computes in the results cache


class InProcess:
    """The default engine: the images to compute in batches through `optimise`, in this process
    (`Work.batch_size` images a batch, default as many as fit in the device's free memory)."""

    def run(self, work: Work):
        """Yields (item index, {"image", "similarity", "history"}) for every image of `work.todo`."""
        todo, items, size = work.todo, work.items, work.batch_size
        if size is None:
            size = 1 if len(todo) == 1 else min(len(todo), batching.batch_size(work.bundles, work.recipe, work.device))
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            of = f" [{start // size + 1}/{math.ceil(len(todo) / size)}]" if len(todo) > size else ""
            imgs, sims, hist = optimise(
                work.bundles,
                [items[i][0] for i in chunk],
                [items[i][1] for i in chunk],
                work.recipe,
                work.device,
                progress=work.progress,
                truncate=work.truncate,
                compile=work.compile,
                progress_every=work.progress_every,
                callback=work.callback,
                desc=f"inverting {len(chunk)} image(s){of}",
            )
            for j, i in enumerate(chunk):
                yield i, {"image": imgs[j], "similarity": sims[j], "history": hist[j]}

    def record(self, work: Work) -> dict:
        """Where the images were computed, for the run's record."""
        return {"device": str(work.device), "engine": "in process"}


def invert(
    model,
    prompts,
    seeds=1,
    recipe: Recipe | None = None,
    *,
    device=None,
    cache=True,
    progress=True,
    truncate=False,
    batch_size=None,
    compile=False,
    progress_every=50,
    callback=None,
    engine=None,
) -> Inversion:
    """Invert every prompt with every seed, in batches.

    model:   a ModelBundle (`load_model`), or a list of them (an ensemble, averaged with weight 1/N).
    prompts: a string, a `Prompt` (blends and negative prompts), or a list of them.
    seeds:   an int n for seeds 0..n-1, or a list of seed values.
    recipe:  a `Recipe`; default the model's own (`toy` models carry one) or the paper's.
    cache:   True (the default cache), False, or a `ResultCache`/directory.
    batch_size: images per batch (default: as many as fit in the memory free on the device, measured on
      a probe: `clipinv.core.batching.batch_size`; results do not depend on it).
    compile: torch.compile the image encoder (the images are the same; it pays on a GPU).
    progress_every: steps between the progress bar's loss readouts and the finiteness checks (each one
      host-device sync; none in between).
    callback: called as callback(done, images, items) after every step of every batch: `done` steps
      so far, `images` [B, 3, H, W] the batch's current pixels (on the device, at the current
      resolution; copy what you keep) and `items` the (prompt, seed) of each row. Cached images call
      nothing (pass cache=False to watch every image). Without it the loop adds no host sync.
    engine:  what computes the images the cache lacks: None takes the first model's own
      (`ModelBundle.engine`, set where the model was loaded, e.g. by a book section), else runs them
      here (`InProcess`); `clipinv.runs.ray_cluster.RayEngine(address)` spreads them over a Ray cluster.
      An engine's `run(work)` yields (item index, result) for each image of a `Work`; each result goes
      into the cache as it arrives, unless the engine's `placeholders` is true (a plan's stand-ins:
      nothing is cached). Its `record(work)` says where they ran. A model's own engine that cannot
      watch a callback (`watches` false, as Ray's) leaves a call with a callback to this process.
    """
    bundles = list(model) if isinstance(model, (list, tuple)) else [model]
    if not bundles:
        raise ClipinvError("no model given: pass load_model(...) or a list of them")
    if isinstance(prompts, (str, objective.Prompt)):
        prompts = [prompts]
    prompts = [objective.as_prompt(p) for p in prompts]
    if not prompts:
        raise ClipinvError("no prompts given: pass at least one prompt")
    n = len(prompts) * (seeds if isinstance(seeds, int) else len(seeds) if hasattr(seeds, "__len__") else 0)
    if n > MAX_IMAGES:  # counted, not listed
        raise ClipinvError(
            f"{n:,} images in one call is more than invert holds at once ({MAX_IMAGES:,}, all returned in memory): "
            "split the seeds over several calls (the cache keeps each call's images)"
        )
    seeds = _seeds(seeds)
    if isinstance(progress_every, bool) or not isinstance(progress_every, int) or progress_every < 1:
        raise ClipinvError(f"progress_every must be a whole number >= 1, got {progress_every!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ClipinvError(f"batch_size must be a whole number >= 1 (images per batch), got {batch_size!r}")
    recipe = recipe or bundles[0].default_recipe or Recipe()
    if not isinstance(recipe, Recipe):
        raise ClipinvError(f"recipe must be a clipinv.Recipe, not {type(recipe).__name__}")
    device = torch.device(device) if device is not None else bundles[0].device
    for b in bundles:
        b.to(device)
        for p in prompts:  # fail on a bad prompt before any work
            b.tokenize(p.texts, truncate=truncate)

    store = None
    if cache is True:
        store = default_cache()
    elif cache is not False and cache is not None:
        store = cache if isinstance(cache, ResultCache) else ResultCache(cache)

    items = [(p, s) for p in prompts for s in seeds]
    ident = {
        "specs": [b.spec for b in bundles],
        "weights": [b.weights_hash for b in bundles],
        "recipe": recipe.to_dict(),
        "truncate": truncate,
        "version": __version__,
    }
    keys = [ResultCache.key(ident, str(p), p.terms, s) for p, s in items]
    found = {i: store.get(k, steps=recipe.steps) for i, k in enumerate(keys)} if store is not None else {}
    results = {i: v for i, v in found.items() if v is not None}
    cached = len(results)
    todo = [i for i in range(len(items)) if i not in results]

    if engine is None:
        engine = getattr(bundles[0], "engine", None) or InProcess()
        if callback is not None and not getattr(engine, "watches", True):
            engine = InProcess()  # the callback watches the images here, where the model's engine cannot
    placeholders = getattr(engine, "placeholders", False)  # a plan's stand-ins: nothing goes into the cache
    work = Work(
        bundles,
        items,
        todo,
        recipe,
        device,
        truncate,
        batch_size,
        compile,
        progress,
        progress_every,
        callback,
        tuple(keys),
        store is not None,
    )
    if todo:
        if store is not None and not placeholders:
            store.writable()  # a read-only cache fails here, before any image is computed
        for i, entry in engine.run(work):
            results[i] = entry
            if store is not None and not placeholders:
                try:
                    store.put(keys[i], entry)
                except ClipinvError as e:  # a full disk: keep computing, the images still come back
                    print(f"clipinv: warning: {e}; this run's other images are not cached", file=sys.stderr)
                    store = None
        if len(results) < len(items):
            raise ClipinvError(f"engine {type(engine).__name__} returned {len(results) - cached} of {len(todo)} images")
    where = engine.record(dataclasses.replace(work, kept=store is not None))  # a full disk stops the keeping
    return assemble(bundles, prompts, seeds, recipe, results, {"truncate": truncate, **where, "cached": cached})
