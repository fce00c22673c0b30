"""RoomHost: many rooms in one process, on one clock, without one room delaying another.

The host owns what rooms share: a bounded pool of tick workers, a decode pool and a
compose context (the C++ compose workers and their tap-table cache), all sized to the
host's cores, and one cache of rendered labels and cards; each room's Mixer is given
them, so two hosts in one process share nothing. Compose runs on the tick worker with
`compose_threads` threads per room (see RoomHost). A scheduler thread
starts each room's tick when it is due; a room has at most one tick in flight, so a room
that overruns holds one worker at most and the others keep their time.

A room whose ticks overrun their frame interval is reported (an OVERRUN event, `stats()`)
and degrades itself: its video frame rate steps down (30 -> 15 -> 10 -> 5 fps at 30 fps
profiles) and steps back up once its ticks fit again. It is still ticked every frame
interval, mixing its audio (never dropped, never bunched up for the peers), and composes
only every 2nd, 3rd, 6th frame.

Accounting: each room's CPU time is the thread CPU time of its ticks plus that of its
decodes in the shared pool (sink writer threads and muxer processes are not counted).
Admission: a new room is refused with CapacityError when the cost model's estimate of all
rooms (vmedia.hosting.costs) would exceed the host's budget.

Offline (`run_until`) the same scheduler steps every room through media time as fast as
the CPU allows, all rooms of one instant in parallel, deterministically.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from vmedia import _core
from vmedia.codecs.video import OutputProfile
from vmedia.engine.mixer import Mixer
from vmedia.engine.output import TickOutput
from vmedia.errors import CapacityError, InvalidInputError, RoomNotFound, VmediaError
from vmedia.hosting import costs
from vmedia.hosting.clock import MediaClock
from vmedia.media.time import EPS
from vmedia.rooms.room import Room
from vmedia.video.label_cache import LabelCache

if TYPE_CHECKING:  # hosted.py imports this module
    from vmedia.hosting.hosted import HostedRoom

log = logging.getLogger("vmedia.hosting.host")

FRAME_DIVISORS = (1, 2, 3, 6)  # degrade levels: every frame, every 2nd, 3rd, 6th (30 -> 15 -> 10 -> 5 fps)
OVERRUNS_TO_DEGRADE = 3  # overruns within OVERRUN_WINDOW that step the frame rate down
OVERRUN_WINDOW = 1.0  # seconds of media time
RESTORE_AFTER = 2.0  # seconds of media time of ticks that fit the faster rate before stepping up
RESTORE_HEADROOM = 0.5  # a tick fits the faster rate when it takes under this share of its interval
WARMUP = 1.0  # seconds of media at a room's start whose slow ticks are not judged
LATENESS_SAMPLES = 3000  # per room, for the percentiles


class HostEventKind(str, Enum):
    ROOM_ADDED = "room_added"
    ROOM_REMOVED = "room_removed"
    OVERRUN = "overrun"  # a tick took longer than its frame interval, or started late
    DEGRADED = "degraded"  # the room's video frame rate stepped down (detail: the new fps)
    RESTORED = "restored"  # ... and back up
    TICK_FAILED = "tick_failed"  # the room's tick or one of its listeners raised (logged)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class HostEvent:
    kind: HostEventKind
    room: str
    time: float  # the room's media time
    detail: str = ""


@dataclass(frozen=True)
class RoomStats:
    """One room's share of the host. CPU-seconds per media-second: 0.25 is a quarter core."""

    room: str
    participants: int
    ticks: int
    media_seconds: float
    cpu_seconds: float
    decode_cpu_seconds: float  # part of cpu_seconds spent in the shared decode pool
    cpu_per_media_second: float
    estimated_cpu: float  # the cost model's figure for the room at its declared size
    lateness_p50: float  # seconds a tick started after it was due (live only)
    lateness_p99: float
    max_tick_seconds: float
    overruns: int
    errors: int
    fps: float  # video frame rate now (lower while degraded)
    video_frames_dropped: int  # output frames skipped by degrading or lateness


