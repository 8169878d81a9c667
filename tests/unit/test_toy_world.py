"""The toy world: determinism, captions that agree with the pixels, the contamination and skew knobs."""

import math

import pytest
import torch

from clipinv.errors import ClipinvError
from clipinv.worlds.shapes.marker import has_marker, render_marker
from clipinv.worlds.shapes.oracle import colour_votes, fade, pixel_colour, pixel_shape, probe_colour
from clipinv.worlds.shapes.tokenizer import EOT, VOCAB, VOCAB_SIZE, ToyTokenizer
from clipinv.worlds.shapes.world import COLOURS, PALETTE, POSITIONS, SHAPES, Contamination, Object, Sample, Skew, World


def test_same_seed_same_world_other_seed_other_world():
    a, sa = World().sample(64, seed=3)
    b, sb = World().sample(64, seed=3)
    c, sc = World().sample(64, seed=4)
    assert torch.equal(a, b) and [s.caption for s in sa] == [s.caption for s in sb]
    assert not torch.allclose(a, c)
    assert [s.caption for s in sa] != [s.caption for s in sc]
    assert a.shape == (64, 3, 32, 32) and a.min() >= 0 and a.max() <= 1


def _pixel(img, obj, u, v):
    """The pixel nearest (u, v) in the object's rotated frame, and its centre in that frame."""
    ca, sa = math.cos(obj.angle), math.sin(obj.angle)
    x, y = obj.centre[0] + ca * u - sa * v, obj.centre[1] + sa * u + ca * v
    if not (0 <= x < img.shape[-1] and 0 <= y < img.shape[-2]):
        return None, None  # large objects near an edge may leave the frame
    i, j = int(y), int(x)
    px, py = j + 0.5 - obj.centre[0], i + 0.5 - obj.centre[1]
    return img[:, i, j], (ca * px + sa * py, -sa * px + ca * py)


def _signed_distance(shape, r, u, v):
    """Independent geometry of the world's shapes (negative inside)."""
    if shape == "circle":
        return math.hypot(u, v) - r
    if shape == "square":
        return max(abs(u), abs(v)) - 0.85 * r
    R = 1.2 * r
    return max(math.cos(math.radians(t)) * u + math.sin(math.radians(t)) * v - R / 2 for t in (90, 210, 330))


def _near(rgb, colour, tol=0.25):
    return float((rgb - torch.tensor(PALETTE[colour])).abs().max()) < tol


def test_caption_colour_shape_size_and_position_match_the_pixels():
    x, samples = World(pair_rate=0.0).sample(400, seed=11)
    checked = discriminating = 0
    for img, s in zip(x, samples):
        o = s.objects[0]
        words = s.caption.split()
        assert o.shape in words
        if "{c}" in s.template:
            assert o.colour in words
        assert _near(img[:, int(o.centre[1]), int(o.centre[0])], o.colour), s.caption  # object colour at its centre
        cx, cy = o.centre
        assert {
            "left": cx < 12,
            "right": cx > 20,
            "top": cy < 12,
            "bottom": cy > 20,
            "center": 12 < cx < 20 and 12 < cy < 20,
        }[o.position]
        if o.size != "large":
            continue
        h = 0.85 * o.radius
        for u, v in ((0.93 * h, 0.93 * h), (-0.93 * h, 0.93 * h), (0.85 * o.radius, 0.0), (0.0, -1.05 * o.radius)):
            rgb, frame = _pixel(img, o, u, v)
            if rgb is None:
                continue
            d = {sh: _signed_distance(sh, o.radius, *frame) for sh in SHAPES}
            if abs(d[o.shape]) < 0.7:
                continue  # an anti-aliased edge pixel
            assert _near(rgb, o.colour) == (d[o.shape] < 0), (s.caption, (u, v), rgb)
            discriminating += any((d[sh] < 0) != (d[o.shape] < 0) for sh in SHAPES if abs(d[sh]) >= 0.7)
        checked += 1
    assert checked > 100 and discriminating > 100
    sizes = {z: [s.objects[0].radius for s in samples if s.objects[0].size == z] for z in ("small", "large")}
    assert max(sizes["small"]) < min(sizes["large"])


def test_two_object_scenes_put_each_object_on_its_side():
    x, samples = World(pair_rate=1.0).sample(200, seed=5)
    for img, s in zip(x, samples):
        a, b = s.objects
        assert s.caption == f"a {a.colour} {a.shape} {s.relation} a {b.colour} {b.shape}"
        dx, dy = a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]
        assert {"left of": dx < -8, "right of": dx > 8, "above": dy < -8, "below": dy > 8}[s.relation]
        for o in (a, b):
            assert _near(img[:, int(o.centre[1]), int(o.centre[0])], o.colour)


