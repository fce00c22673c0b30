"""One participant's incoming audio, owned in one place: decode to 20 ms 48 kHz mono float
frames on the 20 ms grid of media time, sanitise, and hand each frame to the mix when due.

What a participant sends can never poison the mix: empty payloads are ignored (an RTP
padding-only packet would otherwise flush the decoder), undecodable packets reopen the
decoder, non-finite samples are zeroed and magnitudes clipped to full scale, and frames
stamped far ahead of the room's clock, or for a slot already mixed, are dropped at push
time, so at most MAX_AHEAD_FRAMES + 1 frames are ever held. Every such case is counted
and reported.

A decoder that holds samples back (the resampler behind G.711 or 44.1 kHz frames) completes
a 20 ms frame only with the next packet; frames are stamped by the packet that completes
them, so such a participant is heard one frame later instead of always too late.
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
from vmedia.media.time import FRAME_SECONDS, FRAME_SIZE, SAMPLE_RATE

log = logging.getLogger("vmedia.inputs")
MAX_AHEAD_FRAMES = round(MAX_AHEAD / FRAME_SECONDS)
MAX_CONCEALED = 3  # frames (60 ms): a longer hole is a pause, restarted on the grid and faded
MAX_PUSH_SAMPLES = 10 * SAMPLE_RATE  # float PCM per push: 10 s (more could never be played)


@dataclass
class AudioStats:
    frames: int = 0  # 20 ms frames queued for the mix
    empty: int = 0  # zero-length payloads ignored
    errors: int = 0  # undecodable packets
    sanitised: int = 0  # frames with non-finite or over-range samples repaired
    dropped_ahead: int = 0  # frames stamped too far ahead of the room's clock
    dropped_late: int = 0  # frames that arrived after their mix slot
    concealed: int = 0  # frames of lost or undecodable Opus packets made up by libopus


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
        self._decode_lock = threading.Lock()  # the decoder and the grid: pushes vs concealment at take
        self._last_real = -MAX_CONCEALED - 1  # index of the last frame decoded from a packet
        self._concealed_until = -1  # slots up to here were made up at take(); their packets are late
        self._problems: list[str] = []

    def push(self, data, t) -> None:
        """An encoded packet (bytes or av.Packet, this participant's codec), an
        av.AudioFrame, or float samples at 48 kHz mono, starting at media time t. A jump
        in t (a gap) restarts the frame grid so nothing plays late."""
        if isinstance(data, np.ndarray):  # API misuse is refused before any state changes
            _check_pcm(data, self.owner)
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
        with self._decode_lock:
            self._push_decoded(data, index)

    def _push_decoded(self, data, index: int) -> None:
        if self._next is not None and index < self._next and index <= self._concealed_until:
            self.stats.dropped_late += 1  # its slot was concealed and mixed already
            return
        lost = 0 if self._next is None else index - self._next
        if self._next is None or not -1 <= lost <= MAX_CONCEALED:
            self._next, lost = index, 0
            if self._decoder:
                self._decoder.reset()
        try:
            frames = self._decode(data)
        except StreamError as e:
            self.stats.errors += 1
            self._report(str(e))
            frames, lost = [], lost + 1  # an undecodable packet is a lost one
        if lost > 0 and self._decoder is not None:
            # Packets lost in the network (a hole of a few frames on the grid): concealed
            # from what came before, not zero-filled.
            hidden = self._decoder.conceal(lost)
            self.stats.concealed += len(hidden)
            frames = hidden + frames
        if not frames:
            return
        frames = [self._sanitised(f) for f in frames]
        self._last_real = index
        # Stamped by the packet that completed them: a decoder's look-ahead must not make
        # every frame late.
        first = max(self._next, index - len(frames) + 1)
        self._next = first + len(frames)
        with self._lock:
            for i, f in enumerate(frames, first):
                if i < self.now_index:
                    self.stats.dropped_late += 1  # its slot was mixed already
                elif i > self.now_index + MAX_AHEAD_FRAMES:
                    self.stats.dropped_ahead += 1
                else:
                    self._frames[i] = f
                    self.stats.frames += 1

    def _decode(self, data) -> list[np.ndarray]:
        if isinstance(data, np.ndarray):
            with np.errstate(over="ignore"):  # float64 beyond float32's range: inf, then clipped
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
        """The frame for mix slot `index`, dropping any that arrived too late. A packet
        missing a few frames after real audio (lost, or later than the playout delay) is
        concealed from what came before instead of leaving a hole."""
        with self._lock:
            self.now_index = index + 1
            if self._frames and min(self._frames) < index:
                for old in [k for k in self._frames if k < index]:
                    del self._frames[old]
                    self.stats.dropped_late += 1
            frame = self._frames.pop(index, None)
        if frame is not None or self._decoder is None:
            return frame
        with self._decode_lock:
            if self._next != index or index - self._last_real > MAX_CONCEALED:
                return None  # silence or a pause: the mixer fades it
            hidden = self._decoder.conceal(1)
            if not hidden:
                return None
            self._next = self._concealed_until = index
            self._next += 1
            self.stats.concealed += 1
        return self._sanitised(hidden[0])

    def problems(self) -> list[str]:
        """What went wrong since the last call (for stream_error events)."""
        with self._lock:
            problems, self._problems = self._problems, []
        return problems


def _check_pcm(data: np.ndarray, owner: str) -> None:
    if not np.issubdtype(data.dtype, np.floating) or data.ndim not in (1, 2) or (data.ndim == 2 and 1 not in data.shape):
        raise InvalidInputError(
            f"PCM for {owner!r} must be float samples in -1..1 at 48 kHz mono (one dimension), "
            f"got {data.dtype} of shape {data.shape}" + ("" if np.issubdtype(data.dtype, np.floating) else " (convert integer PCM with x / 32768)")
        )
    if data.size > MAX_PUSH_SAMPLES:
        raise InvalidInputError(f"PCM for {owner!r}: at most {MAX_PUSH_SAMPLES} samples per push, got {data.size}")
    if not np.isfinite(data).all():
        raise InvalidInputError(f"PCM for {owner!r} must be finite float samples in -1..1 at 48 kHz mono")


def _is_empty(data) -> bool:
    if isinstance(data, av.AudioFrame):
        return data.samples == 0
    if isinstance(data, av.Packet):
        return data.size == 0
    return len(data) == 0
