"""Composing participants' pictures into one I420 canvas.

Python decides what goes where (fit/fill geometry, borders, labels, placeholders) and
hands one display list to the C++ core, which scales every tile straight into the canvas
with the GIL released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np

from vmedia import _core
from vmedia.media import labels
from vmedia.media.color import Yuv, rgb_image_to_yuv, rgb_to_yuv
from vmedia.errors import InvalidInputError
from vmedia.media.frames import I420Frame
from vmedia.layouts import Rect
from vmedia.video.tile_plan import HIGHLIGHT, PLACEHOLDER, FitMode, TilePlan, TileStyle, fit_geometry

__all__ = ["Compositor", "FitMode", "Overlay", "Tile", "fit_geometry"]


@dataclass(frozen=True)
class Overlay:
    """A picture with per-pixel alpha (a name label, a logo), ready to blend."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    alpha: np.ndarray

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    @classmethod
    def from_rgba(cls, rgba: np.ndarray) -> Overlay:
        """From an H x W x 4 uint8 RGBA image; chroma is the alpha-weighted 2x2 mean."""
        rgba = np.asarray(rgba)
        if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4 or 0 in rgba.shape:
            raise InvalidInputError(f"overlay must be a non-empty H x W x 4 uint8 RGBA array, got {rgba.dtype} {rgba.shape}")
        h, w = rgba.shape[:2]
        yuv = rgb_image_to_yuv(rgba[..., :3])
        a = rgba[..., 3].astype(np.float64)
        # Pad to even size (edge repeat, zero alpha) so chroma is a clean 2x2 mean.
        ph, pw = h + h % 2, w + w % 2
        yuv_p = np.pad(yuv, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
        a_p = np.pad(a, ((0, ph - h), (0, pw - w)))
        wsum = a_p.reshape(ph // 2, 2, pw // 2, 2).sum(axis=(1, 3))
        chroma = []
        for c in (1, 2):
            num = (yuv_p[..., c] * a_p).reshape(ph // 2, 2, pw // 2, 2).sum(axis=(1, 3))
            plain = yuv_p[..., c].reshape(ph // 2, 2, pw // 2, 2).mean(axis=(1, 3))
            chroma.append(np.where(wsum > 0, num / np.maximum(wsum, 1e-9), plain))
        to8 = lambda x: np.clip(np.rint(x), 0, 255).astype(np.uint8)  # noqa: E731
        return cls(to8(yuv[..., 0]), to8(chroma[0]), to8(chroma[1]), rgba[..., 3].copy())

    @classmethod
    def text(cls, text: str, *, size: int = 20, color: str = "#FFFFFF", box: str = "#000000", box_alpha: int = 150,
             max_width: int | None = None) -> Overlay:
        """A name label: text on a translucent box (vmedia.media.labels), at most
        max_width pixels wide with the name ellipsised to fit. Rendered on each call; a
        LabelCache (vmedia.video.label_cache) keeps labels between frames."""
        return cls.from_rgba(labels.render_label(text, size, color=color, box=box, box_alpha=box_alpha, max_width=max_width))


@dataclass(frozen=True)
class Tile:
    """One participant's place on the canvas.

    source None draws the placeholder colour (participant without video, or waiting for
    a keyframe). `fit` letterboxes the whole picture; `fill` crops it to cover the rect.
    """

    rect: Rect
    source: I420Frame | None = None
    mode: FitMode = "fit"
    border: int = 0
    border_color: Yuv = HIGHLIGHT
    placeholder: Yuv = PLACEHOLDER
    label: Overlay | None = None

    @property
    def style(self) -> TileStyle:
        return TileStyle(self.rect, self.mode, self.border, self.border_color, self.placeholder, self.label)


class Compositor:
    """Composes tiles onto a width x height canvas with a background colour."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        background: str | tuple[int, int, int] = "#101014",
        *,
        threads: int | None = None,
        workers: _core.ComposeContext | None = None,
    ):
        """`workers`: the compose context whose threads and tap-table cache this compositor
        uses (its owner's, say a RoomHost's; None: the core's default context). `threads`
        > 1 splits each canvas into horizontal bands drawn by the calling thread and
        threads - 1 of the context's workers; None: 1 without `workers`, else all of theirs."""
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise InvalidInputError(f"canvas must have a positive even width and height, got {width}x{height}")
        if workers is not None and not isinstance(workers, _core.ComposeContext):
            raise InvalidInputError(f"workers must be a vmedia._core.ComposeContext, got {type(workers).__name__}")
        if threads is None:
            threads = workers.threads if workers is not None else 1
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= _core.MAX_THREADS:
            raise InvalidInputError(f"threads must be 1..{_core.MAX_THREADS}, got {threads!r:.40}")
        self.width, self.height = width, height
        self.background = rgb_to_yuv(background)
        self.threads = threads
        self.workers = workers

    def plan(self, styles: Sequence[TileStyle], sizes: Sequence[tuple[int, int] | None]) -> TilePlan:
        """A reusable display list for tiles whose sources have these sizes."""
        return TilePlan(self.width, self.height, self.background, styles, sizes)

    def display_list(self, tiles: list[Tile]) -> list[tuple]:
        """The core ops that draw `tiles` over the background, in order."""
        sources = [t.source for t in tiles]
        sizes = [None if s is None else (s.width, s.height) for s in sources]
        return self.plan([t.style for t in tiles], sizes).ops(sources)

    def compose(self, tiles: list[Tile], out: I420Frame | None = None) -> I420Frame:
        """Draw tiles into `out` (a new PyAV-backed frame by default) and return it."""
        if out is not None and (out.width, out.height) != (self.width, self.height):
            raise InvalidInputError(f"output is {out.width}x{out.height}, compositor is {self.width}x{self.height}")
        return self.draw(self.display_list(tiles), out)

    def draw(self, ops: list[tuple], out: I420Frame | None = None) -> I420Frame:
        """Run a display list (from a TilePlan) into `out` or a new PyAV-backed frame."""
        if out is None:
            out = I420Frame.from_av(av.VideoFrame(self.width, self.height, "yuv420p"))
        _core.compose(out.planes, ops, self.threads, self.workers)
        return out

