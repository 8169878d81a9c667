"""`clipinv.read`: images back into words, on the toy world where the truth is known, and its CLI."""

import json
from pathlib import Path

import open_clip
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import clipinv
from clipinv import ClipinvError
from clipinv.analyses import stats
from clipinv.analyses.roundtrip import content_words, order_agreement, words_of
from clipinv.cli import main
from clipinv.core.reading import read
from clipinv.worlds.shapes.tokenizer import VOCAB
from clipinv.worlds.shapes.world import World

HERE = Path(__file__).parent
open_clip.add_model_config(HERE / "data" / "clipinv-tiny-test.json")
ARCH = "clipinv-tiny-test"


@pytest.fixture(scope="module")
def toy():
    return clipinv.load_model("toy")


def both_named(texts, labels):
    """Per reading: does it name its label's colour and shape?"""
    return [c in set(words_of(t)) and s in set(words_of(t)) for t, (c, s) in zip(texts, labels)]


def test_reading_rendered_images_recovers_colour_and_shape_and_noise_stays_at_chance(toy):
    torch.set_num_threads(1)  # a one-layer text tower: a second thread only waits on a shared CPU
    images, samples = World(pair_rate=0).sample(48, seed=11)
    labels = [(s.objects[0].colour, s.objects[0].shape) for s in samples]
    texts = [t[0] for t in read(toy, images, progress=False).texts]
    rendered = stats.rate(both_named(texts, labels))
    # first measurement: 45 of 48 (94%, interval 83-98%)
    assert rendered["rate"] >= 0.85 and rendered["low"] >= 0.7, rendered

    noise = torch.rand(48, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    noise_texts = [t[0] for t in read(toy, noise, progress=False).texts]
    control = stats.rate(both_named(noise_texts, labels))
    # chance: how often a noise reading names the label of another image (every other pairing)
    crossed = [both_named([noise_texts[i]], [labels[j]])[0] for i in range(48) for j in range(48) if i != j]
    chance = sum(crossed) / len(crossed)
    assert control["low"] <= chance <= control["high"], (control, chance)
    assert control["high"] < rendered["low"]


def test_a_reading_does_not_depend_on_its_batch_and_repeats(toy):
    images, _ = World(pair_rate=0).sample(3, seed=5)
    for method in ("pez", "gumbel"):
        grid = read(toy, images, seeds=[0, 5], method=method, steps=40, cache=False, progress=False, batch_size=6)
        alone = read(toy, images[2], seeds=[5], method=method, steps=40, cache=False, progress=False, batch_size=1)
        split = read(toy, images, seeds=[0, 5], method=method, steps=40, cache=False, progress=False, batch_size=4)
        assert torch.equal(grid.tokens[2, 1], alone.tokens[0, 0])
        assert torch.allclose(grid.similarity[2, 1], alone.similarity[0, 0], atol=1e-5)
        assert torch.equal(split.tokens, grid.tokens)
        assert torch.allclose(split.similarity, grid.similarity, atol=1e-5)
        assert grid.texts[2][1] == alone.texts[0][0]


def test_toy_readings_use_the_toy_words_and_their_cosine_is_the_models(toy):
    images, _ = World(pair_rate=0).sample(2, seed=1)
    r = read(toy, images, n_tokens=3, steps=30, progress=False)
    assert r.tokens.shape == (2, 1, 3)
    for i in range(2):
        assert all(w in VOCAB for w in r.words[i][0]) and len(r.words[i][0]) == 3
        expected = (toy.encode_text([r.texts[i][0]]) @ toy.encode_image(images[i : i + 1]).T).item()
        assert r.similarity[i, 0].item() == pytest.approx(expected, abs=1e-4)


def test_readings_are_cached_per_image_and_seed(toy, tmp_path):
    images, _ = World(pair_rate=0).sample(2, seed=2)
    first = read(toy, images, steps=20, progress=False, cache=tmp_path / "c")
    again = read(toy, images, seeds=[0, 1], steps=20, progress=False, cache=tmp_path / "c")
    assert first.record["cached"] == 0 and again.record["cached"] == 2
    assert torch.equal(again.tokens[:, :1], first.tokens)
    other = read(toy, images, steps=21, progress=False, cache=tmp_path / "c")
    assert other.record["cached"] == 0  # the steps are part of what a reading is


@pytest.mark.parametrize(
    "damage",
    ["token outside the vocabulary", "nan similarity", "wrong length", "flipped bytes"],
)
def test_a_damaged_reading_in_the_cache_is_read_again_not_served(toy, tmp_path, damage):
    from safetensors.torch import load_file, save_file

    from clipinv.core.cache import checksum

    images, _ = World(pair_rate=0).sample(1, seed=3)
    first = read(toy, images, steps=20, progress=False, cache=tmp_path / "c")
    (entry,) = (tmp_path / "c").glob("??/*.safetensors")
    t = load_file(str(entry))
    if damage == "token outside the vocabulary":
        t["tokens"][0] = 10_000
    elif damage == "nan similarity":
        t["similarity"][0] = float("nan")
    elif damage == "wrong length":
        t["tokens"] = t["tokens"][:2].clone()
    if damage == "flipped bytes":
        stored = checksum(t)
        t["similarity"][0] = -float(t["similarity"][0])
    else:
        stored = checksum(t)  # a damage the checksum does not catch: the entry's contents must be checked too
    save_file(t, str(entry), metadata={"sha256": stored})
    again = read(toy, images, steps=20, progress=False, cache=tmp_path / "c")
    assert again.record["cached"] == 0
    assert torch.equal(again.tokens, first.tokens)
    assert torch.isfinite(again.similarity).all()


@pytest.mark.parametrize(
    "images, options, message",
    [
        ([], {}, "no images given"),
        (torch.rand(2, 1, 8, 8), {}, "has shape [1, 8, 8]"),
        (torch.rand(1, 1, 3, 8, 8), {}, "got a tensor of shape [1, 1, 3, 8, 8]"),
        (torch.rand(1, 3, 8, 8) * 2, {}, "must be finite and in [0, 1]"),
        (torch.full((1, 3, 8, 8), float("nan")), {}, "must be finite"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int64), {}, "give floats in [0, 1]"),
        (torch.rand(1, 3, 8, 8), {"n_tokens": 11}, "use at most 10"),
        (torch.rand(1, 3, 8, 8), {"n_tokens": 0}, "n_tokens must be"),
        (torch.rand(1, 3, 8, 8), {"method": "beam"}, "method must be one of pez, gumbel"),
        (torch.rand(1, 3, 8, 8), {"seeds": 0}, "seeds must be"),
        ("missing.png", {}, "no image file at missing.png"),
    ],
)
def test_bad_input_is_one_line(toy, images, options, message):
    with pytest.raises(ClipinvError) as e:
        read(toy, images, progress=False, **options)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_reads_pil_images_and_files_as_their_tensors(toy, tmp_path):
    images, _ = World(pair_rate=0).sample(1, seed=3)
    pixels = (images[0] * 255).round().to(torch.uint8)
    Image.fromarray(pixels.permute(1, 2, 0).numpy()).save(tmp_path / "x.png")
    from_file = read(toy, tmp_path / "x.png", steps=20, cache=False, progress=False)
    from_tensor = read(toy, pixels.float() / 255, steps=20, cache=False, progress=False)
    assert torch.equal(from_file.tokens, from_tensor.tokens)


