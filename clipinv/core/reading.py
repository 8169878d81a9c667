"""Read images back into words: for each image, the token sequence a CLIP scores most similar to it.

The search runs over the model's own tokenizer vocabulary (every token but the start, end and
padding ones; for the toy world's word-level tokenizer, its words). Two searchers, measured against
each other on the toy world in `research/reading_methods.py`:

- ``"pez"`` (the default; Wen et al. 2023, "Hard Prompts Made Easy"): a continuous embedding per
  token, projected at every step onto the nearest vocabulary embedding (cosine); the text encoder
  reads the projected tokens and the gradient passes straight through to the continuous ones (AdamW);
- ``"gumbel"``: logits over the vocabulary per token, a hard Gumbel-softmax sample read each step,
  the gradient through the soft sample (Adam; temperature annealed from 1 to 0.1).

Either way the result of a (image, seed) item is the best token sequence its steps read, with its
cosine to the image. Every item has its own generator (seeded by its seed) for its start and its
Gumbel noise, its own loss and its own Adam state, so a reading does not depend on what else shares
its batch; results go into the results cache like `invert`'s, one entry per (image, seed).

The text encoder is fed through a hook on its token-embedding layer, so every text tower that looks
its tokens up in an embedding table works: open_clip's CLIP and custom-text models, hf-hub models
with a Hugging Face text tower, checkpoints, random weights and the toy models.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from clipinv.core.cache import ResultCache, default_cache
from clipinv.core.result import versions
from clipinv.errors import ClipinvError
from clipinv.version import __version__

METHODS = ("pez", "gumbel")
DEFAULT_STEPS = 300
PEZ_WEIGHT_DECAY = 0.1  # AdamW's, as in PEZ's code
# a text tower narrower than this reads on one CPU thread: its matrices are too small to split, and
# on a shared 2-core CPU two threads made the toy's readings 5-8x slower (bench/RESULTS.md)
NARROW_TEXT = 256
GUMBEL_TAU = (1.0, 0.1)  # the Gumbel-softmax temperature, annealed geometrically from the first to the second


@dataclass
class Reading:
    """What `read` returns: for image i and seed j, the token ids `tokens[i, j]` ([I, S, n_tokens]),
    their text `texts[i][j]`, one string per token `words[i][j]`, and the cosine of that text to the
    image `similarity[i, j]`; `record` says what made it."""

    tokens: torch.Tensor
    similarity: torch.Tensor
    texts: list
    words: list
    seeds: list
    record: dict = field(default_factory=dict)

    def best(self, i: int) -> str:
        """The text of image i's best-scoring seed."""
        return self.texts[i][int(self.similarity[i].argmax())]

    def table(self, names=None):
        """One row per (image, seed): image, seed, text, cosine."""
        import pandas as pd

        names = names or [f"image {i}" for i in range(len(self.texts))]
        rows = [
            {"image": names[i], "seed": s, "words": self.texts[i][j], "cosine": round(float(self.similarity[i, j]), 4)}
            for i in range(len(self.texts))
            for j, s in enumerate(self.seeds)
        ]
        return pd.DataFrame(rows)


def token_embedding(model: nn.Module) -> nn.Embedding:
    """The text tower's token-embedding table."""
    for owner in (model, getattr(model, "text", None)):
        emb = getattr(owner, "token_embedding", None)
        if isinstance(emb, nn.Embedding):
            return emb
    text = getattr(model, "text", None)
    hf = getattr(text, "transformer", None)
    if hf is not None and hasattr(hf, "get_input_embeddings"):
        return hf.get_input_embeddings()
    raise ClipinvError(f"cannot find the token embeddings of {type(model).__name__}'s text tower: it cannot be read")


@dataclass(frozen=True)
class Template:
    """A tokenized text of n placeholder tokens: `ids` [ctx], the content `positions`, and `allowed`,
    the vocabulary ids a reading may use."""

    ids: torch.Tensor
    positions: torch.Tensor
    allowed: torch.Tensor


def template(bundle, n_tokens) -> Template:
    """The start/end/padding frame around `n_tokens` tokens in `bundle`'s tokenizer."""
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 1:
        raise ClipinvError(f"n_tokens must be a whole number >= 1, got {n_tokens!r}")
    most = bundle.context_length - 2
    if n_tokens > most:
        raise ClipinvError(
            f"n_tokens {n_tokens} does not fit {bundle.spec}'s context of {bundle.context_length} tokens "
            f"(start and end tokens included): use at most {most}"
        )
    frame = bundle.tokenizer([""], context_length=bundle.context_length)[0]
    ids = bundle.tokenizer([" ".join(["a"] * n_tokens)], context_length=bundle.context_length)[0]
    filler = [i for i in ids.tolist() if i not in set(frame.tolist())]
    positions = torch.nonzero(ids == filler[0]).flatten() if filler else torch.tensor([], dtype=torch.long)
    if len(positions) != n_tokens or int(positions[-1] - positions[0]) != n_tokens - 1:
        raise ClipinvError(f"cannot place {n_tokens} tokens in {bundle.spec}'s tokenizer: it cannot be read")
    size = token_embedding(bundle.model).num_embeddings
    special = set(frame.tolist())
    allowed = torch.tensor([i for i in range(size) if i not in special])
    return Template(ids, positions, allowed)


