"""A room's events: a bounded history and listeners that cannot hurt the room.

A live call produces a few events a second for hours, so the history keeps only the
latest ones (`dropped` counts the rest). A listener is the server's code: if it raises,
the exception is logged, reported as a ``listener_failed`` event to the history and to
the other listeners, and the room goes on; the event still reaches every later listener.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from vmedia.errors import InvalidInputError

log = logging.getLogger("vmedia.rooms")

HISTORY = 1000  # events kept; about seven minutes of a busy live call

Listener = Callable[[Any], object]


class EventHistory:
    """The last `maxlen` events, and the listeners each new event is handed to.

    `make_failure(listener, event, exc)` builds the event that reports a failed listener
    (the Room makes a ``listener_failed`` Event naming the listener and the exception).
    """

    def __init__(self, make_failure: Callable[[Listener, Any, Exception], Any], maxlen: int = HISTORY):
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise InvalidInputError(f"event history length must be an integer >= 1, got {maxlen!r}")
        self._events: deque[Any] = deque(maxlen=maxlen)
        self._listeners: list[Listener] = []
        self._make_failure = make_failure
        self._lock = threading.Lock()
        self.dropped = 0  # events that fell out of the history
        self.listener_failures = 0

    def subscribe(self, listener: Listener) -> None:
        if not callable(listener):
            raise InvalidInputError(f"an event listener must be callable, got {type(listener).__name__}")
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener not in self._listeners:
                raise InvalidInputError(f"{listener!r:.80} is not subscribed")
            self._listeners.remove(listener)

    def emit(self, event: Any) -> None:
        """Record `event` and hand it to every listener; never raises for a listener."""
        failures = self._deliver(event)
        # Failures are reported after the event reached everyone; a listener that fails
        # on a failure report is logged only, so a broken listener cannot loop.
        for failure in failures:
            self._deliver(failure, report=False)

    def _deliver(self, event: Any, *, report: bool = True) -> list[Any]:
        with self._lock:
            if len(self._events) == self._events.maxlen:
                self.dropped += 1
            self._events.append(event)
            listeners = list(self._listeners)
        failures = []
        for listener in listeners:
            try:
                listener(event)
            except Exception as e:  # noqa: BLE001  (the server's bug must not stop the room)
                self.listener_failures += 1
                log.exception("event listener %r failed on %r", listener, event)
                if report:
                    failures.append(self._make_failure(listener, event, e))
        return failures

    # The history reads like the list it used to be.
    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, i: int) -> Any:
        return self._events[i]

    @property
    def maxlen(self) -> int:
        return self._events.maxlen or 0