class _Slot:
    """A room on the host: its engine, schedule and accounts. The tick lock is held during
    the room's tick and by control calls, which therefore run between ticks."""

    def __init__(self, room_id: str):
        self.id = room_id
        self.engine: Any = None  # a Room or Mixer, set by bind() once built with this slot's pool
        self.mixer: Mixer
        self.fps = 30
        self.participants = 0
        self.estimate: costs.RoomCost
        self.tick_lock = threading.Lock()
        self.busy = False
        self.removed = False
        self.last_frame = -1  # the last output frame index ticked
        self.level = 0  # index into FRAME_DIVISORS
        self.feeds: list[Callable[[float], None]] = []
        self.outputs: list[Callable[[TickOutput], None]] = []
        self.ticks = 0
        self.first_time: float | None = None
        self.media_time = 0.0
        self.cpu = 0.0
        self._decode_cpu = 0.0
        self._decode_lock = threading.Lock()
        self.lateness: deque = deque(maxlen=LATENESS_SAMPLES)
        self.max_tick = 0.0
        self.last_tick_seconds = 0.0
        self.composed = True  # the last tick drew its video frame
        self.overruns = 0
        self.errors = 0
        self.dropped = 0
        self.recent_overruns: deque = deque()
        self.calm_since: float | None = None

    def bind(self, engine, participants: int, estimate: costs.RoomCost) -> None:
        self.engine = engine
        self.mixer = getattr(engine, "mixer", engine)
        self.fps = self.mixer.fps
        self.participants, self.estimate = participants, estimate

    @property
    def divisor(self) -> int:
        return FRAME_DIVISORS[self.level]

    def next_frame(self) -> int:
        """The next output frame: every frame is ticked (audio never waits); while degraded
        only every divisor-th one is composed."""
        return self.last_frame + 1

    def add_decode_cpu(self, seconds: float) -> None:
        with self._decode_lock:
            self._decode_cpu += seconds

    @property
    def decode_cpu(self) -> float:
        with self._decode_lock:
            return self._decode_cpu


class _AccountedPool(concurrent.futures.Executor):
    """The host's decode pool as one room sees it: jobs run on the shared threads and
    their thread CPU time is booked to the room. Shutting it down leaves the pool alone."""

    def __init__(self, pool: concurrent.futures.Executor, slot: _Slot):
        self._pool, self._slot = pool, slot

    def submit(self, fn, /, *args, **kwargs):
        slot = self._slot

        def run():
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                slot.add_decode_cpu(time.thread_time() - start)

        return self._pool.submit(run)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass  # the host owns the threads


