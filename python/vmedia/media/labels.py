"""Text and cards drawn into the composite: name labels, the audio-only participant card,
the "+N" overflow tile and the "you are alone in this room" picture.

Rendered once per name and size with Pillow (cached by the callers), never per frame.
The font ships with vmedia (DejaVu Sans, fonts/LICENSE): Latin with every Nordic letter,
Greek, Cyrillic and Arabic. Arabic and Hebrew are shaped and laid out right-to-left by
Pillow's raqm engine, or, where Pillow was built without it, by arabic-reshaper and
python-bidi. A character no font covers is drawn as "?" (and logged once per script),
never as a .notdef box; add_font() adds a fallback font (say, a CJK one) for such names.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

from vmedia.errors import InvalidInputError
from vmedia.media.color import parse_rgb  # noqa: F401 - re-exported for card callers

log = logging.getLogger("vmedia.labels")

FONT_PATH = Path(__file__).with_name("fonts") / "DejaVuSans.ttf"
ELLIPSIS = "\u2026"
REPLACEMENT = "?"
CARD_BACKGROUND = "#2E3B4E"  # a calm slate blue: audio-only participants
OVERFLOW_BACKGROUND = "#26303F"
ALONE_BACKGROUND = "#1F2A37"
CARD_TEXT = "#E8EDF3"

_fonts: list[Path] = [FONT_PATH]
_warned_scripts: set[str] = set()


def add_font(path: str | Path) -> None:
    """Use another font file for characters the bundled one lacks (for example a CJK font)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"no font file at {str(p)!r}")
    _cmap.cache_clear()
    _font.cache_clear()
    if p not in _fonts:
        _fonts.append(p)


@lru_cache(maxsize=8)
def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True, fontNumber=0) as f:
        return frozenset(f.getBestCmap() or {})


def missing_glyphs(text: str, path: Path = FONT_PATH) -> list[str]:
    """The characters of `text` that the font maps to .notdef (spaces and invisible
    formatting characters aside)."""
    cmap = _cmap(path)
    return [c for c in dict.fromkeys(text) if ord(c) not in cmap and not _invisible(c)]


def _invisible(c: str) -> bool:
    return c.isspace() or unicodedata.category(c) in ("Cf", "Cc")


def raqm() -> bool:
    """True when Pillow shapes complex scripts itself (libraqm)."""
    from PIL import features

    return bool(features.check("raqm"))


@lru_cache(maxsize=64)
def _font(path: Path, size: int):
    from PIL import ImageFont

    engine = ImageFont.Layout.RAQM if raqm() else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(path), size, layout_engine=engine)


def _script(c: str) -> str:
    name = unicodedata.name(c, "UNKNOWN")
    return name.split(" ")[0]


def prepare(text: str) -> tuple[str, Path]:
    """The text as it will be drawn and the font to draw it with: NFC, control
    characters removed, and characters no font covers replaced by "?"."""
    text = "".join(c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) != "Cc").strip()
    for path in _fonts:
        if not missing_glyphs(text, path):
            return text, path
    missing = set(missing_glyphs(text, FONT_PATH))
    for c in missing:
        script = _script(c)
        if script not in _warned_scripts:
            _warned_scripts.add(script)
            log.warning("the label font has no %s characters (e.g. %r); they are drawn as %r. "
                        "vmedia.media.labels.add_font(path) adds a font that has them", script, c, REPLACEMENT)
    return "".join(REPLACEMENT if c in missing else c for c in text), FONT_PATH


def _visual(text: str) -> str:
    """Without raqm: Arabic letters joined and right-to-left runs reversed in Python."""
    if raqm() or not any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        return text
    import arabic_reshaper
    from bidi import get_display

    return get_display(arabic_reshaper.reshape(text))


def text_width(text: str, size: int, path: Path = FONT_PATH) -> float:
    return _font(path, size).getlength(_visual(text))


def fit(text: str, size: int, max_width: float | None, path: Path = FONT_PATH) -> str:
    """`text` shortened with an ellipsis so that it is at most max_width pixels wide."""
    if max_width is None or text_width(text, size, path) <= max_width:
        return text
    lo, hi = 0, len(text)  # the longest prefix that fits with the ellipsis
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid].rstrip() + ELLIPSIS, size, path) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS if lo else ELLIPSIS


def label_size(canvas_height: int) -> int:
    """The name label's font size for an output of this height: 11 px at 360p, 22 at 720p,
    34 at 1080p (about 3 % of the picture), never below 10 px."""
    if canvas_height <= 0:
        raise InvalidInputError(f"canvas height must be positive, got {canvas_height}")
    return max(10, round(canvas_height / 32))


