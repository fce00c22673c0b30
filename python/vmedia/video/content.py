"""The presentation (shared content) as its own stream, as H.239/BFCP endpoints expect.

Content is not a participant: no audio, no label, no place in the room's capacity. It is
decoded from whatever the presenter sends, scaled once into its own canvas (the source's
size when smaller than the limit, else fitted into it) and encoded at its own frame rate.
"""

from __future__ import annotations

import math

import av

from vmedia import _core
from vmedia.codecs.video import OutputProfile, VideoEncoder
from vmedia.errors import InvalidInputError
from vmedia.inputs.video import VideoInput
from vmedia.layouts import Rect
from vmedia.media.frames import I420Frame
from vmedia.media.time import EPS
from vmedia.video.compositor import Compositor
from vmedia.video.tile_plan import TileStyle

CONTENT_MAX_INPUT = (3840, 2160)


def content_size(src_w: int, src_h: int, max_w: int, max_h: int) -> tuple[int, int]:
    """The source's size when it fits, else the largest even size of its aspect that does."""
    scale = min(1.0, max_w / src_w, max_h / src_h)
    return max(2, round(src_w * scale) & ~1), max(2, round(src_h * scale) & ~1)


class ContentStream:
    """One running presentation: its input, its canvas and its encoder."""

    def __init__(self, presenter: str, *, width: int = 1920, height: int = 1080, fps: int = 15, bitrate: int = 1_500_000,
                 start: float = 0.0, threads: int | None = None, workers: _core.ComposeContext | None = None):
        if width <= 0 or height <= 0 or width % 2 or height % 2 or not 1 <= fps <= 60:
            raise InvalidInputError(f"content must be an even size and 1..60 fps, got {width}x{height} at {fps}")
        self.presenter = presenter
        self.max_size, self.fps, self.bitrate = (width, height), fps, bitrate
        self.input = VideoInput("#content", max_size=CONTENT_MAX_INPUT)
        self.input.visible = True
        self.input.now = start
        self._encoder: VideoEncoder | None = None
        self._compositor: Compositor | None = None
        self._index = round(start * fps)  # next content frame
        self.picture: I420Frame | None = None  # the last content canvas
        self._threads, self._workers = threads, workers  # the room's compose settings (see Compositor)

    def push(self, data, t: float) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview, av.Packet, av.VideoFrame)):
            raise InvalidInputError(f"content must be H.264 bytes, an av.Packet or an av.VideoFrame, got {type(data).__name__}")
        self.input.push(data, t)

    @property
    def profile(self) -> OutputProfile | None:
        return self._encoder.profile if self._encoder else None

    def tick(self, t: float) -> tuple[list[av.Packet], list[str]]:
        """Encode every content frame due by t: (packets, problems)."""
        packets: list[av.Packet] = []
        problems: list[str] = []
        while self._index / self.fps <= t + EPS:
            now = self._index / self.fps
            problems += self.input.decode_until(now)
            source = self.input.frame
            if source is not None:
                encoder, compositor = self._ensure_encoder(source)
                style = TileStyle(Rect(0, 0, compositor.width, compositor.height))
                plan = compositor.plan([style], [(source.width, source.height)])
                self.picture = compositor.draw(plan.ops([source]))
                packets += encoder.encode(self.picture.to_av(), self._index)
            self._index += 1
        return packets, problems

    def skip_until(self, t: float) -> None:
        """The room's clock jumped: content frames before t are not produced."""
        self._index = max(self._index, math.ceil(t * self.fps - EPS))

    def request_keyframe(self) -> None:
        if self._encoder:
            self._encoder.request_keyframe()

    def _ensure_encoder(self, source: I420Frame) -> tuple[VideoEncoder, Compositor]:
        """The encoder and compositor for this source's size, made on the first frame and
        again when the size changes."""
        size = content_size(source.width, source.height, *self.max_size)
        if self._encoder is None or self._compositor is None or (self._encoder.profile.width, self._encoder.profile.height) != size:
            # A new size is a new stream: a fresh encoder starts with a keyframe.
            profile = OutputProfile("content", *size, fps=self.fps, bitrate=self.bitrate, keyframe_interval=10.0)
            self._encoder = VideoEncoder(profile)
            self._compositor = Compositor(*size, threads=self._threads, workers=self._workers)
        return self._encoder, self._compositor

    def close(self) -> list[av.Packet]:
        return self._encoder.flush() if self._encoder else []
