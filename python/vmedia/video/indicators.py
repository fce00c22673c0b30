"""Recording and streaming indicators burned into the composite, as Pexip does: everyone
who sees the room sees that it is being recorded or streamed.

Each indicator is a small badge (a red dot and "REC", or a red "LIVE" box) in the top
right corner, scaled with the canvas, rendered once per size and blended by the core.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from vmedia import _core
from vmedia.errors import InvalidInputError
from vmedia.media.frames import I420Frame
from vmedia.video.compositor import Overlay

KINDS = ("recording", "streaming")  # left to right
RED = (220, 30, 30)


def badge_height(canvas_height: int) -> int:
    """About 1/20 of the canvas (36 px at 720p), even, never below 12 px."""
    return max(12, 2 * round(canvas_height / 40))


@lru_cache(maxsize=16)
def indicator(kind: str, height: int) -> Overlay:
    """The badge for `kind` ("recording" or "streaming") at `height` pixels."""
    if kind not in KINDS:
        raise InvalidInputError(f"indicator must be one of {list(KINDS)}, got {kind!r}")
    from PIL import Image, ImageDraw, ImageFont

    size = max(8, height * 11 // 20)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has a single bitmap size
        font = ImageFont.load_default()
    text = "REC" if kind == "recording" else "LIVE"
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGBA", (1, 1))).textbbox((0, 0), text, font=font)
    pad = height // 4
    dot = height // 2 if kind == "recording" else 0
    w = int(pad + (dot + pad if dot else 0) + (right - left) + pad)
    w += w % 2
    box = (0, 0, 0, 170) if kind == "recording" else (*RED, 230)
    img = Image.new("RGBA", (w, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, w - 1, height - 1), radius=height // 5, fill=box)
    x = pad
    if dot:
        draw.ellipse((x, (height - dot) // 2, x + dot, (height - dot) // 2 + dot), fill=(*RED, 255))
        x += dot + pad
    draw.text((x - left, (height - (bottom - top)) // 2 - top), text, font=font, fill=(255, 255, 255, 255))
    return Overlay.from_rgba(np.asarray(img))


def placements(kinds: Iterable[str], width: int, height: int) -> list[tuple[Overlay, int, int]]:
    """(badge, x, y) for each active kind, right-aligned in the top right corner, even
    coordinates; badges that do not fit the canvas are left out."""
    wanted = set(kinds)
    if wanted - set(KINDS):
        raise InvalidInputError(f"indicators must be among {list(KINDS)}, got {sorted(wanted - set(KINDS))}")
    active = [k for k in KINDS if k in wanted]
    h = badge_height(height)
    margin = 2 * (h // 4)
    badges = [indicator(k, h) for k in active]
    out = []
    x = width - margin
    for badge in reversed(badges):
        x -= badge.width
        if x < 0 or h + margin > height:
            break
        out.append((badge, x - x % 2, margin))
        x -= margin
    return out[::-1]


def burn(frame: I420Frame, kinds: Iterable[str]) -> None:
    """Blend the indicators for `kinds` into `frame` in place (nothing when kinds is empty)."""
    ops = [("blend", (o.y, o.u, o.v, o.alpha), x, y) for o, x, y in placements(kinds, frame.width, frame.height)]
    if ops:
        _core.compose(frame.planes, ops, 1)
