"""One participant's (or the presentation's) incoming video, owned in one place.

Like a GStreamer aggregator pad, a VideoInput holds the whole state machine of its stream:
the queue of what arrived (bounded by media time and count), whether it is shown (decode)
or not (skip, then wait for a keyframe), the last good picture and when it came, stall
and placeholder decisions, and the problems it reports as events.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections import deque
from dataclasses import dataclass

import av

from vmedia.codecs.video import VideoDecoder, h264_access_unit_is_idr
from vmedia.errors import InvalidInputError, StreamError
from vmedia.media.frames import I420Frame

MAX_INPUT_SIZE = (1920, 1088)  # pixels: larger senders are refused (decode cost, memory)
MAX_AHEAD = 2.0  # seconds: media stamped further ahead of the room's clock is dropped
MAX_QUEUED = 240  # entries: about 8 s at 30 fps; beyond it the oldest are dropped
MAX_QUEUED_BYTES = 32 << 20  # bytes of queued packets (pictures: their pixel bytes) per input
MAX_DECODES_PER_FRAME = 8  # access units decoded per output frame; a faster sender loses the rest

# Picture formats converted to I420; anything else (Bayer, paletted, hardware surfaces)
# is refused with an event, since swscale aborts the process on some of them.
CONVERTIBLE_FORMATS = frozenset(
    "yuv420p yuvj420p yuv422p yuvj422p yuv444p yuvj444p nv12 nv21 gray "
    "yuv420p10le yuv422p10le yuv444p10le rgb24 bgr24 rgba bgra argb abgr rgb0 bgr0".split()
)


@dataclass
class InputStats:
    received: int = 0
    empty: int = 0  # zero-length packets ignored
    decoded: int = 0  # pictures decoded (a participant nobody sees stays at 0)
    skipped: int = 0  # dropped unseen while not visible
    dropped_late: int = 0  # stamped before what was already shown
    dropped_ahead: int = 0  # stamped too far ahead of the room's clock
    dropped_overflow: int = 0  # queue full
    errors: int = 0  # undecodable packets or unusable pictures


def check_media_time(t, what: str) -> float:
    """A push's timestamp: a finite number of seconds (not a string, not a bool)."""
    if isinstance(t, bool) or not isinstance(t, numbers.Real):
        raise InvalidInputError(f"{what} timestamp must be a number of seconds, got {type(t).__name__}")
    t = float(t)
    if not math.isfinite(t):
        raise InvalidInputError(f"{what} timestamp must be finite, got {t}")
    return t