def decode(bundle, ids) -> str:
    """Token ids -> text, with the model's own tokenizer."""
    tok, ids = bundle.tokenizer, [int(i) for i in ids]
    if hasattr(tok, "decode"):
        text = tok.decode(ids)
    elif hasattr(getattr(tok, "tokenizer", None), "decode"):
        text = tok.tokenizer.decode(ids)
    else:
        raise ClipinvError(f"cannot decode tokens with {bundle.spec}'s tokenizer ({type(tok).__name__})")
    return " ".join(text.replace("</w>", " ").split())


def short_text_path(model: nn.Module) -> bool:
    """Whether the text tower is open_clip's causal, argmax-pooled one: then the tokens after the end
    token change nothing the pooled feature sees, and a reading runs on the sequence cut after it."""
    return (
        all(hasattr(model, a) for a in ("transformer", "positional_embedding", "ln_final", "token_embedding"))
        and getattr(model, "attn_mask", None) is not None
        and getattr(model, "text_pool_type", None) == "argmax"
    )


def encode_tokens(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """Text features of token ids [B, L]: open_clip's `encode_text`, on the first L positions where
    `short_text_path` allows (L up to the context), else the model's own `encode_text`."""
    if not short_text_path(model) or ids.shape[1] == model.positional_embedding.shape[0]:
        return model.encode_text(ids)
    from open_clip.transformer import text_global_pool

    n = ids.shape[1]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(ids).to(cast) + model.positional_embedding[:n].to(cast)
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:n, :n]))
    x = text_global_pool(x, ids, "argmax")
    if model.text_projection is not None:
        x = model.text_projection(x) if isinstance(model.text_projection, nn.Linear) else x @ model.text_projection
    return x


def optimise_words(bundle, targets, seeds, tpl: Template, method="pez", steps=DEFAULT_STEPS, lr=0.1, progress=True):
    """The search. targets [B, D] unit image features, seeds[i] item i's seed. Returns the best token
    ids [B, n] (vocabulary ids) and their cosine [B], per item."""
    device = targets.device
    n_items, n = len(seeds), len(tpl.positions)
    table = token_embedding(bundle.model)
    allowed = tpl.allowed.to(device)
    vocab = table.weight.detach()[allowed].float()  # [K, W]
    unit_vocab = F.normalize(vocab, dim=-1)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    if method == "pez":
        start = torch.stack([torch.randint(len(allowed), (n,), generator=g) for g in gens]).to(device)
        z = vocab[start].clone().requires_grad_(True)  # [B, n, W]
        opt = torch.optim.AdamW([z], lr=lr, weight_decay=PEZ_WEIGHT_DECAY)
    else:
        z = (
            torch.stack([torch.randn(n, len(allowed), generator=g) * 0.01 for g in gens])
            .to(device)
            .requires_grad_(True)
        )
        opt = torch.optim.Adam([z], lr=lr)
    best_ids = torch.zeros(n_items, n, dtype=torch.long, device=device)
    best_cos = torch.full((n_items,), -2.0, device=device)
    content = {}
    # the end token follows the last content token: a causal tower needs nothing after it
    length = int(tpl.positions[-1]) + 2 if short_text_path(bundle.model) else len(tpl.ids)

    def substitute(module, inputs, out):
        out = out.clone()
        out[:, tpl.positions.to(out.device)] = content["embeddings"].to(out.dtype)
        return out

    hook = table.register_forward_hook(substitute)
    bar = tqdm(total=steps, desc=f"reading {n_items} item(s)", disable=not progress, leave=False, mininterval=0.5)
    try:
        for step in range(steps):
            if method == "pez":
                pick = (F.normalize(z, dim=-1) @ unit_vocab.T).argmax(-1)  # [B, n]
                content["embeddings"] = vocab[pick] + z - z.detach()  # projected forward, straight-through backward
            else:
                tau = GUMBEL_TAU[0] * (GUMBEL_TAU[1] / GUMBEL_TAU[0]) ** (step / max(1, steps - 1))
                u = torch.stack([torch.rand(n, len(allowed), generator=g) for g in gens]).to(device)
                soft = ((z - torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))) / tau).softmax(-1)
                pick = soft.argmax(-1)
                hard = F.one_hot(pick, len(allowed)).to(soft.dtype)
                content["embeddings"] = (hard - soft.detach() + soft) @ vocab
            ids = tpl.ids[:length].to(device).repeat(n_items, 1)
            ids[:, tpl.positions.to(device)] = allowed[pick]
            feats = F.normalize(encode_tokens(bundle.model, ids).float(), dim=-1)
            cos = (feats * targets).sum(-1)
            (1 - cos).sum().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            with torch.no_grad():
                better = cos.detach() > best_cos
                best_cos = torch.where(better, cos.detach(), best_cos)
                best_ids[better] = allowed[pick][better]
            bar.update(1)
    finally:
        hook.remove()
        bar.close()
    return best_ids.cpu(), best_cos.cpu()