def render_label(text: str, size: int = 20, *, color: str = "#FFFFFF", box: str = "#000000", box_alpha: int = 150,
                 max_width: int | None = None) -> np.ndarray:
    """A name label as an H x W x 4 RGBA image: the text on a translucent box, the whole
    label at most max_width pixels wide (the name ellipsised to fit)."""
    from PIL import Image, ImageDraw

    if not 4 <= size <= 400:
        raise InvalidInputError(f"label size must be 4..400 px, got {size}")
    pad = max(2, size // 4)
    text, path = prepare(text)
    text = fit(text, size, None if max_width is None else max_width - 2 * pad, path) or " "
    font = _font(path, size)
    shown = _visual(text)
    left, top, right, bottom = font.getbbox(shown)
    w, h = max(2, (right - left) + 2 * pad), max(2, (bottom - top) + 2 * pad)
    w, h = w + w % 2, h + h % 2
    if max_width is not None:
        w = max(2, min(w, max_width & ~1))  # an overhanging last glyph may not widen the label
    img = Image.new("RGBA", (w, h), (*parse_rgb(box), box_alpha))
    ImageDraw.Draw(img).text((pad - left, pad - top), shown, font=font, fill=(*parse_rgb(color), 255))
    return np.asarray(img)


# --- tile cards -----------------------------------------------------------------------
def initials(name: str) -> str:
    """Up to two letters: "Ada Okafor" -> "AO", "Dr. Ada Okafor" -> "AO", "Åse" -> "Å"."""
    words = [w for w in name.replace("-", " ").split() if not w.endswith(".") and w[:1].isalpha()]
    letters = [w[0].upper() for w in words]
    return "".join(letters[:1] + letters[1:][-1:]) if letters else "?"


def _canvas(width: int, height: int, background: str):
    from PIL import Image

    if width < 2 or height < 2:
        raise InvalidInputError(f"card must be at least 2x2, got {width}x{height}")
    return Image.new("RGB", (width, height), parse_rgb(background))


def _centered(draw, box: tuple[float, float, float, float], text: str, size: int, color: str) -> None:
    text, path = prepare(text)
    text = fit(text, size, box[2] - box[0], path)
    font = _font(path, size)
    shown = _visual(text)
    left, top, right, bottom = font.getbbox(shown)
    x = (box[0] + box[2]) / 2 - (left + right) / 2
    y = (box[1] + box[3]) / 2 - (top + bottom) / 2
    draw.text((round(x), round(y)), shown, font=font, fill=parse_rgb(color))


def _microphone(draw, cx: float, cy: float, r: float, color) -> None:
    """A microphone drawn with shapes (no font glyph needed): capsule, cradle and stand."""
    w = max(1, round(r / 5))
    draw.rounded_rectangle((cx - r * 0.35, cy - r, cx + r * 0.35, cy + r * 0.25), radius=r * 0.35, fill=color)
    draw.arc((cx - r * 0.65, cy - r * 0.6, cx + r * 0.65, cy + r * 0.6), 0, 180, fill=color, width=w)
    draw.line((cx, cy + r * 0.6, cx, cy + r), fill=color, width=w)
    draw.line((cx - r * 0.4, cy + r, cx + r * 0.4, cy + r), fill=color, width=w)


def audio_only_card(name: str, width: int, height: int, *, background: str = CARD_BACKGROUND) -> np.ndarray:
    """An audio-only participant's tile (H x W x 3 RGB): their initials in a circle with a
    microphone badge, their name below, on a calm background."""
    from PIL import ImageDraw

    img = _canvas(width, height, background)
    draw = ImageDraw.Draw(img)
    bg = np.asarray(parse_rgb(background))
    circle = tuple(int(v) for v in np.clip(bg + 40, 0, 255))
    r = min(width, height) * 0.22
    cx, cy = width / 2, height * 0.42
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=circle)
    _centered(draw, (cx - r, cy - r, cx + r, cy + r), initials(name), max(6, round(r * 0.8)), CARD_TEXT)
    badge = r * 0.38
    bx, by = cx + r * 0.75, cy + r * 0.75
    draw.ellipse((bx - badge, by - badge, bx + badge, by + badge), fill=parse_rgb(CARD_TEXT))
    _microphone(draw, bx, by, badge * 0.6, parse_rgb(background))
    size = max(6, round(height * 0.08))
    _centered(draw, (width * 0.05, cy + r + size * 0.4, width * 0.95, cy + r + size * 1.9), name, size, CARD_TEXT)
    return np.asarray(img)


def overflow_card(hidden: int, width: int, height: int, *, background: str = OVERFLOW_BACKGROUND) -> np.ndarray:
    """The "+N" tile (H x W x 3 RGB) standing for `hidden` people the layout has no room for."""
    from PIL import ImageDraw

    if hidden < 1:
        raise InvalidInputError(f"an overflow tile stands for at least 1 person, got {hidden}")
    img = _canvas(width, height, background)
    _centered(ImageDraw.Draw(img), (0, 0, width, height), f"+{hidden}", max(6, round(min(width, height) * 0.35)), CARD_TEXT)
    return np.asarray(img)


def alone_card(width: int, height: int, text: str = "You are the only one in this room",
               *, background: str = ALONE_BACKGROUND) -> np.ndarray:
    """What someone alone in a room sees (H x W x 3 RGB): a person's outline and a line
    of text, so an empty room never looks like a broken picture."""
    from PIL import ImageDraw

    img = _canvas(width, height, background)
    draw = ImageDraw.Draw(img)
    color = parse_rgb(CARD_TEXT)
    s = min(width, height)
    cx, cy = width / 2, height * 0.4
    head = s * 0.09
    w = max(1, round(s / 90))
    draw.ellipse((cx - head, cy - 2 * head, cx + head, cy), outline=color, width=w)
    draw.arc((cx - 2 * head, cy + head * 0.3, cx + 2 * head, cy + 4.3 * head), 180, 360, fill=color, width=w)
    size = max(6, round(height * 0.05))
    _centered(draw, (width * 0.05, cy + 2.8 * head, width * 0.95, cy + 2.8 * head + 2 * size), text, size, CARD_TEXT)
    return np.asarray(img)


def to_frame(rgb: np.ndarray):
    """A card as an I420Frame tile source (FFmpeg converts; even sizes)."""
    import av

    from vmedia.media.frames import I420Frame

    rgb = np.ascontiguousarray(rgb[: rgb.shape[0] & ~1, : rgb.shape[1] & ~1, :3])
    return I420Frame.from_av(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"))