class VideoInput:
    """push() may run on any thread; decode_until/skip_until on the engine's threads (one
    at a time per input); the rest on the ticking thread."""

    def __init__(self, owner: str, *, max_size: tuple[int, int] = MAX_INPUT_SIZE):
        self.owner = owner
        self.max_size = max_size
        self.decoder = VideoDecoder(max_pixels=max_size[0] * max_size[1])
        self.stats = InputStats()
        self.frame: I420Frame | None = None  # the last good picture
        self.frame_time = -math.inf  # its media time
        self.waiting_for_keyframe = True  # nothing decodable until an IDR arrives
        self.visible = False
        self.stalled = False
        self.now = 0.0  # the room's media time, for the look-ahead bound
        self._queue: deque = deque()  # (media time, packet or av.VideoFrame, its bytes)
        self._queued_bytes = 0
        self._push_problem = ""  # a picture refused at push time, reported by the next decode
        self._lock = threading.Lock()
        self._last_problem = ""

    # --- arrival (network threads) ----------------------------------------------------
    def push(self, data, t) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview, av.Packet, av.VideoFrame)):
            raise InvalidInputError(
                f"video for {self.owner!r} must be H.264 bytes, an av.Packet or an av.VideoFrame, got {type(data).__name__}"
            )
        t = check_media_time(t, f"video for {self.owner!r}")
        if isinstance(data, av.VideoFrame):
            size = data.width * data.height * 3 // 2
            problem = self._oversized(data.width, data.height)
        else:
            size, problem = (data.size if isinstance(data, av.Packet) else len(data)), ""
        with self._lock:
            self.stats.received += 1
            if size == 0:  # an empty packet would flush (end) the decoder
                self.stats.empty += 1
                return
            if problem:  # never queued: a huge picture must not sit in memory
                self.stats.errors += 1
                self._push_problem = f"unusable picture: {problem}"
                return
            if t > self.now + MAX_AHEAD:
                self.stats.dropped_ahead += 1
                return
            while self._queue and (len(self._queue) >= MAX_QUEUED or self._queued_bytes + size > MAX_QUEUED_BYTES):
                self._queued_bytes -= self._queue.popleft()[2]
                self.stats.dropped_overflow += 1
                self.waiting_for_keyframe = True  # a hole in the stream: restart at an IDR
            if size > MAX_QUEUED_BYTES:
                self.stats.dropped_overflow += 1
                return
            self._queue.append((t, data, size))
            self._queued_bytes += size

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _take_due(self, t: float) -> list:
        with self._lock:
            due = []
            while self._queue and self._queue[0][0] <= t:
                when, data, size = self._queue.popleft()
                self._queued_bytes -= size
                due.append((when, data))
            return due

    # --- work (engine threads) ------------------------------------------------------
    def skip_until(self, t: float) -> None:
        """Not visible: drop what is due without decoding; a keyframe is needed later."""
        due = self._take_due(t)
        if due:
            self.stats.skipped += len(due)
            self.waiting_for_keyframe = True

    def decode_until(self, t: float) -> list[str]:
        """Decode everything due by media time t and keep the newest picture. Returns the
        problems to report (never raises: one broken stream must not stop the room)."""
        problems: list[str] = []
        with self._lock:
            if self._push_problem:
                problems.append(self._push_problem)
                self._push_problem = ""
        newest = None
        due = self._take_due(t)
        flood = len(due) > MAX_DECODES_PER_FRAME  # more than the room can afford to decode
        if flood:
            self.stats.dropped_overflow += len(due) - MAX_DECODES_PER_FRAME
            problems.append(f"sent {len(due)} pictures for one output frame; {len(due) - MAX_DECODES_PER_FRAME} dropped")
            due = due[:MAX_DECODES_PER_FRAME]
        for when, data in due:
            if when < self.frame_time:
                self.stats.dropped_late += 1
                continue
            if isinstance(data, av.VideoFrame):
                newest = (when, data)
                continue
            if self.waiting_for_keyframe:
                if not h264_access_unit_is_idr(data):
                    continue
                self.decoder.reset()
                self.waiting_for_keyframe = False
            try:
                for frame in self.decoder.decode(data):
                    newest = (when, frame)
                    self.stats.decoded += 1
            except StreamError as e:
                self.stats.errors += 1
                self.waiting_for_keyframe = True
                problems.append(str(e))
        if flood:  # the dropped rest left a hole: restart at the next IDR
            self.waiting_for_keyframe = True
        if newest is not None:
            when, frame = newest
            try:
                self.frame = self._usable(frame)
                self.frame_time = when
            except InvalidInputError as e:
                self.stats.errors += 1
                problems.append(f"unusable picture: {e}")
        # Report a repeating problem once, not every frame.
        fresh = [p for p in problems if p != self._last_problem]
        if problems:
            self._last_problem = problems[-1]
        return fresh

    def _oversized(self, w: int, h: int) -> str:
        if w * h > self.max_size[0] * self.max_size[1] or w > 4096 or h > 4096:
            return f"{w}x{h} is larger than the {self.max_size[0]}x{self.max_size[1]} input limit"
        return ""

    def _usable(self, frame: av.VideoFrame) -> I420Frame:
        w, h = frame.width, frame.height
        if self._oversized(w, h):
            raise InvalidInputError(self._oversized(w, h))
        if w < 2 or h < 2:
            raise InvalidInputError(f"{w}x{h} is too small to show")
        fmt = frame.format.name
        if fmt not in CONVERTIBLE_FORMATS:
            raise InvalidInputError(f"pixel format {fmt} is not supported; send yuv420p, nv12 or RGB")
        if fmt not in ("yuv420p", "yuvj420p") and (w % 2 or h % 2):
            raise InvalidInputError(f"a {fmt} picture must have an even size to convert, got {w}x{h}")
        try:
            return I420Frame.from_av(frame)
        except (av.error.FFmpegError, ValueError) as e:
            raise InvalidInputError(f"{fmt} picture could not be converted: {e}") from None

    # --- what to show (ticking thread) -------------------------------------------------
    def became_visible(self) -> bool:
        """Mark visible; True when the sender must be asked for a keyframe. Until it comes,
        the tile shows the placeholder, never a stale picture."""
        if self.visible:
            return False
        self.visible = True
        if self.waiting_for_keyframe or self.frame is None:
            self.frame = None
            return True
        return False

    def update_stall(self, now: float, stall_after: float) -> bool | None:
        """True/False when the stream just stalled/resumed, None when nothing changed."""
        stalled = self.frame is not None and now - self.frame_time > stall_after
        if stalled == self.stalled:
            return None
        self.stalled = stalled
        return stalled

    def picture(self, now: float, placeholder_after: float) -> I420Frame | None:
        """The last good picture, or None (placeholder) once it is too old."""
        if self.frame is not None and now - self.frame_time <= placeholder_after:
            return self.frame
        return None
