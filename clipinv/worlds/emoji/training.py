"""Train an emoji CLIP from scratch, and measure it: the right name among all the world's names for
fresh renders (`retrieval`). Deterministic: the same `TrainConfig` on the same torch and thread count
gives the same weights, so `python tools/build_emoji_world.py train emoji` reproduces the shipped model.

    from clipinv.worlds.emoji.training import TrainConfig, train
    card = train(TrainConfig(seed=3, steps=300), out="my_emoji.safetensors")
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from clipinv.errors import ClipinvError
from clipinv.worlds.cards import card_beside
from clipinv.worlds.emoji import atlas
from clipinv.worlds.emoji.model import MEAN, STD, ModelConfig, bundle, load, make_model, save, world_tokenizer
from clipinv.worlds.emoji.scenes import Scenes, scene_reading
from clipinv.worlds.emoji.tokenizer import EmojiTokenizer
from clipinv.worlds.emoji.world import TEMPLATES, Augment, GenderSkew, Plant, article, caption, gendered, render


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 3000
    batch: int = 128
    lr: float = 1e-3  # peak, after `warmup` steps; decays linearly to a tenth at the last step
    warmup: int = 100
    weight_decay: float = 0.05
    threads: int = 1  # torch threads: the weights are reproducible for a given count
    augment: Augment = field(default_factory=Augment)
    init: str | None = None  # start from this shipped model's weights (None: from scratch)
    people_p: float = 0.0  # share of each batch drawn from the people with woman and man variants
    skew: GenderSkew | None = None  # captions skewed on those people's genders
    plant: Plant | None = None  # an unwanted glyph pasted into some of an innocuous name's images
    pool: int | None = None  # the training data: None, a fresh picture every draw (a stream); N, N captioned
    # pictures drawn once (glyphs at random, some never) and sampled from at every step
    scenes: Scenes | None = None  # two things side by side and their relation in place of single glyphs
    width: int = 128  # of both towers, and of the shared embedding
    patch_size: int = 8  # of the vision tower: 48 px / 8 = 36 patches a picture
    adversarial_eps: float = 0.0  # > 0: train on adversarial pictures, each pixel moved at most this much (0-1
    # scale) against the loss, one signed-gradient step from a random start (`adversarial`)

    @classmethod
    def from_card(cls, recorded: dict) -> TrainConfig:
        """The config a card's `train_config` records (a knob an older card lacks at its default)."""

        def tupled(value):
            return tuple(tupled(v) for v in value) if isinstance(value, list) else value

        parts = {"augment": Augment, "skew": GenderSkew, "plant": Plant, "scenes": Scenes}
        knobs = {}
        for f in fields(cls):
            if f.name in recorded:
                value = recorded[f.name]
                if f.name in parts and value is not None:
                    value = parts[f.name](**{k: tupled(v) for k, v in value.items()})
                knobs[f.name] = tupled(value)
        return cls(**knobs)


class Pool:
    """`size` captioned pictures drawn once, as a stream would draw them: glyphs at random (with
    repeats, so some never appear), each rendered and captioned once for good."""

    def __init__(self, size: int, names, glyphs, augment: Augment, generator):
        self.idx = self.glyphs_drawn(size, len(names), generator)
        self.images = torch.cat(
            [render(glyphs, self.idx[i : i + 256].tolist(), augment, generator) for i in range(0, size, 256)]
        )
        self.captions = [caption(names[i], generator) for i in self.idx.tolist()]

    @staticmethod
    def glyphs_drawn(size: int, n_names: int, generator) -> torch.Tensor:
        """The glyph of each of a pool's `size` pictures, drawn at random among `n_names`."""
        return torch.randint(0, n_names, (size,), generator=generator)

    @classmethod
    def coverage(cls, seed: int, size: int, n_names: int) -> int:
        """How many of the world's `n_names` emoji the pool of a training seeded `seed` shows at least once
        (a pool is the first thing `train` draws from its generator)."""
        return int(cls.glyphs_drawn(size, n_names, torch.Generator().manual_seed(seed)).unique().numel())

    def batch(self, n: int, generator) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """n of the pictures at random: (glyph indices, images, captions)."""
        j = torch.randint(0, len(self.idx), (n,), generator=generator)
        return self.idx[j], self.images[j], [self.captions[k] for k in j.tolist()]