def as_images(images) -> list[torch.Tensor]:
    """Images as a list of [3, H, W] float tensors in [0, 1], from a tensor [N, 3, H, W] or [3, H, W],
    PIL images or image files; a one-line error for anything else."""
    from PIL import Image

    if isinstance(images, torch.Tensor):
        if images.dim() == 3:
            images = images[None]
        if images.dim() != 4:
            raise ClipinvError(f"images must be [N, 3, H, W] or [3, H, W], got a tensor of shape {list(images.shape)}")
        images = list(images)
    elif isinstance(images, (str, Path, Image.Image)):
        images = [images]
    images = list(images) if images is not None else []
    if not images:
        raise ClipinvError("no images given: pass at least one image (a [3, H, W] tensor, a PIL image or a file)")
    out = []
    for k, im in enumerate(images):
        if isinstance(im, (str, Path)):
            if not Path(im).is_file():
                raise ClipinvError(f"no image file at {im}: check the path")
            try:
                im = Image.open(im)
                im.load()
            except Exception as e:
                raise ClipinvError(f"{images[k]} is not an image file PIL can read ({type(e).__name__})") from None
        if isinstance(im, Image.Image):
            im = torch.from_numpy(np.array(im.convert("RGB")))  # [H, W, 3] uint8
        if not isinstance(im, torch.Tensor):
            raise ClipinvError(f"image {k} is a {type(im).__name__}: pass tensors, PIL images or image files")
        if im.dtype == torch.uint8 and im.dim() == 3 and im.shape[-1] == 3:
            im = im.permute(2, 0, 1).float() / 255
        if im.dim() != 3 or im.shape[0] != 3 or min(im.shape[1:]) < 2:
            raise ClipinvError(f"image {k} has shape {list(im.shape)}: an image is [3, H, W] (RGB, H and W >= 2)")
        if not im.is_floating_point():
            raise ClipinvError(f"image {k} is {im.dtype}: give floats in [0, 1] (divide 8-bit pixels by 255)")
        if not torch.isfinite(im).all() or im.min() < 0 or im.max() > 1:
            raise ClipinvError(
                f"image {k} has values in [{float(im.nan_to_num().min()):.3g}, {float(im.nan_to_num().max()):.3g}]: "
                f"pixels must be finite and in [0, 1]"
            )
        out.append(im.detach().float().cpu())
    return out


def _digest(image: torch.Tensor) -> str:
    return hashlib.sha256(f"{tuple(image.shape)}".encode() + image.contiguous().numpy().tobytes()).hexdigest()


def _cached(store, key, allowed: torch.Tensor, n_tokens: int):
    """A reading from the cache, or None where there is none or it is damaged (a wrong shape, a token the
    search may not produce, a similarity that is no cosine): recomputed then, as for inversions."""
    t = store.load(key)
    if t is None or set(t) != {"tokens", "similarity"}:
        return None
    tokens, similarity = t["tokens"], t["similarity"]
    sound = (
        tokens.dtype == torch.long
        and tokens.shape == (n_tokens,)
        and bool(torch.isin(tokens, allowed).all())
        and similarity.dtype == torch.float32
        and similarity.shape == (1,)
        and bool(torch.isfinite(similarity).all())
        and abs(float(similarity[0])) <= 1 + 1e-4
    )
    return {"tokens": tokens, "similarity": similarity[0]} if sound else None


def _keep(store, key, entry):
    tokens = entry["tokens"].long().contiguous()
    store.save(key, {"tokens": tokens, "similarity": torch.as_tensor(entry["similarity"]).reshape(1).float()})


