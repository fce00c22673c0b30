"""Per-participant input state: queued media, decoders, the last good picture.

GStreamer's compositor keeps the same kind of explicit state per input pad: what arrived,
what is due, what to show when nothing new came.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

import av
import numpy as np

from vmedia.media.time import FRAME_SECONDS, FRAME_SIZE
from vmedia.codecs.audio import AudioDecoder
from vmedia.video.compositor import Overlay
from vmedia.errors import InvalidInputError, StreamError
from vmedia.media.frames import I420Frame
from vmedia.codecs.video import VideoDecoder, annexb_has_idr

log = logging.getLogger("vmedia.inputs.participant")


@dataclass
class VideoState:
    queue: deque = field(default_factory=deque)  # (media time, packet or av.VideoFrame)
    decoder: VideoDecoder = field(default_factory=VideoDecoder)
    frame: I420Frame | None = None  # the last good picture
    frame_time: float = -1e9  # its media time
    waiting_for_keyframe: bool = True  # nothing decodable until an IDR arrives
    visible: bool = False
    stalled: bool = False
    errors: int = 0
    decoded: int = 0  # pictures decoded (skipped participants stay at 0)


class Participant:
    """One participant's inputs. push_* may run on any thread (one pusher per medium);
    `decode_until` runs on the decode pool, the rest on the ticking thread."""

    def __init__(self, pid: str, name: str | None = None, audio_codec: str = "opus"):
        self.id = pid
        self.name = name or pid
        self.video = VideoState()
        self.audio_codec = audio_codec
        self._audio_decoder: AudioDecoder | None = None
        self.audio_frames: dict[int, np.ndarray] = {}  # 20 ms frame index -> samples
        self._audio_lock = threading.Lock()  # pushes (network thread) vs takes (tick)
        self._audio_next: int | None = None  # frame index the next decoded frame belongs to
        self.av_offset = 0.0  # seconds added to this participant's audio times (lip-sync trim)
        self.label = Overlay.text(self.name, size=18)
        self.audio_errors = 0

    # --- video -------------------------------------------------------------------------
    def push_video(self, data, t: float) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview, av.Packet, av.VideoFrame)):
            raise InvalidInputError(f"video for {self.id!r} must be H.264 bytes, an av.Packet or an av.VideoFrame, got {type(data).__name__}")
        self.video.queue.append((float(t), data))

    def skip_video_until(self, t: float) -> None:
        """Not visible: drop what is due without decoding; a keyframe is needed later."""
        q = self.video.queue
        while q and q[0][0] <= t:
            q.popleft()
            self.video.waiting_for_keyframe = True

    def decode_until(self, t: float) -> list[str]:
        """Decode everything due by media time t; keep the newest picture. Returns
        problems to log (never raises: one broken stream must not stop the room)."""
        v = self.video
        problems = []
        newest = None
        while v.queue and v.queue[0][0] <= t:
            when, data = v.queue.popleft()
            if isinstance(data, av.VideoFrame):
                newest = (when, data)
                continue
            if v.waiting_for_keyframe:
                is_key = data.is_keyframe if isinstance(data, av.Packet) else annexb_has_idr(bytes(data))
                if not is_key:
                    continue
                v.decoder.reset()
                v.waiting_for_keyframe = False
            try:
                for frame in v.decoder.decode(data):
                    newest = (when, frame)
                    v.decoded += 1
            except StreamError as e:
                v.errors += 1
                v.waiting_for_keyframe = True
                problems.append(str(e))
        if newest is not None:
            when, frame = newest
            try:
                v.frame = I420Frame.from_av(frame)
                v.frame_time = when
            except (InvalidInputError, ValueError) as e:
                v.errors += 1
                problems.append(f"unusable picture: {e}")
        return problems

    # --- audio -------------------------------------------------------------------------
    def push_audio(self, data, t: float) -> None:
        """Encoded packet, av.AudioFrame, or float32 samples at 48 kHz mono, starting at
        media time t. A jump in t (a gap) restarts the frame grid so nothing plays late."""
        if isinstance(data, np.ndarray):  # checked before any state changes
            floating = np.issubdtype(data.dtype, np.floating)
            if not floating or not np.isfinite(data).all():
                raise InvalidInputError(
                    f"PCM for {self.id!r} must be finite float samples in -1..1 at 48 kHz mono, got {data.dtype}"
                    + ("" if floating else " (convert integer PCM with x / 32768)")
                )
        index = round((t + self.av_offset) / FRAME_SECONDS)
        if self._audio_next is None or abs(index - self._audio_next) > 1:
            self._audio_next = index
            if self._audio_decoder:
                self._audio_decoder.reset()
        if isinstance(data, np.ndarray):
            x = data.astype(np.float32, copy=False).reshape(-1)
            frames = [x[i : i + FRAME_SIZE] for i in range(0, len(x) - FRAME_SIZE + 1, FRAME_SIZE)]
        else:
            if self._audio_decoder is None:
                self._audio_decoder = AudioDecoder(self.audio_codec)
            try:
                frames = (
                    self._audio_decoder.push_frame(data) if isinstance(data, av.AudioFrame) else self._audio_decoder.decode(data)
                )
            except StreamError as e:
                self.audio_errors += 1
                log.warning("participant %s: %s", self.id, e)
                return
        with self._audio_lock:
            for f in frames:
                self.audio_frames[self._audio_next] = f
                self._audio_next += 1

    def take_audio(self, index: int) -> np.ndarray | None:
        """The frame for mix slot `index`, dropping any that arrived too late."""
        with self._audio_lock:
            for old in [k for k in self.audio_frames if k < index]:
                del self.audio_frames[old]
            return self.audio_frames.pop(index, None)
