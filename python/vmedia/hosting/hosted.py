"""A room on a RoomHost, seen through the LiveDriver interface, so that the WebRTC layer
(RoomPeer, vmedia.webrtc.server.make_app) serves hosted rooms as it serves a room with a
driver of its own: feeds before each tick and outputs after it on the room's tick worker,
control calls between two of its ticks, events to asyncio loops thread-safely.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass

from vmedia.engine.output import TickOutput
from vmedia.errors import InvalidInputError
from vmedia.hosting.fanout import EventFanout


@dataclass(frozen=True)
class HostedStats:
    """LiveStats' fields, from the host's accounts of the room."""

    ticks: int
    video_frames_dropped: int
    late_ticks: int  # overruns: ticks that ran past their interval or started late
    lateness_p50: float
    lateness_p99: float
    errors: int

    def lateness_percentile(self, q: float) -> float:
        if q not in (50, 99):
            raise InvalidInputError(f"a hosted room keeps the 50th and 99th lateness percentiles, not {q}")
        return self.lateness_p50 if q == 50 else self.lateness_p99


class HostedRoom(EventFanout):
    """`host.driver(room_id)`: the room's LiveDriver-shaped handle. The host runs the
    clock; start() starts the host if it is not running, stop() leaves it running."""

    def __init__(self, host, room_id: str):
        self.host, self.room_id = host, room_id
        self.engine = host.room(room_id)
        if not hasattr(self.engine, "subscribe"):
            raise InvalidInputError(f"room {room_id!r} is a bare Mixer; WebRTC peers need a Room")
        self.clock = host.clock
        self.fps = self.engine.mixer.fps
        self._thread = None  # the host's scheduler thread once started (make_app starts us once)
        self._subscribers = []
        self.engine.subscribe(self._publish)

    # --- LiveDriver's wiring ----------------------------------------------------------------
    def add_feed(self, feed: Callable[[float], None]) -> None:
        self.host.add_feed(self.room_id, feed)

    def remove_feed(self, feed: Callable[[float], None]) -> None:
        self.host.remove_feed(self.room_id, feed)

    def add_output(self, listener: Callable[[TickOutput], None]) -> None:
        self.host.add_output(self.room_id, listener)

    def remove_output(self, listener: Callable[[TickOutput], None]) -> None:
        self.host.remove_output(self.room_id, listener)

    def call(self, fn: Callable, *args, **kwargs) -> concurrent.futures.Future:
        """fn(*args) between two of the room's ticks, on a host worker; a Future of it."""
        return self.host.call_soon(self.room_id, fn, *args, **kwargs)

    async def run(self, fn: Callable, *args, **kwargs):
        return await asyncio.wrap_future(self.call(fn, *args, **kwargs))

    @property
    def stats(self) -> HostedStats:
        s = self.host.stats()[self.room_id]
        return HostedStats(s.ticks, s.video_frames_dropped, s.overruns, s.lateness_p50, s.lateness_p99, s.errors)

    def start(self) -> HostedRoom:
        if not self.host.running:
            self.host.start()
        self._thread = self.host._thread
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """The room stays on the host (remove_room ends it); its subscribers are dropped."""
        self._subscribers = []
