"""Driving a Room (or a bare Mixer) on the wall clock.

`LiveDriver` ticks the engine on a thread of its own, on the room's `MediaClock`. Before
each tick it runs the feeds (incoming tracks release what is due, on that same thread), and
after it the output listeners (outgoing tracks pick their packets). Control calls that must
not race a tick (join, leave) go through `call()` and run between two ticks.

Lateness policy: when the thread starts a tick more than `late_after` behind the clock (the
CPU could not keep up), it mixes all the audio that is due but skips the video frames that
are already past, reports how late it was (a "late" event and `stats`) and carries on from
the present. Audio is never dropped; video resumes with the newest pictures.

Events reach asyncio code thread-safely: `subscribe(callback, loop)` delivers each one with
`loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import queue
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from vmedia.engine.events import Event, EventKind
from vmedia.engine.output import TickOutput
from vmedia.errors import InvalidInputError
from vmedia.hosting.clock import MediaClock
from vmedia.hosting.fanout import EventFanout

log = logging.getLogger("vmedia.hosting.live")

Feed = Callable[[float], None]  # feed(t): push what is due by media time t (tick thread)
OutputListener = Callable[[TickOutput], None]  # called with every TickOutput (tick thread)


@dataclass
class LiveStats:
    """What the driver did; read from any thread (plain counters)."""

    ticks: int = 0  # engine ticks run, with or without video
    video_frames_dropped: int = 0  # output video frames skipped because the driver was late
    late_ticks: int = 0  # ticks that started more than `late_after` behind
    lateness: float = 0.0  # seconds behind the clock when the last tick started
    max_lateness: float = 0.0
    errors: int = 0  # exceptions raised by the engine, a feed or a listener (logged)
    recent: deque = field(default_factory=lambda: deque(maxlen=3000))  # lateness samples

    def lateness_percentile(self, q: float) -> float:
        """Lateness (seconds) at percentile q (0..100) over the recent ticks."""
        return float(np.percentile(list(self.recent), q)) if self.recent else 0.0


class LiveDriver(EventFanout):
    """Ticks `engine` (a Room or Mixer) every 1/fps seconds of `clock` on its own thread."""

    def __init__(self, engine, *, fps: int | None = None, late_after: float | None = None,
                 clock: MediaClock | None = None, late_event_interval: float = 1.0):
        mixer = getattr(engine, "mixer", engine)
        self.fps: int = int(fps or mixer.fps)
        if self.fps <= 0:
            raise InvalidInputError(f"fps must be positive, got {self.fps}")
        self.engine = engine
        self.late_after = 2.0 / self.fps if late_after is None else float(late_after)
        self.clock = clock or MediaClock()
        self._own_clock = clock is None  # restarted by start(): media time 0 is then
        self.stats = LiveStats()
        self._late_event_interval = late_event_interval
        self._last_late_event = -math.inf
        self._feeds: list[Feed] = []
        self._outputs: list[OutputListener] = []
        self._subscribers = []
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._until: float | None = None
        self.done = threading.Event()  # set when the thread has finished
        # A Room announces its own events (joins, lobby, speaker): forward those; a bare
        # Mixer only reports them in its TickOutput.
        self._room_events = hasattr(engine, "subscribe")
        if self._room_events:
            engine.subscribe(self._publish)

    # --- wiring (any thread) ------------------------------------------------------------
    def add_feed(self, feed: Feed) -> None:
        self._feeds = [*self._feeds, feed]  # copy-on-write: the tick thread iterates a snapshot

    def remove_feed(self, feed: Feed) -> None:
        self._feeds = [f for f in self._feeds if f is not feed]

    def add_output(self, listener: OutputListener) -> None:
        self._outputs = [*self._outputs, listener]

    def remove_output(self, listener: OutputListener) -> None:
        self._outputs = [f for f in self._outputs if f is not listener]

    def call(self, fn: Callable, *args, **kwargs) -> concurrent.futures.Future:
        """Run fn(*args) on the tick thread between two ticks (or at once when the driver
        is not running). Returns a Future with its result or exception."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        if self._thread is None or not self._thread.is_alive() or threading.current_thread() is self._thread:
            _run_into(fut, fn, args, kwargs)
            return fut
        self._calls.put((fut, fn, args, kwargs))
        self._wake.set()
        if not self._thread.is_alive():  # stopped meanwhile: nobody will drain the queue
            self._drain_calls()
        return fut

    async def run(self, fn: Callable, *args, **kwargs):
        """`call()` for asyncio code: await the result without blocking the loop."""
        return await asyncio.wrap_future(self.call(fn, *args, **kwargs))

    # --- running --------------------------------------------------------------------------
    def start(self, *, until: float | None = None) -> LiveDriver:
        """Start ticking from media time 0 now. `until`: stop after the tick at that time."""
        if self._thread is not None:
            raise InvalidInputError("the driver is already running")
        if self._own_clock:
            self.clock.start = MediaClock().start
        if hasattr(self.engine, "mixer"):
            self.engine.clock = self.clock  # pushes and servers read the room's clock
        self._until = until
        self._thread = threading.Thread(target=self._run, name="vmedia-live", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the tick in progress; pending `call()`s still run."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._drain_calls()

    def __enter__(self) -> LiveDriver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the tick thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            k = 0  # next output frame
            while not self._stopping:
                t = k / self.fps
                if self._until is not None and t > self._until + 1e-9:
                    break
                if self._wait_until(t):
                    continue  # woken for a call or a stop: re-check
                lateness = self.clock.now() - t
                self.stats.lateness = lateness
                self.stats.max_lateness = max(self.stats.max_lateness, lateness)
                self.stats.recent.append(lateness)
                if lateness > self.late_after:
                    # Behind: mix every audio frame due, skip the video frames already past.
                    latest = max(k, math.floor((t + lateness) * self.fps + 1e-9))
                    if self._until is not None:
                        latest = min(latest, max(k, math.floor(self._until * self.fps + 1e-9)))
                    self._tick(latest / self.fps, video=False)
                    dropped = latest - k + 1
                    self.stats.late_ticks += 1
                    self.stats.video_frames_dropped += dropped
                    self._report_late(latest / self.fps, lateness, dropped)
                    k = latest + 1
                else:
                    self._tick(t, video=True)
                    k += 1
        finally:
            self._drain_calls()
            self.done.set()

    def _wait_until(self, t: float) -> bool:
        """Sleep until media time t; True when woken early (a call to run, or stop)."""
        while True:
            self._drain_calls()
            if self._stopping:
                return True
            delay = self.clock.monotonic(t) - self.clock.monotonic(self.clock.now())
            if delay <= 0:
                return False
            if self._wake.wait(delay):
                self._wake.clear()

    def _drain_calls(self) -> None:
        while True:
            try:
                fut, fn, args, kwargs = self._calls.get_nowait()
            except queue.Empty:
                return
            _run_into(fut, fn, args, kwargs)

    def _tick(self, t: float, *, video: bool) -> None:
        for feed in self._feeds:
            self._guard(feed, t)
        try:
            out = self.engine.tick(t) if video else self.engine.tick(t, video=False)
        except Exception:  # one bad tick must not end the conference
            self.stats.errors += 1
            log.exception("tick at %.3f s failed", t)
            return
        self.stats.ticks += 1
        if not self._room_events:
            for event in getattr(out, "events", ()):
                self._publish(event)
        for listener in self._outputs:
            self._guard(listener, out)

    def _guard(self, fn, arg) -> None:
        try:
            fn(arg)
        except Exception:
            self.stats.errors += 1
            log.exception("live callback %r failed", fn)

    def _report_late(self, t: float, lateness: float, dropped: int) -> None:
        """An event (and a log line) at most every late_event_interval; stats always."""
        if t - self._last_late_event >= self._late_event_interval:
            self._last_late_event = t
            detail = f"{lateness * 1000:.0f} ms behind; skipped {dropped} video frame(s)"
            log.warning("live driver %s (%d frames skipped in all)", detail, self.stats.video_frames_dropped)
            self._publish(Event(EventKind.LATE, None, t, detail))

    def _listener_failed(self, callback) -> None:
        self.stats.errors += 1
        log.exception("live callback %r failed", callback)


def _run_into(fut: concurrent.futures.Future, fn, args, kwargs) -> None:
    if not fut.set_running_or_notify_cancel():
        return
    try:
        fut.set_result(fn(*args, **kwargs))
    except BaseException as e:  # handed to the caller, who awaits the future
        fut.set_exception(e)


async def run_live(engine, on_output: Callable[[TickOutput], Awaitable[None] | None], *, fps: int | None = None,
                   duration: float | None = None, late_after: float | None = None) -> None:
    """Drive `engine` with a LiveDriver and hand each TickOutput to `on_output` on this
    event loop, in order. Stops after `duration` seconds of media time, or when cancelled."""
    loop = asyncio.get_running_loop()
    outputs: asyncio.Queue = asyncio.Queue()
    driver = LiveDriver(engine, fps=fps, late_after=late_after)
    def hand_over(out: TickOutput) -> None:  # the tick thread -> this loop
        loop.call_soon_threadsafe(outputs.put_nowait, out)

    driver.add_output(hand_over)
    driver.start(until=duration)
    finished = loop.run_in_executor(None, driver.done.wait)
    try:
        while True:
            getter = asyncio.ensure_future(outputs.get())
            await asyncio.wait({getter, finished}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            result = on_output(getter.result())
            if asyncio.iscoroutine(result):
                await result
        while not outputs.empty():  # the last outputs, queued before the thread ended
            result = on_output(outputs.get_nowait())
            if asyncio.iscoroutine(result):
                await result
    finally:
        driver.stop()
        finished.cancel()