def test_open_clip_bpe_vocabulary_checkpoint_and_hub_specs_read(tmp_path, monkeypatch):
    src = clipinv.load_model(f"{ARCH}:random")
    r = read(src, torch.rand(1, 3, 32, 32), n_tokens=5, seeds=2, steps=5, progress=False)
    assert r.tokens.shape == (1, 2, 5) and r.record["vocabulary"] == 49408 - 3  # all but start, end and padding
    assert all(text.strip() for text in r.texts[0])
    assert not (r.tokens >= 49406).any()
    with pytest.raises(ClipinvError, match="use at most 14"):
        read(src, torch.rand(1, 3, 32, 32), n_tokens=15, progress=False)

    state = {k: v.contiguous() for k, v in src.model.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    from_checkpoint = read(
        clipinv.load_model(f"{ARCH}:{tmp_path / 'w.safetensors'}"), torch.rand(1, 3, 32, 32), steps=5
    )
    assert from_checkpoint.tokens.shape == (1, 1, 4)

    # an hf-hub: model, served offline from a hub cache laid out as the hub's downloads are
    snapshot = tmp_path / "hub" / "models--someone--tiny-clip" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    cfg = json.loads((HERE / "data" / "clipinv-tiny-test.json").read_text())
    (snapshot / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    save_file(state, str(snapshot / "open_clip_model.safetensors"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    hub = clipinv.load_model("hf-hub:someone/tiny-clip")
    image = torch.rand(1, 3, 32, 32)
    assert hub.weights_hash == src.weights_hash
    assert torch.equal(read(hub, image, steps=5).tokens, read(src, image, steps=5, cache=False).tokens)


def test_roundtrip_words_and_order():
    assert content_words("a picture of a red circle on the left") == ["red", "circle", "left"]
    assert order_agreement("red left circle", "a red circle on the left") == (2, 3)
    assert order_agreement("blue square", "a red circle") == (0, 0)


@pytest.fixture(scope="module")
def inversion_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "inv"
    code = main(
        ["invert", "a red circle", "--model", "toy", "--out", str(out), "--quiet", "--no-cache", "--steps", "30"]
    )
    assert code == 0
    return out


def test_cli_reads_an_inversion_back_and_never_overwrites(inversion_run, tmp_path, capsys):
    out = tmp_path / "rd"
    assert main(["read", "--from-inversion", str(inversion_run), "--out", str(out), "--quiet", "--steps", "50"]) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "readings.json").read_text())
    row = record["readings"][0]
    assert record["model"] == "toy" and row["prompt"] == "a red circle"
    assert row["words"] in printed and "00-a-red-circle-seed0.png" in printed
    assert set(row["prompt words back"]) <= {"red", "circle"}
    before = (out / "readings.json").read_bytes()
    assert main(["read", "--from-inversion", str(inversion_run), "--out", str(out), "--quiet"]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert (out / "readings.json").read_bytes() == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["read"], "no images given"),
        (["read", "nothing.png", "--model", "toy"], "no image file at nothing.png"),
        (["read", "{bad}", "--model", "toy"], "is not an image file"),
        (["read", "{png}", "--model", "toy", "--tokens", "11"], "use at most 10"),
        (["read", "{png}", "--model", "toy", "--seeds", "0"], "--seeds must be >= 1"),
        (["read", "{png}", "--from-inversion", "{run}"], "not both"),
        (["read", "--from-inversion", "{empty}"], "has no run.json"),
        (["read", "{png}", "--model", "ViT-B-23:random"], "unknown model spec"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(inversion_run, tmp_path, capsys, argv, message):
    (tmp_path / "bad.png").write_text("not an image")
    (tmp_path / "empty").mkdir()
    png = next(inversion_run.glob("*.png"))
    names = {"{bad}": tmp_path / "bad.png", "{png}": png, "{run}": inversion_run, "{empty}": tmp_path / "empty"}
    argv = [str(names.get(a, a)) for a in argv] + ["--out", str(tmp_path / "out"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_the_explorer_reads_the_image_on_screen_back_into_words():
    from clipinv.book import explorer

    ex = explorer.Explorer(model="toy", prompt="a red circle", steps=6)
    assert ex.reading.box in ex.box.children and ex.reading.button.disabled  # nothing to read before a run
    ex.run()
    ex.reading.run()
    shown = ex.reading.words.value
    expected = read(ex._bundle("toy"), ex.reading.image, n_tokens=4, seeds=3, progress=False)
    assert shown.count("cosine") == 3
    for text, cosine in zip(expected.texts[0], expected.similarity[0]):
        assert f"&ldquo;{text}&rdquo; (cosine {float(cosine):.3f})" in shown


class FakeInversion:
    def __init__(self, prompts, seeds):
        self.prompts, self.seeds = prompts, seeds
        self.images = torch.zeros(len(prompts), len(seeds), 3, 8, 8)


def fake_reading(texts):
    """A Reading with the given texts (one list per image, one text per reading seed)."""
    from clipinv.core.reading import Reading

    return Reading(
        tokens=torch.zeros(len(texts), len(texts[0]), 2, dtype=torch.long),
        similarity=torch.zeros(len(texts), len(texts[0])),
        texts=texts,
        words=[[t.split() for t in row] for row in texts],
        seeds=list(range(len(texts[0]))),
        record={"vocabulary": 30},
    )


def test_round_trip_measures_count_words_and_order(monkeypatch):
    from clipinv.analyses import roundtrip
    from clipinv.core import reading

    inversion = FakeInversion(["a red circle left of a blue square", "a blue square left of a red circle"], [0, 1])
    texts = [["red circle blue square"], ["square red"], ["blue square red circle"], ["circle blue"]]
    monkeypatch.setattr(reading, "read_inversion", lambda *a, **k: fake_reading(texts))

    rows, found = roundtrip.prompt_recovery(None, inversion, n_tokens=2)
    # 5 content words per prompt, 2 inversions each: 4 + 2 and 4 + 2 words back
    assert (found["words"]["k"], found["words"]["n"]) == (12, 20)
    assert found["chance"] == pytest.approx(1 - (29 / 30) ** 2)
    assert list(rows["words back"]) == ["6 / 10", "6 / 10"]

    pairs = [(inversion.prompts[0], inversion.prompts[1])]
    rows, found = roundtrip.order_round_trip(None, inversion, pairs, n_tokens=2)
    assert (found["overlap"]["k"], found["overlap"]["n"]) == (12, 20)
    # caption order red < circle < blue < square: reading 1 keeps all 6 pairs, reading 2 (square red) 0 of 1;
    # twin order blue < square < red < circle: reading 3 keeps 6 of 6, reading 4 (circle blue) 0 of 1
    assert (found["order"]["k"], found["order"]["n"]) == (12, 14)

    rows, named = roundtrip.named_words(None, inversion, ["square"], n_tokens=2)
    assert (named["named"]["k"], named["named"]["n"]) == (3, 4)
    assert named["chance"] == pytest.approx(1 - (29 / 30) ** 2)
