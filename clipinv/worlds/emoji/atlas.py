"""The emoji world's glyphs: every fully-qualified RGI emoji that Noto Color Emoji draws (ZWJ
sequences such as "woman health worker" included; skin-tone variants and flags left out), 48 px square
with transparency, each with its lower-cased CLDR short name ("red apple", "jack-o-lantern").

The package ships them as one PNG sheet (`weights/atlas.png`) and a name list (`weights/names.json`).
Only `build` needs the font (Debian's fonts-noto-color-emoji, SIL Open Font License 1.1) and the
`emoji` package (Unicode's emoji data); `python tools/build_emoji_world.py atlas` runs it.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from clipinv.errors import ClipinvError

SIDE = 48  # pixels a glyph is drawn at, the models' input size
COLUMNS = 40  # glyphs a row of the atlas sheet
WEIGHTS = Path(__file__).parent / "weights"
ATLAS, NAMES = WEIGHTS / "atlas.png", WEIGHTS / "names.json"
FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
SKIN_TONES = range(0x1F3FB, 0x1F400)
REGIONAL_LETTERS = range(0x1F1E6, 0x1F200)  # flags are pairs of them


def rgi_emoji() -> list[tuple[str, str]]:
    """(emoji, name) for every fully-qualified RGI emoji but skin-tone variants and flags, by code points."""
    import emoji

    chosen = []
    for e, data in emoji.EMOJI_DATA.items():
        if data["status"] != emoji.STATUS["fully_qualified"]:
            continue
        if any(ord(c) in SKIN_TONES or ord(c) in REGIONAL_LETTERS for c in e) or "\U000e0067" in e:
            continue  # skin tones; country and subdivision flags
        name = re.sub(r"[\u201c\u201d\"]", "", data["en"].strip(":")).replace("_", " ").replace("\u2019", "'").lower()
        chosen.append((e, name))
    return sorted(chosen, key=lambda item: [ord(c) for c in item[0]])


def build(font: Path = FONT) -> tuple[np.ndarray, list[str]]:
    """Draw every emoji of `rgi_emoji` the font has: uint8 RGBA [N, SIDE, SIDE, 4] and their names."""
    from PIL import Image, ImageDraw, ImageFont

    if not Path(font).is_file():
        raise ClipinvError(f"no emoji font at {font}: `apt-get install fonts-noto-color-emoji` (or `make browser`)")
    # 109 px: the one size Noto Color Emoji's bitmaps come in; raqm joins ZWJ sequences into one glyph
    face = ImageFont.truetype(str(font), 109, layout_engine=ImageFont.Layout.RAQM)
    images, names = [], []
    for e, name in rgi_emoji():
        im = Image.new("RGBA", (400, 136), (0, 0, 0, 0))
        ImageDraw.Draw(im).text((0, 0), e, font=face, embedded_color=True)
        box = im.getchannel("A").getbbox()
        if box is None or box[2] - box[0] > 140 or name in names:
            continue  # no glyph, a sequence the font draws as several, or a name taken
        im = im.crop(box)
        side = max(im.size)
        square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        square.paste(im, ((side - im.size[0]) // 2, (side - im.size[1]) // 2))
        images.append(np.asarray(square.resize((SIDE, SIDE), Image.LANCZOS)))
        names.append(name)
    return np.stack(images), names


def save(glyphs: np.ndarray, glyph_names: list[str], atlas: Path = ATLAS, names_path: Path = NAMES) -> None:
    """The glyphs as one PNG sheet, COLUMNS a row, and their names as JSON (each written whole or not at all;
    what `load` and `names` had read before is read again)."""
    from PIL import Image

    rows = -(-len(glyphs) // COLUMNS)
    sheet = np.zeros((rows * SIDE, COLUMNS * SIDE, 4), np.uint8)
    for i, g in enumerate(glyphs):
        r, c = divmod(i, COLUMNS)
        sheet[r * SIDE : (r + 1) * SIDE, c * SIDE : (c + 1) * SIDE] = g
    atlas.parent.mkdir(parents=True, exist_ok=True)
    tmp = atlas.with_suffix(".tmp.png")
    Image.fromarray(sheet, "RGBA").save(tmp, optimize=True)
    tmp.replace(atlas)
    tmp = names_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(glyph_names, indent=0) + "\n")
    tmp.replace(names_path)
    load.cache_clear()
    names.cache_clear()


@lru_cache(maxsize=2)
def names(names_path: Path = NAMES) -> tuple[str, ...]:
    """The shipped glyphs' names alone (`load` without decoding the atlas image)."""
    if not names_path.is_file():
        raise ClipinvError(f"the emoji names {names_path} are missing: run `python tools/build_emoji_world.py atlas`")
    return tuple(json.loads(names_path.read_text()))


@lru_cache(maxsize=2)
def load(atlas: Path = ATLAS, names_path: Path = NAMES) -> tuple[torch.Tensor, tuple[str, ...]]:
    """The shipped glyphs as float RGBA [N, 4, SIDE, SIDE] in [0, 1], and their names (decoded once a
    process: treat the glyphs as read-only)."""
    from PIL import Image

    if not atlas.is_file():
        raise ClipinvError(f"the emoji atlas {atlas} is missing: run `python tools/build_emoji_world.py atlas`")
    glyph_names = names(names_path)
    sheet = np.asarray(Image.open(atlas).convert("RGBA"))
    cells = sheet.reshape(sheet.shape[0] // SIDE, SIDE, COLUMNS, SIDE, 4).transpose(0, 2, 4, 1, 3)
    glyphs = torch.from_numpy(cells.reshape(-1, 4, SIDE, SIDE)[: len(glyph_names)].copy()).float() / 255
    return glyphs, glyph_names
