"""One participant's incoming audio, owned in one place: decode to 20 ms 48 kHz mono float
frames on the 20 ms grid of media time, sanitise, and hand each frame to the mix when due.

What a participant sends can never poison the mix: empty payloads are ignored (an RTP
padding-only packet would otherwise flush the decoder), undecodable packets reopen the
decoder, non-finite samples are zeroed and magnitudes clipped to full scale, and frames
stamped far ahead of the room's clock are dropped. Every such case is counted and reported.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import av
import numpy as np

from vmedia.codecs.audio import AudioDecoder
from vmedia.errors import InvalidInputError, StreamError
from vmedia.inputs.video import MAX_AHEAD, check_media_time
from vmedia.media.time import FRAME_SECONDS, FRAME_SIZE

log = logging.getLogger("vmedia.inputs")
MAX_AHEAD_FRAMES = round(MAX_AHEAD / FRAME_SECONDS)


@dataclass
class AudioStats:
    frames: int = 0  # 20 ms frames queued for the mix
    empty: int = 0  # zero-length payloads ignored
    errors: int = 0  # undecodable packets
    sanitised: int = 0  # frames with non-finite or over-range samples repaired
    dropped_ahead: int = 0  # frames stamped too far ahead of the room's clock
    dropped_late: int = 0  # frames that arrived after their mix slot


class AudioInput:
    """push() runs on the sender's network thread (one pusher per participant); take() on
    the ticking thread."""

    def __init__(self, owner: str, codec: str = "opus"):
        self.owner = owner
        self.codec = codec
        self.av_offset = 0.0  # seconds added to this participant's audio times (lip-sync trim)
        self.stats = AudioStats()
        self.now_index = 0  # the mix's next frame index, for the look-ahead bound
        self._decoder: AudioDecoder | None = None
        self._frames: dict[int, np.ndarray] = {}  # 20 ms frame index -> samples
        self._lock = threading.Lock()  # pushes (network thread) vs takes (tick)
        self._next: int | None = None  # frame index the next decoded frame belongs to
        self._problems: list[str] = []

    def push(self, data, t) -> None:
        """An encoded packet (bytes or av.Packet, this participant's codec), an
        av.AudioFrame, or float samples at 48 kHz mono, starting at media time t. A jump
        in t (a gap) restarts the frame grid so nothing plays late."""
        if isinstance(data, np.ndarray):  # API misuse is refused before any state changes
            if not np.issubdtype(data.dtype, np.floating) or not np.isfinite(data).all():
                raise InvalidInputError(
                    f"PCM for {self.owner!r} must be finite float samples in -1..1 at 48 kHz mono, got {data.dtype}"
                    + ("" if np.issubdtype(data.dtype, np.floating) else " (convert integer PCM with x / 32768)")
                )
        elif not isinstance(data, (bytes, bytearray, memoryview, av.Packet, av.AudioFrame)):
            raise InvalidInputError(
                f"audio for {self.owner!r} must be a payload (bytes or av.Packet), an av.AudioFrame or float32 PCM, "
                f"got {type(data).__name__}"
            )
        t = check_media_time(t, f"audio for {self.owner!r}")
        if _is_empty(data):
            self.stats.empty += 1
            return
        index = round((t + self.av_offset) / FRAME_SECONDS)
        with self._lock:
            if index > self.now_index + MAX_AHEAD_FRAMES:
                self.stats.dropped_ahead += 1
                return
        if self._next is None or abs(index - self._next) > 1:
            self._next = index
            if self._decoder:
                self._decoder.reset()
        try:
            frames = self._decode(data)
        except StreamError as e:
            self.stats.errors += 1
            self._report(str(e))
            return
        frames = [self._sanitised(f) for f in frames]
        with self._lock:
            for f in frames:
                self._frames[self._next] = f
                self._next += 1
                self.stats.frames += 1

    def _decode(self, data) -> list[np.ndarray]:
        if isinstance(data, np.ndarray):
            x = data.astype(np.float32, copy=False).reshape(-1)
            return [x[i : i + FRAME_SIZE] for i in range(0, len(x) - FRAME_SIZE + 1, FRAME_SIZE)]
        if self._decoder is None:
            self._decoder = AudioDecoder(self.codec)
        if isinstance(data, av.AudioFrame):
            return self._decoder.push_frame(data)
        return self._decoder.decode(data)

    def _sanitised(self, frame: np.ndarray) -> np.ndarray:
        if np.isfinite(frame).all() and np.abs(frame).max(initial=0.0) <= 1.0:
            return frame
        self.stats.sanitised += 1
        self._report("non-finite or over-range samples were repaired")
        return np.clip(np.nan_to_num(frame, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0).astype(np.float32)

    def _report(self, problem: str) -> None:
        log.warning("participant %s: %s", self.owner, problem)
        with self._lock:
            if problem not in self._problems:  # one event per kind of problem per tick
                self._problems.append(problem)

    def take(self, index: int) -> np.ndarray | None:
        """The frame for mix slot `index`, dropping any that arrived too late."""
        with self._lock:
            self.now_index = index + 1
            if self._frames and min(self._frames) < index:
                for old in [k for k in self._frames if k < index]:
                    del self._frames[old]
                    self.stats.dropped_late += 1
            return self._frames.pop(index, None)

    def problems(self) -> list[str]:
        """What went wrong since the last call (for stream_error events)."""
        with self._lock:
            problems, self._problems = self._problems, []
        return problems


def _is_empty(data) -> bool:
    if isinstance(data, av.AudioFrame):
        return data.samples == 0
    if isinstance(data, av.Packet):
        return data.size == 0
    return len(data) == 0
