"""Outgoing tracks: what one participant receives, handed to aiortc without re-encoding.

aiortc's RTCRtpSender takes either frames (which it encodes) or `av.Packet`s from a
track's `recv()` (which it only packetises). The video track gives it the H.264 access
units vmedia encoded for the participant's view; the audio track gives it Opus packets of
the participant's mix, or, for a G.711 peer, 20 ms PCM frames that aiortc encodes to
PCMU/PCMA. Both are filled on the event loop from the live driver's outputs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from vmedia.media.time import AUDIO_TIME_BASE, FRAME_SIZE, SAMPLE_RATE


class ViewVideoTrack(MediaStreamTrack):
    """The participant's view as pre-encoded H.264. It starts at a keyframe; if the peer
    stops reading for `max_queue` frames, the backlog is dropped and `on_gap()` asks the
    room for a fresh keyframe."""

    kind = "video"

    def __init__(self, *, max_queue: int = 30, on_gap: Callable[[], None] | None = None):
        super().__init__()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._max_queue = max_queue
        self._on_gap = on_gap
        self._waiting_for_keyframe = True
        self.sent = 0
        self.dropped = 0

    def put(self, packets: list[av.Packet]) -> None:
        """Queue access units (event loop thread)."""
        for packet in packets:
            if self._waiting_for_keyframe:
                if not packet.is_keyframe:
                    self.dropped += 1
                    continue
                self._waiting_for_keyframe = False
            if self._queue.qsize() >= self._max_queue:
                self.dropped += self._queue.qsize()
                self._clear()
                self._waiting_for_keyframe = not packet.is_keyframe
                if self._on_gap:
                    self._on_gap()
                if self._waiting_for_keyframe:
                    self.dropped += 1
                    continue
            self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        self.sent += 1
        return packet

    def stop(self) -> None:
        self._clear()
        self._queue.put_nowait(None)  # wakes a pending recv()
        super().stop()

    def _clear(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()


class ViewAudioTrack(MediaStreamTrack):
    """The participant's audio, 20 ms at a time, with its own continuous timestamps (the
    room may switch a listener between the shared mix and its own mix-minus)."""

    kind = "audio"

    def __init__(self, *, max_queue: int = 50):
        super().__init__()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._max_queue = max_queue
        self._pts = 0
        self.sent = 0
        self.dropped = 0

    def put(self, items: list) -> None:
        """Queue Opus packets (bytes-like) or float32 PCM frames of 960 samples."""
        for item in items:
            if self._queue.qsize() >= self._max_queue:  # the peer is not reading: keep it current
                self._queue.get_nowait()
                self.dropped += 1
            self._queue.put_nowait(item)

    async def recv(self) -> av.Packet | av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        item = await self._queue.get()
        if item is None:
            raise MediaStreamError
        if isinstance(item, np.ndarray):  # PCM for aiortc's G.711 encoder
            pcm = np.clip(item * 32768.0, -32768, 32767).astype(np.int16).reshape(1, -1)
            out = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            out.sample_rate = SAMPLE_RATE
        else:
            out = av.Packet(bytes(item))
        out.pts = self._pts
        out.time_base = AUDIO_TIME_BASE
        self._pts += FRAME_SIZE
        self.sent += 1
        return out

    def stop(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        super().stop()