def read(
    model,
    images,
    n_tokens: int = 4,
    seeds=1,
    *,
    method: str = "pez",
    steps: int | None = None,
    lr: float | None = None,
    device=None,
    cache=True,
    batch_size: int = 32,
    progress=True,
    engine=None,
) -> Reading:
    """Read every image with every seed: the `n_tokens` tokens of `model`'s vocabulary whose text it
    scores most similar to the image.

    model:   a ModelBundle (`load_model`).
    images:  a tensor [N, 3, H, W] or [3, H, W] in [0, 1], PIL images or image files (any size: each is
      resized to the model's input).
    seeds:   an int n for seeds 0..n-1, or a list of seed values.
    method:  "pez" (projected embeddings) or "gumbel" (Gumbel-softmax); `steps` (default
      `DEFAULT_STEPS`) and `lr` (default 0.1 for pez, 1.0 for gumbel) are its optimisation.
    cache, batch_size (items per batch; results do not depend on it), progress: as in `invert`.
    engine:  None takes the model's own (`ModelBundle.engine`); readings run in this process, except
      for an engine of placeholders (a plan's, `clipinv.runs.planning`): then nothing is read or
      cached, and each reading not cached is a placeholder (the first token, cosine 0).
    """
    from clipinv.core.invert import _seeds

    if method not in METHODS:
        raise ClipinvError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    steps = DEFAULT_STEPS if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ClipinvError(f"steps must be a whole number >= 1, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ClipinvError(f"batch_size must be a whole number >= 1 (items per batch), got {batch_size!r}")
    lr = float(lr if lr is not None else (0.1 if method == "pez" else 1.0))
    if not math.isfinite(lr) or lr <= 0:
        raise ClipinvError(f"lr must be a positive number, got {lr}")
    if isinstance(model, (list, tuple)):
        raise ClipinvError("read takes one model, not a list: read with each model in turn")
    pictures = as_images(images)
    seeds = _seeds(seeds)
    tpl = template(model, n_tokens)
    device = torch.device(device) if device is not None else model.device
    model.to(device)

    store = default_cache() if cache is True else None
    if cache not in (True, False, None):
        store = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    ident = {
        "reading": method,
        "spec": model.spec,
        "weights": model.weights_hash,
        "n_tokens": n_tokens,
        "steps": steps,
        "lr": lr,
        "version": __version__,
    }
    digests = [_digest(p) for p in pictures]
    items = [(i, s) for i in range(len(pictures)) for s in seeds]
    keys = [ResultCache.key(ident, digests[i], [], s) for i, s in items]
    results = {}
    if store is not None:
        results = {
            k: v
            for k, v in ((k, _cached(store, key, tpl.allowed, n_tokens)) for k, key in enumerate(keys))
            if v is not None
        }
    cached = len(results)
    todo = [k for k in range(len(items)) if k not in results]
    engine = engine if engine is not None else getattr(model, "engine", None)
    if getattr(engine, "placeholders", False):  # a plan reads nothing: placeholder readings, never cached
        for k in todo:
            results[k] = {"tokens": tpl.allowed[:1].repeat(n_tokens), "similarity": torch.tensor(0.0)}
        todo = []
    with torch.no_grad():
        feats = {i: model.encode_image(pictures[i][None].to(device))[0] for i in {items[k][0] for k in todo}}
    narrow = device.type == "cpu" and token_embedding(model.model).embedding_dim < NARROW_TEXT
    threads = torch.get_num_threads()
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        targets = torch.stack([feats[items[k][0]] for k in chunk])
        torch.set_num_threads(1 if narrow else threads)
        try:
            ids, cos = optimise_words(model, targets, [items[k][1] for k in chunk], tpl, method, steps, lr, progress)
        finally:
            torch.set_num_threads(threads)
        for j, k in enumerate(chunk):
            results[k] = {"tokens": ids[j], "similarity": cos[j]}
            if store is not None:
                _keep(store, keys[k], results[k])

    n_img, n_seed = len(pictures), len(seeds)
    tokens = torch.stack([results[k]["tokens"].long() for k in range(len(items))]).view(n_img, n_seed, n_tokens)
    sims = torch.stack([torch.as_tensor(results[k]["similarity"]).float() for k in range(len(items))])
    words = [[[decode(model, [t]) for t in tokens[i, j]] for j in range(n_seed)] for i in range(n_img)]
    return Reading(
        tokens=tokens,
        similarity=sims.view(n_img, n_seed),
        texts=[[decode(model, tokens[i, j]) for j in range(n_seed)] for i in range(n_img)],
        words=words,
        seeds=seeds,
        record={
            **ident,
            "vocabulary": len(tpl.allowed),
            "seeds": seeds,
            "images": digests,
            "cached": cached,
            "versions": versions(),
        },
    )


def read_inversion(model, inversion, n_tokens: int = 4, seeds=1, **options) -> Reading:
    """Read back every image of an `Inversion` (prompt-major: image p * S + s is prompt p, seed s)."""
    return read(model, inversion.images.flatten(0, 1), n_tokens=n_tokens, seeds=seeds, **options)