class RoomHost:
    """Many rooms in one process. `cores`: how many cores the host may use (all by
    default); `utilization`: the share of them admission lets the cost model fill;
    `compose_threads`: threads each room's compose may use, its tick worker and idle
    compose workers of the host (default: as many as the host's compose context has, its
    cores up to 16; docs/scaling.md has the measurement)."""

    def __init__(self, *, cores: int | None = None, utilization: float = 0.8, workers: int | None = None,
                 late_after: float | None = None, clock: MediaClock | None = None,
                 compose_threads: int | None = None):
        self.cores = int(cores or os.cpu_count() or 1)
        if self.cores < 1:
            raise InvalidInputError(f"cores must be >= 1, got {cores}")
        if not 0.0 < utilization <= 1.0:
            raise InvalidInputError(f"utilization must be in (0, 1], got {utilization}")
        self.budget = self.cores * utilization  # CPU-seconds per media-second admission may hand out
        if compose_threads is not None and (isinstance(compose_threads, bool) or not isinstance(compose_threads, int)
                                            or not 1 <= compose_threads <= _core.MAX_THREADS):
            raise InvalidInputError(f"compose_threads must be 1..{_core.MAX_THREADS}, got {compose_threads!r:.40}")
        self.late_after = late_after  # None: two frame intervals of each room
        self.clock = clock or MediaClock()
        # A tick waits for its room's decodes, so ticks and decodes need pools of their own.
        n = workers or max(2, self.cores)
        self._tick_pool = concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix="vmedia-host-tick")
        self._decode_pool = concurrent.futures.ThreadPoolExecutor(self.cores, thread_name_prefix="vmedia-host-decode")
        self.compose_workers = _core.ComposeContext(min(self.cores, _core.MAX_THREADS))
        self.compose_threads = compose_threads or self.compose_workers.threads
        self.label_cache = LabelCache()
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[HostEvent], None]] = []
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._closed = False
        self._live = False

    # --- rooms ----------------------------------------------------------------------------
    def create_room(self, room_id: str, room_type: str = "administrative", *, participants: int,
                    visible: int | None = None, **room_options) -> Room:
        """A Room on this host, sized for `participants` people (`visible` of them shown);
        refused with CapacityError when the estimate does not fit."""
        self._check_new(room_id)
        slot = _Slot(room_id)
        room = Room(room_type, name=room_options.pop("name", room_id), **self._shared(slot), **room_options)
        return self._adopt(slot, room, participants, visible)

    def restore_room(self, room_id: str, snapshot: dict, *, participants: int, visible: int | None = None,
                     **room_options) -> Room:
        """A Room rebuilt from `Room.snapshot()` (a room whose process died, restarted
        here): its members are expected back (vmedia.rooms.snapshot)."""
        self._check_new(room_id)
        slot = _Slot(room_id)
        room = Room.restore(snapshot, **self._shared(slot), **room_options)
        return self._adopt(slot, room, participants, visible)

    def create_mixer(self, room_id: str, profiles: list[OutputProfile], *, participants: int,
                     visible: int | None = None, **mixer_options) -> Mixer:
        """A bare Mixer on this host (a room without policy: benchmarks, composites)."""
        self._check_new(room_id)
        slot = _Slot(room_id)
        mixer = Mixer(profiles, name=mixer_options.pop("name", room_id), **self._shared(slot), **mixer_options)
        return self._adopt(slot, mixer, participants, visible)

    def remove_room(self, room_id: str) -> TickOutput:
        """Stop ticking the room and close it (after the tick in flight)."""
        with self._lock:
            slot = self._slot(room_id)
            del self._slots[room_id]
            slot.removed = True
        with slot.tick_lock:
            out = slot.engine.close()  # a Room also finishes its recordings and audit log
        self._emit(HostEvent(HostEventKind.ROOM_REMOVED, room_id, slot.media_time))
        return out

    def room(self, room_id: str):
        """The Room (or Mixer) hosted as `room_id`."""
        with self._lock:
            return self._slot(room_id).engine

    @property
    def rooms(self) -> list[str]:
        with self._lock:
            return list(self._slots)

    def call(self, room_id: str, fn: Callable, *args, **kwargs):
        """Run fn(*args) between two ticks of the room (control: join, admit, lock)."""
        with self._lock:
            slot = self._slot(room_id)
        with slot.tick_lock:
            return fn(*args, **kwargs)

    def add_feed(self, room_id: str, feed: Callable[[float], None]) -> None:
        """Call feed(t) on the tick worker before each of the room's ticks at media time t
        (playout buffers and test senders push what is due)."""
        with self._lock:
            slot = self._slot(room_id)
            slot.feeds = [*slot.feeds, feed]

    def remove_feed(self, room_id: str, feed: Callable[[float], None]) -> None:
        with self._lock:
            slot = self._slot(room_id)
            slot.feeds = [f for f in slot.feeds if f is not feed]

    def remove_output(self, room_id: str, listener: Callable[[TickOutput], None]) -> None:
        with self._lock:
            slot = self._slot(room_id)
            slot.outputs = [f for f in slot.outputs if f is not listener]

    def call_soon(self, room_id: str, fn: Callable, *args, **kwargs) -> concurrent.futures.Future:
        """call() without waiting: fn runs on a host worker between two of the room's
        ticks; the Future carries its result or exception."""
        with self._lock:
            slot = self._slot(room_id)

        def run():
            with slot.tick_lock:
                return fn(*args, **kwargs)

        return self._tick_pool.submit(run)

    def driver(self, room_id: str) -> HostedRoom:
        """The room as a LiveDriver-shaped handle (vmedia.hosting.hosted.HostedRoom), for
        the WebRTC layer: make_app(room, driver=host.driver(room_id))."""
        from vmedia.hosting.hosted import HostedRoom

        return HostedRoom(self, room_id)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add_output(self, room_id: str, listener: Callable[[TickOutput], None]) -> None:
        """Call listener(out) with each of the room's TickOutputs, on a tick worker; a slow
        listener slows (and degrades) its own room only."""
        with self._lock:
            slot = self._slot(room_id)
            slot.outputs = [*slot.outputs, listener]

    def subscribe(self, listener: Callable[[HostEvent], None]) -> None:
        """Host events (overruns, degrading, failures), called on the thread that saw them."""
        self._listeners = [*self._listeners, listener]

    # --- budget ---------------------------------------------------------------------------
    def estimated_load(self) -> float:
        """The cost model's CPU-seconds per media-second of every room at its declared size
        (or its present size, if more people came)."""
        with self._lock:
            return sum(self._room_estimate(s).total for s in self._slots.values())

    def headroom(self) -> float:
        """CPU-seconds per media-second admission can still hand out."""
        return self.budget - self.estimated_load()

    # --- running: live --------------------------------------------------------------------
    def start(self) -> RoomHost:
        """Tick every room on the wall clock from media time 0 now, until stop()."""
        if self._thread is not None:
            raise InvalidInputError("the host is already running")
        if self._closed:
            raise VmediaError("the host is closed")
        self.clock.start = MediaClock().start
        self._live = True
        for slot in self._slots.values():
            self._bind_clock(slot)
        self._thread = threading.Thread(target=self._schedule, name="vmedia-host", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop scheduling and wait for the ticks in flight."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:  # the ticks in flight
            with slot.tick_lock:
                pass

    def close(self) -> None:
        """Stop, close every room and release the host's threads."""
        self.stop()
        for room_id in self.rooms:
            self.remove_room(room_id)
        self._tick_pool.shutdown(wait=True)
        self._decode_pool.shutdown(wait=True)
        self.compose_workers.close()
        self.label_cache.clear()
        self._closed = True

    def __enter__(self) -> RoomHost:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- running: offline -----------------------------------------------------------------
    def run_until(self, t: float) -> None:
        """Offline: tick every room through media time t as fast as the CPU allows. The
        rooms due at one instant tick in parallel; the next instant waits for them all."""
        if self._thread is not None:
            raise InvalidInputError("the host is running live; run_until is for the offline clock")
        while True:
            with self._lock:
                slots = list(self._slots.values())
            if not slots:
                return
            step = min(s.next_frame() / s.fps for s in slots)
            if step > t + EPS:
                return
            due = [s for s in slots if s.next_frame() / s.fps <= step + EPS]
            jobs = [self._tick_pool.submit(self._tick, s, s.next_frame(), None) for s in due]
            for job in jobs:
                job.result()

    # --- statistics -----------------------------------------------------------------------
    def stats(self) -> dict[str, RoomStats]:
        """Each room's accounts, by room id (read from any thread)."""
        with self._lock:
            slots = list(self._slots.values())
        return {s.id: self._stats_of(s) for s in slots}

    def _stats_of(self, s: _Slot) -> RoomStats:
        media = s.media_time - (s.first_time or 0.0) + (1.0 / s.fps if s.ticks else 0.0)
        cpu = s.cpu + s.decode_cpu
        late = np.array(list(s.lateness) or [0.0])  # list(): one copy while a worker may append
        return RoomStats(
            room=s.id, participants=len(s.mixer.participants), ticks=s.ticks, media_seconds=media,
            cpu_seconds=cpu, decode_cpu_seconds=s.decode_cpu, cpu_per_media_second=cpu / media if media > 0 else 0.0,
            estimated_cpu=self._room_estimate(s).total, lateness_p50=float(np.percentile(late, 50)),
            lateness_p99=float(np.percentile(late, 99)), max_tick_seconds=s.max_tick, overruns=s.overruns,
            errors=s.errors, fps=s.fps / s.divisor, video_frames_dropped=s.dropped,
        )

    # --- internals ------------------------------------------------------------------------
    def _check_new(self, room_id: str) -> None:
        if not isinstance(room_id, str) or not room_id:
            raise InvalidInputError(f"a room id must be a non-empty string, got {room_id!r}")
        if self._closed:
            raise VmediaError("the host is closed")
        with self._lock:
            if room_id in self._slots:
                raise InvalidInputError(f"room {room_id!r} is already on this host")

    def _shared(self, slot: _Slot) -> dict[str, Any]:
        """What the host gives each room's Mixer: its pools and caches."""
        return dict(decode_pool=_AccountedPool(self._decode_pool, slot), compose_workers=self.compose_workers,
                    compose_threads=self.compose_threads, label_cache=self.label_cache)

    def _adopt(self, slot: _Slot, engine, participants: int, visible: int | None):
        room_id = slot.id
        mixer: Mixer = getattr(engine, "mixer", engine)
        if not isinstance(participants, int) or participants < 1:
            mixer.close()
            raise InvalidInputError(f"participants must be a positive int (the room's expected size), got {participants!r}")
        layout, self_view, views = mixer.view_rules
        estimate = costs.estimate(participants, mixer.profiles, layout=layout, self_view=self_view, views=views,
                                  visible=visible, fps=mixer.fps)
        slot.bind(engine, participants, estimate)
        with self._lock:
            if room_id in self._slots:
                mixer.close()
                raise InvalidInputError(f"room {room_id!r} is already on this host")
            load = sum(self._room_estimate(s).total for s in self._slots.values())
            if load + estimate.total > self.budget + 1e-9:
                mixer.close()
                raise CapacityError(
                    f"room {room_id!r} does not fit: it needs about {estimate.total:.2f} CPU "
                    f"({participants} participants, {estimate.views} view encode(s) per frame), "
                    f"and {max(0.0, self.budget - load):.2f} of this host's {self.budget:.2f} are left"
                )
            if self._thread is not None:  # live: start at the present, not at media time 0
                slot.last_frame = math.floor(self.clock.now() * slot.fps) - 1
                self._bind_clock(slot)
            self._slots[room_id] = slot
        self._wake.set()
        self._emit(HostEvent(HostEventKind.ROOM_ADDED, room_id, 0.0, f"estimated {estimate.total:.2f} CPU"))
        return engine

    def _bind_clock(self, slot: _Slot) -> None:
        if hasattr(slot.engine, "mixer"):
            slot.engine.clock = self.clock  # live pushes and servers read the room's clock

    def _room_estimate(self, s: _Slot) -> costs.RoomCost:
        now = len(s.mixer.participants)
        if now <= s.participants:
            return s.estimate
        layout, self_view, views = s.mixer.view_rules
        return costs.estimate(now, s.mixer.profiles, layout=layout, self_view=self_view, views=views, fps=s.fps)

    def _slot(self, room_id: str) -> _Slot:
        slot = self._slots.get(room_id) if isinstance(room_id, str) else None
        if slot is None:
            raise RoomNotFound(f"no room {room_id!r} on this host; it has {sorted(self._slots)}")
        return slot

    def _schedule(self) -> None:
        """Start each idle room's tick when its next frame is due."""
        while not self._stopping:
            now = self.clock.now()
            wake_at = now + 0.1
            with self._lock:
                slots = list(self._slots.values())
            for slot in slots:
                if slot.busy:
                    continue
                due = slot.next_frame() / slot.fps
                if due <= now:
                    slot.busy = True
                    self._tick_pool.submit(self._tick, slot, slot.next_frame(), due)
                else:
                    wake_at = min(wake_at, due)
            delay = wake_at - self.clock.now()
            if delay > 0 and self._wake.wait(delay):
                self._wake.clear()

    def _tick(self, slot: _Slot, frame: int, due: float | None) -> None:
        """Tick one room at `frame` (live: catch up to the present first); on a tick worker."""
        try:
            with slot.tick_lock:
                if slot.removed:
                    return
                lateness = 0.0
                if due is not None:  # live: a late start catches up to the newest frame due
                    lateness = self.clock.now() - due
                    frame = max(frame, math.floor(self.clock.now() * slot.fps + EPS))
                    slot.lateness.append(lateness)
                self._run_tick(slot, frame)
                if due is not None:
                    self._judge(slot, lateness)
        finally:
            slot.busy = False
            self._wake.set()

    def _run_tick(self, slot: _Slot, frame: int) -> None:
        t = frame / slot.fps
        skipped = frame - slot.last_frame - 1
        slot.composed = frame % slot.divisor == 0  # degraded: the frames between are mixed, not drawn
        wall = time.perf_counter()
        cpu = time.thread_time()
        for feed in slot.feeds:
            try:
                feed(t)
            except Exception as e:
                self._failed(slot, t, f"feed {feed!r} failed: {e!r}")
        try:
            if skipped > 0:  # frames missed while late: their audio is mixed, their video skipped
                slot.engine.tick((frame - 1) / slot.fps, video=False)
            slot.dropped += skipped + (not slot.composed)
            out = slot.engine.tick(t, video=slot.composed)
        except Exception as e:  # one room's failure stays in that room
            self._failed(slot, t, f"tick failed: {e!r}")
            out = None
        for listener in slot.outputs if out is not None else ():
            try:
                listener(out)
            except Exception as e:
                self._failed(slot, t, f"output listener {listener!r} failed: {e!r}")
        slot.cpu += time.thread_time() - cpu
        slot.last_tick_seconds = time.perf_counter() - wall
        slot.max_tick = max(slot.max_tick, slot.last_tick_seconds)
        slot.last_frame = frame
        slot.ticks += 1
        slot.first_time = t if slot.first_time is None else slot.first_time
        slot.media_time = t

    def _judge(self, slot: _Slot, lateness: float) -> None:
        """Overrun bookkeeping and the frame-rate steps, after a live tick."""
        # A composed frame may take the degraded interval; the mixed-only ticks between are cheap.
        interval = (slot.divisor if slot.composed else 1) / slot.fps
        late_after = self.late_after if self.late_after is not None else 2.0 / slot.fps
        t = slot.media_time
        if slot.first_time is not None and t - slot.first_time < WARMUP:
            return  # the first frames open the encoders: slow once, not a sign of overload
        if slot.last_tick_seconds > interval or lateness > late_after:
            slot.overruns += 1
            slot.calm_since = None
            slot.recent_overruns.append(t)
            while slot.recent_overruns and slot.recent_overruns[0] < t - OVERRUN_WINDOW:
                slot.recent_overruns.popleft()
            if len(slot.recent_overruns) == 1:  # the first of a burst is reported, not each
                self._emit(HostEvent(HostEventKind.OVERRUN, slot.id, t,
                                     f"tick took {slot.last_tick_seconds * 1000:.0f} ms, started "
                                     f"{max(lateness, 0) * 1000:.0f} ms late; the frame interval is {interval * 1000:.0f} ms"))
            if len(slot.recent_overruns) >= OVERRUNS_TO_DEGRADE and slot.level + 1 < len(FRAME_DIVISORS):
                slot.level += 1
                slot.recent_overruns.clear()
                self._emit(HostEvent(HostEventKind.DEGRADED, slot.id, t, f"video at {slot.fps / slot.divisor:g} fps"))
            return
        if slot.level == 0 or not slot.composed:
            return
        faster = FRAME_DIVISORS[slot.level - 1] / slot.fps
        if slot.last_tick_seconds > RESTORE_HEADROOM * faster:
            slot.calm_since = None
        elif slot.calm_since is None:
            slot.calm_since = t
        elif t - slot.calm_since >= RESTORE_AFTER:
            slot.level -= 1
            slot.calm_since = None
            self._emit(HostEvent(HostEventKind.RESTORED, slot.id, t, f"video at {slot.fps / slot.divisor:g} fps"))

    def _failed(self, slot: _Slot, t: float, detail: str) -> None:
        slot.errors += 1
        log.error("room %s at %.3f s: %s", slot.id, t, detail, exc_info=True)
        self._emit(HostEvent(HostEventKind.TICK_FAILED, slot.id, t, detail))

    def _emit(self, event: HostEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("host listener %r failed", listener)