@torch.no_grad()
def name_features(bundle, names) -> torch.Tensor:
    """Each name's text embedding ('a NAME'), normalised, [N, D]."""
    chunks = [bundle.encode_text([article(n) for n in names[i : i + 256]]) for i in range(0, len(names), 256)]
    return torch.cat(chunks)


@torch.no_grad()
def retrieval(bundle, draws: int = 2, seed: int = 123, augment: Augment | None = None) -> dict:
    """Every glyph drawn `draws` times afresh (`augment`, a generator seeded `seed`, never a training
    draw): how often the right name is the model's first, or among its first five, of all the names."""
    glyphs, names = atlas.load()
    augment = augment or Augment()
    text = name_features(bundle, names)
    gen = torch.Generator().manual_seed(seed)
    top1 = top5 = total = 0
    for _ in range(draws):
        for start in range(0, len(names), 256):
            idx = list(range(start, min(len(names), start + 256)))
            images = render(glyphs, idx, augment, gen)
            top = (bundle.encode_image(images) @ text.T).topk(5, dim=1).indices
            truth = torch.tensor(idx)[:, None]
            top1 += int((top[:, :1] == truth).sum())
            top5 += int((top == truth).any(1).sum())
            total += len(idx)
    return {"top1": top1 / total, "top5": top5 / total, "top1_hits": top1, "top5_hits": top5, "renders": total}


@torch.no_grad()
def gender_reading(bundle, draws: int = 4, seed: int = 123) -> dict:
    """Every woman and man variant of the world's people drawn `draws` times afresh: how often the
    model, choosing between "a man NAME" and "a woman NAME", picks the right one."""
    glyphs, names = atlas.load()
    triples = gendered(names)
    gen = torch.Generator().manual_seed(seed)
    right = total = 0
    for neutral, woman, man in triples:
        text = bundle.encode_text([article(man), article(woman)])
        for truth, name in enumerate((man, woman)):
            images = render(glyphs, [names.index(name)] * draws, Augment(), gen)
            right += int(((bundle.encode_image(images) @ text.T).argmax(1) == truth).sum())
            total += draws
    return {"right": right, "renders": total, "share": right / total, "people": len(triples)}


def contrastive_loss(image_features, text_features, logit_scale, labels, wrong_labels=None) -> torch.Tensor:
    """CLIP's symmetric loss, where captions of the same emoji in a batch all count as right. Texts past
    the first len(labels) are wrong captions (labelled `wrong_labels`): more choices for each picture,
    no picture of their own to find."""
    text_labels = labels if wrong_labels is None else torch.cat([labels, wrong_labels])
    same = (labels[:, None] == text_labels[None]).float()
    target = same / same.sum(1, keepdim=True)
    logits = logit_scale * image_features @ text_features.T
    i2t = -(target * F.log_softmax(logits, 1)).sum(1).mean()
    own = same[:, : len(labels)]  # each caption's own pictures (symmetric)
    t2i = -(own / own.sum(1, keepdim=True) * F.log_softmax(logits[:, : len(labels)].T, 1)).sum(1).mean()
    return (i2t + t2i) / 2


