"""A view's display list with its geometry worked out once.

FFmpeg's vf_stack computes its StackItems in config_output and GStreamer rebuilds a pad's
converter only when its caps change; likewise a TilePlan is built when the layout, a
source's picture size or a tile's decoration changes, and each frame only puts the
current pictures' planes into the prepared ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from vmedia.media.color import Yuv
from vmedia.errors import InvalidInputError
from vmedia.layouts import Rect
from vmedia.media.frames import I420Frame

if TYPE_CHECKING:  # compositor.py imports this module
    from vmedia.video.compositor import Overlay

FitMode = Literal["fit", "fill"]
PLACEHOLDER: Yuv = (40, 128, 128)
HIGHLIGHT: Yuv = (210, 16, 146)  # a bright green-yellow border in BT.601


@dataclass(frozen=True)
class TileStyle:
    """How one slot is drawn, apart from its picture."""

    rect: Rect
    mode: FitMode = "fit"
    border: int = 0
    border_color: Yuv = HIGHLIGHT
    placeholder: Yuv = PLACEHOLDER
    label: Overlay | None = None  # bottom-left inside the tile


def fit_geometry(src_w: int, src_h: int, rect: Rect, mode: FitMode) -> tuple[tuple[float, float, float, float], Rect]:
    """(source crop, destination rect) placing a src_w x src_h picture in rect.

    fit: the whole picture, scaled to the largest even-sized rect of its aspect inside
    `rect`, centred. fill: the centre of the picture cropped to rect's aspect, covering it.
    """
    if mode == "fill":
        target = rect.w / rect.h
        # min/max: rounding must never put the crop a hair outside the picture.
        if src_w / src_h > target:
            cw = min(float(src_w), src_h * target)
            return (max(0.0, (src_w - cw) / 2), 0.0, cw, float(src_h)), rect
        ch = min(float(src_h), src_w / target)
        return (0.0, max(0.0, (src_h - ch) / 2), float(src_w), ch), rect
    if mode != "fit":
        raise InvalidInputError(f"mode must be 'fit' or 'fill', got {mode!r}")
    scale = min(rect.w / src_w, rect.h / src_h)
    w = min(rect.w, max(2, 2 * round(src_w * scale / 2)))
    h = min(rect.h, max(2, 2 * round(src_h * scale / 2)))
    x = rect.x + 2 * ((rect.w - w) // 4)
    y = rect.y + 2 * ((rect.h - h) // 4)
    return (0.0, 0.0, float(src_w), float(src_h)), Rect(x, y, w, h)


class TilePlan:
    """Ops for the core's compose, over a background, for tiles whose sources have the
    given sizes (None: no picture, the placeholder is drawn)."""

    def __init__(self, width: int, height: int, background: Yuv, styles: Sequence[TileStyle],
                 sizes: Sequence[tuple[int, int] | None]):
        if len(styles) != len(sizes):
            raise InvalidInputError(f"{len(styles)} tiles but {len(sizes)} source sizes")
        self.sizes = tuple(sizes)
        self._ops: list[tuple[tuple, int | None]] = [(("fill", (0, 0, width, height), background), None)]
        for i, (style, size) in enumerate(zip(styles, sizes)):
            r = style.rect
            if size is None:
                self._ops.append((("fill", r.as_tuple(), style.placeholder), None))
            else:
                crop, dst = fit_geometry(size[0], size[1], r, style.mode)
                self._ops.append((("scale", None, crop, dst.as_tuple()), i))
            lab = style.label
            # Bottom-left inside the tile, left out when the tile is too small for it.
            if lab is not None and lab.width + 8 <= r.w and lab.height + 8 <= r.h:
                planes = (lab.y, lab.u, lab.v, lab.alpha)
                self._ops.append((("blend", planes, r.x + 8, r.y + r.h - lab.height - 8 - (r.h - lab.height) % 2), None))
            if style.border:
                self._ops.append((("border", r.as_tuple(), style.border, style.border_color), None))

    def ops(self, sources: Sequence[I420Frame | None]) -> list[tuple]:
        """The display list for these pictures (same sizes as the plan was built for)."""
        out: list[tuple] = []
        for op, i in self._ops:
            if i is None:
                out.append(op)
                continue
            source = sources[i]
            if source is None:
                raise InvalidInputError(f"tile {i} has no picture, but the plan was made for a {self.sizes[i]} one")
            out.append(("scale", source.planes, op[2], op[3]))
        return out
