"""Events to listeners on other threads: each listener is called on the asyncio loop it
subscribed from (thread-safely), or on the emitting thread when it has none."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from vmedia.engine.events import Event

log = logging.getLogger("vmedia.hosting")
Listener = Callable[[Event], None]


class EventFanout:
    """Mixin for the live layer's drivers (LiveDriver, HostedRoom)."""

    _subscribers: list[tuple[Listener, asyncio.AbstractEventLoop | None]] = []

    def subscribe(self, callback: Listener, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Call `callback(event)` for every event. With a loop (by default the running one,
        if any) it runs on that loop's thread; without, on the thread that emits."""
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._subscribers = [*self._subscribers, (callback, loop)]  # a new list: emitters iterate the old one

    def unsubscribe(self, callback: Listener) -> None:
        self._subscribers = [(c, lp) for c, lp in self._subscribers if c is not callback]

    def emit(self, event: Event) -> None:
        """Announce an event of the live layer (a peer that left, lateness) to subscribers."""
        self._publish(event)

    def _publish(self, event: Event) -> None:
        for callback, loop in self._subscribers:
            if loop is None:
                try:
                    callback(event)
                except Exception:  # a listener's bug is the listener's
                    self._listener_failed(callback)
                continue
            try:
                loop.call_soon_threadsafe(callback, event)
            except RuntimeError:  # that loop is closed: its listener is gone
                self.unsubscribe(callback)

    def _listener_failed(self, callback: Listener) -> None:
        log.exception("event listener %r failed", callback)