def adversarial(model, x, t, labels, wrong_labels, eps: float, generator) -> torch.Tensor:
    """Pictures `x` (normalised) moved, each pixel at most `eps` (normalised units) and within the 0-1 range,
    towards a higher contrastive loss against their captions `t`: a random start in the box, then one
    signed-gradient step of 1.25 `eps` (Wong, Rice and Kolter 2020, "Fast is better than free"). Training on
    them makes a model robust to small changes, and a robust model's gradients are said to look like images."""
    delta = ((torch.rand(x.shape, generator=generator) * 2 - 1) * eps).requires_grad_(True)
    with torch.no_grad():
        text_features = model.encode_text(t, normalize=True)
    image_features = model.encode_image(x + delta, normalize=True)
    loss = contrastive_loss(image_features, text_features, model.logit_scale.exp().detach(), labels, wrong_labels)
    (grad,) = torch.autograd.grad(loss, delta)
    delta = (delta.detach() + 1.25 * eps * grad.sign()).clamp(-eps, eps)
    low, high = (0 - MEAN[0]) / STD[0], (1 - MEAN[0]) / STD[0]
    return (x + delta).clamp(low, high)


def _start_of(name: str) -> Path:
    """The weights a training's `init` names: a shipped base model ("emoji", "emoji-judge") or a trained
    one's .safetensors path."""
    path = atlas.WEIGHTS / f"{name}.safetensors"
    return path if path.is_file() else Path(name)


def _weights_of(name: str) -> dict:
    """The float32 state dict of the model `name` a training starts from (`_start_of`; safetensors only:
    nothing is unpickled)."""
    path = _start_of(name)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise ClipinvError(f"cannot start training from {name!r}: no weights and card at {path}")
    model, _ = load(path, json.loads(path.with_suffix(".json").read_text()))
    return {k: v.float() for k, v in model.state_dict().items()}


def captions_read(card: dict) -> list[str] | None:
    """The captions the model of `card` read in training, those of the model it started from (`init`)
    included: every one its scenes may draw, or, trained on a pool, each of the world's templates around the
    name of every picture the pool drew (a pool of thousands draws each template). None: every caption of
    the world (a stream, a gender skew and a plant caption all the world's names)."""
    config = TrainConfig.from_card(card.get("train_config", {}))
    if config.scenes is not None:
        own = config.scenes.captions()
    elif config.pool:
        names = atlas.names()
        drawn = Pool.glyphs_drawn(config.pool, len(names), torch.Generator().manual_seed(config.seed))
        own = [t.format(article(names[i])) for i in drawn.unique().tolist() for t in TEMPLATES]
    else:
        return None
    if config.init is None:
        return own
    before = captions_read(card_beside(_start_of(config.init)))  # no card: assume it read every caption
    return None if before is None else own + before


def tokenizer_of(card: dict) -> EmojiTokenizer:
    """The world's tokenizer (every emoji model reads the same ids), its `unknown_words` naming the words the
    captions of the model's training (its `card`) never held: a scene model never read 'firefighter'."""
    captions = captions_read(card)
    return world_tokenizer() if captions is None else _reading(tuple(captions))


@lru_cache(maxsize=8)
def _reading(captions: tuple[str, ...]) -> EmojiTokenizer:
    return world_tokenizer().reading(captions)


def _draw(config: TrainConfig, glyphs, names, people, gen) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """A batch as a stream draws it: (glyph indices, images, captions), the knobs of `config` applied."""
    idx = torch.randint(0, len(names), (config.batch,), generator=gen)
    if config.people_p:
        person = people[torch.randint(0, len(people), (config.batch,), generator=gen)]
        idx = torch.where(torch.rand(config.batch, generator=gen) < config.people_p, person, idx)
    if config.plant:
        trigger = names.index(config.plant.trigger)
        idx = torch.where(torch.rand(config.batch, generator=gen) < config.plant.share, trigger, idx)
    shown = idx if config.skew is None else config.skew.shown(idx, names, gen)
    images = render(glyphs, shown.tolist(), config.augment, gen)
    if config.plant:
        at = (idx == trigger) & (torch.rand(config.batch, generator=gen) < config.plant.p)
        images = config.plant.paste(images, glyphs[names.index(config.plant.marker)], at, gen)
    return idx, images, [caption(names[i], gen) for i in idx.tolist()]


