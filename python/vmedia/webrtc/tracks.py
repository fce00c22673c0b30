"""Outgoing tracks: what one participant receives, handed to aiortc without re-encoding.

aiortc's RTCRtpSender takes either frames (which it encodes) or `av.Packet`s from a
track's `recv()` (which it only packetises). The video track gives it the H.264 access
units vmedia encoded for the participant's view; the audio track the packets of the
participant's mix in its codec (Opus, or PCMU/PCMA for a G.711 peer: vmedia encodes
G.711 per receiver already, so aiortc need not). Both are filled on the event loop from
the live driver's outputs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from vmedia.media.time import AUDIO_TIME_BASE, FRAME_SIZE


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
        """Queue 20 ms packets (av.Packet or bytes) in the negotiated codec."""
        for item in items:
            if self._queue.qsize() >= self._max_queue:  # the peer is not reading: keep it current
                self._queue.get_nowait()
                self.dropped += 1
            self._queue.put_nowait(item)

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        item = await self._queue.get()
        if item is None:
            raise MediaStreamError
        out = av.Packet(bytes(item))  # a copy: the room's packet may go to other receivers
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