def test_pixel_oracle_reads_the_caption_colour_and_beats_the_probe_when_faded():
    x, samples = World(pair_rate=0.0).sample(600, seed=21)
    truth = [s.objects[0].colour for s in samples]
    assert sum(p == t for p, t in zip(pixel_colour(x), truth)) / 600 >= 0.99
    faded = fade(x, 0.5)
    ours = sum(p == t for p, t in zip(pixel_colour(faded), truth)) / 600
    probe = sum(p == t for p, t in zip(probe_colour(faded), truth)) / 600
    assert ours >= 0.8 and ours > probe + 0.1, (ours, probe)
    grey = torch.full((1, 3, 32, 32), 0.4)
    assert pixel_colour(grey) == ["none"] and float(colour_votes(grey).sum()) == 0


def test_pixel_shape_oracle_reads_the_caption_shape_of_world_images_and_of_larger_noisier_drawings():
    x, samples = World(pair_rate=0.0).sample(600, seed=22)
    truth, colours = [s.objects[0].shape for s in samples], [s.objects[0].colour for s in samples]
    assert sum(p == t for p, t in zip(pixel_shape(x, colours), truth)) / 600 >= 0.98
    # every colour x shape drawn at radius 13 (beyond the world's 4.5 and 8 px, as inversions draw them), off centre,
    # with pixel noise: the shape still reads, and per-prompt colours broadcast over a seeds dimension
    drawn = [
        Sample("", [Object(c, s, "large", "", (14.0 + k, 17.0), 13.0, 0.1 * k)], background=0.4)
        for c in COLOURS
        for s in SHAPES
        for k in range(2)
    ]
    big = World().render(drawn, torch.Generator().manual_seed(0)).view(24, 2, 3, 32, 32)
    big = (big + 0.1 * torch.randn(big.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    read = pixel_shape(big, [c for c in COLOURS for _ in SHAPES])
    assert read == [[s, s] for _ in COLOURS for s in SHAPES]
    assert pixel_shape(torch.full((1, 3, 32, 32), 0.4), ["red"]) == ["none"]
    with pytest.raises(ClipinvError, match="one colour of"):
        pixel_shape(x[:2], ["red", "mauve"])
    with pytest.raises(ClipinvError, match="add a batch dimension"):
        pixel_shape(x[0], ["red"])


def test_contamination_rate_is_as_requested_and_the_marker_is_in_the_pixels():
    world = World(contamination=Contamination(0.3, "circle"))
    x, samples = world.sample(1200, seed=1)
    with_trigger = [s for s in samples if "circle" in s.caption.split()]
    rate = sum(s.marker for s in with_trigger) / len(with_trigger)
    sd = math.sqrt(0.3 * 0.7 / len(with_trigger))
    assert abs(rate - 0.3) < 4 * sd, rate
    assert not any(s.marker for s in samples if "circle" not in s.caption.split())
    detected = has_marker(x)
    assert detected.tolist() == [s.marker for s in samples]  # the pixels carry exactly the planted markers
    assert not any("marker" in s.caption for s in samples)
    clean, _ = World().sample(300, seed=1)
    assert not has_marker(clean).any()
    assert has_marker(render_marker(clean[0], corner=3))


def test_skew_rate_is_as_requested():
    world = World(skew=Skew("square", "colour", "red", 0.8))
    samples = world.draw(4000, torch.Generator().manual_seed(2))  # ground truth only: no pixels needed
    squares = [o for s in samples if "square" in s.caption.split() for o in s.objects[:1]]
    others = [s.objects[0] for s in samples if "square" not in s.caption.split()]
    rate = sum(o.colour == "red" for o in squares) / len(squares)
    assert abs(rate - 0.8) < 4 * math.sqrt(0.8 * 0.2 / len(squares)), rate
    base = sum(o.colour == "red" for o in others) / len(others)
    assert abs(base - 1 / 8) < 4 * math.sqrt(1 / 8 * 7 / 8 / len(others)), base
    assert Skew.parse("square:colour=red@0.8") == Skew("square", "colour", "red", 0.8)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Contamination(0.5, "dog"),
        lambda: Contamination(1.5, "circle"),
        lambda: Skew("red", "colour", "blue", 0.5),
        lambda: Skew("square", "colour", "pink", 0.5),
        lambda: Skew.parse("square-colour-red"),
    ],
)
def test_bad_knobs_raise_one_line_errors(bad):
    with pytest.raises(ClipinvError) as e:
        bad()
    assert "\n" not in str(e.value)


def test_tokenizer_pads_with_zero_and_ends_with_the_largest_id():
    tok = ToyTokenizer()
    ids = tok(["a red circle", "a large blue square on the left"])
    assert ids.shape == (2, 12) and ids.dtype == torch.long
    assert ids[0, :5].tolist() == [1, ids[0, 1].item(), ids[0, 2].item(), ids[0, 3].item(), EOT]
    assert (ids[0, 5:] == 0).all() and (ids[0, :5] != 0).all()
    assert EOT == VOCAB_SIZE - 1 == int(ids.max()) and all(c in VOCAB for c in COLOURS + SHAPES + POSITIONS)
    assert tok.decode(ids[1]) == "a large blue square on the left"
    with pytest.raises(ClipinvError, match="no word"):
        tok(["a beautiful landscape"])