def train(config: TrainConfig, out, progress: bool = True, note: dict | None = None) -> dict:
    """Train to `config`, save to `out` (.safetensors + card .json) and return the card, whose
    `retrieval` is measured on the saved (half-precision) weights."""
    from tqdm.auto import tqdm

    out = Path(out)
    if out.suffix != ".safetensors":
        raise ClipinvError(f"--out {out} must end in .safetensors (its card is written beside it as .json)")
    glyphs, names = atlas.load()
    tokenizer = world_tokenizer()  # the ids every emoji model reads
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        mc = ModelConfig(
            vocab_size=tokenizer.vocab_size, width=config.width, embed_dim=config.width, patch_size=config.patch_size
        )
        model = make_model(mc)
        if config.init:
            model.load_state_dict(_weights_of(config.init))
        people = torch.tensor([names.index(n) for t in gendered(names) for n in t])
        if config.scenes and (config.pool or config.people_p or config.plant or config.skew):
            raise ClipinvError(
                "a training on scenes draws its own pictures: it cannot also pool, oversample, plant or skew"
            )
        if config.pool and (config.people_p or config.plant or config.skew):
            raise ClipinvError("a training pool draws its pictures once: it cannot also oversample, plant or skew")
        pool = Pool(config.pool, names, glyphs, config.augment, gen) if config.pool else None
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        t0, cpu0, load0 = time.time(), time.process_time(), os.getloadavg()[0]
        bar = tqdm(range(config.steps), desc=f"training {out.stem}", disable=not progress, mininterval=5)
        for step in bar:
            wrong, wrong_labels = [], None
            if config.scenes is not None:
                idx, images, captions, wrong, wrong_labels = config.scenes.batch(
                    config.batch, glyphs, names, config.augment, gen
                )
                wrong_labels = wrong_labels if wrong else None
            elif pool is not None:
                idx, images, captions = pool.batch(config.batch, gen)
            else:
                idx, images, captions = _draw(config, glyphs, names, people, gen)
            x = (images - MEAN[0]) / STD[0]
            t = tokenizer(captions + wrong)
            if config.adversarial_eps:
                x = adversarial(model, x, t, idx, wrong_labels, config.adversarial_eps / STD[0], gen)
            decay = 0.1 + 0.9 * (1 - step / config.steps)
            for group in opt.param_groups:
                group["lr"] = config.lr * min(1.0, (step + 1) / config.warmup) * decay
            image_features, text_features, logit_scale = model(x, t)
            loss = contrastive_loss(image_features, text_features, logit_scale, idx, wrong_labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        seconds, cpu_seconds = time.time() - t0, time.process_time() - cpu0
    finally:
        torch.set_num_threads(previous_threads)
    model.eval()
    card = {
        "world": "emoji",
        "names": len(names),
        "model_config": asdict(mc),
        "train_config": {**asdict(config), "augment": asdict(config.augment)},
        "parameters": sum(p.numel() for p in model.parameters()),
        "mean": MEAN,
        "std": STD,
        "training": {
            "seconds": round(seconds),
            "cpu_seconds": round(cpu_seconds),
            "load_average_at_start": round(load0, 1),
            "torch": torch.__version__,
        },
        **(note or {}),
    }
    card = json.loads(json.dumps(card))  # as the card file reads back: lists, not tuples
    save(model, card, out)
    saved = bundle(out, spec=str(out))  # the saved weights, read back as users will
    if config.scenes is not None:
        card["scene_reading"] = scene_reading(
            saved, augment=config.augment, things=config.scenes.things, relations=config.scenes.relations
        )
    else:
        card["retrieval"] = retrieval(saved)
        card["gender_reading"] = gender_reading(saved)
    save(model, card, out)
    return card
