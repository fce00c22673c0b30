"""From a track's own timestamps to the room's media time, with a playout delay.

Each incoming track (one participant's audio, or its video) has its own clock: RTP
timestamps from a random origin, at 48 kHz, 8 kHz or 90 kHz. A frame stamped `pts`
seconds plays at media time `pts + base + delay + extra`:

- `base` is the fastest transit seen (arrival minus `pts`): the sender's clock against
  ours plus the shortest path. Frames keep the sender's spacing, jitter up to `delay` is
  absorbed, and frames that come out of order within it are released in order. Audio and
  video of one sender, each paced by its fastest frame, keep their capture alignment.
- `extra` is shared by the tracks of one sender (a SyncGroup). A frame that comes after
  its media time has been played is late: it is counted (`stats.late`) and dropped, and
  the whole group waits that much longer from then on, up to `max_extra`, giving it back
  slowly once the network calms down. The sender's audio and video stay in step while the
  delay adapts.
- Frames later than `max_extra` allows are dropped; if every frame is for JUMP_AFTER
  seconds (the sender's timestamps jumped back) the track starts over
  (`stats.resyncs`). A jump forward is just a new fastest frame. Either way the delay
  stays bounded.

No knowledge of aiortc or RTP here: `put` takes seconds, `due` hands frames back. `put`
runs on the thread that receives (the event loop), `due` on the tick thread.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from dataclasses import dataclass

from vmedia.errors import InvalidInputError


LATE_MARGIN = 0.005  # seconds added beyond a late frame's lateness when the group waits longer
SHRINK_STEP = 0.020  # seconds of extra delay given back per quiet window (one audio frame)
JUMP_AFTER = 1.0  # seconds of frames all late beyond max_extra before the track starts over


@dataclass
class PlayoutStats:
    received: int = 0  # frames put
    played: int = 0  # frames handed to the room
    late: int = 0  # frames that came after their media time had been played (dropped)
    reordered: int = 0  # frames that came before an earlier-stamped one, put back in order
    resyncs: int = 0  # re-anchors after a jump of the sender's clock


class SyncGroup:
    """The tracks of one sender share the delay they add after late frames, and give it
    back slowly (SHRINK_STEP per `window` seconds) once no frame has needed it for that long."""

    def __init__(self, max_extra: float = 0.3, window: float = 4.0):
        self.max_extra = float(max_extra)
        self.window = float(window)
        self.extra = 0.0  # seconds every track of the group waits beyond its own delay
        self._need = -math.inf  # the most extra any frame needed in the current window
        self._window_end: float | None = None

    def observe(self, need: float, arrival: float) -> None:
        """A frame arrived needing `need` seconds of extra delay to be on time."""
        self._need = max(self._need, need)
        if self._window_end is None:
            self._window_end = arrival + self.window
        elif arrival >= self._window_end:
            target = max(0.0, self._need + LATE_MARGIN)
            if target < self.extra:
                self.extra = max(target, self.extra - SHRINK_STEP)
            self._need = -math.inf
            self._window_end = arrival + self.window

    def wait_longer(self, by: float) -> bool:
        """A frame came `by` seconds late: all tracks wait that much longer. False when
        that would pass max_extra (a jump, not jitter)."""
        wanted = self.extra + by + LATE_MARGIN
        if wanted > self.max_extra:
            return False
        self.extra = wanted
        return True


class PlayoutBuffer:
    """One incoming track's playout: sender seconds -> media seconds, in order, on time."""

    def __init__(self, delay: float = 0.040, *, group: SyncGroup | None = None):
        if not 0 <= delay <= 2.0:
            raise InvalidInputError(f"playout delay must be 0..2 s, got {delay}")
        self.delay = float(delay)
        self.group = group or SyncGroup()
        self.stats = PlayoutStats()
        self._base: float | None = None  # fastest transit seen: arrival minus sender time
        self._heap: list = []  # (media time, order, item)
        self._order = itertools.count()
        self._played_until = -math.inf  # media time up to which the room has been fed
        self._newest_pts = -math.inf
        self._late_since: float | None = None  # arrival of the first of a run of hopelessly late frames
        self._lock = threading.Lock()

    def put(self, item, pts: float, arrival: float) -> float | None:
        """Queue `item`, stamped `pts` seconds by its sender, arrived at media time
        `arrival`. Returns the media time it will play at, or None if it came too late."""
        with self._lock:
            self.stats.received += 1
            transit = arrival - pts  # the sender's clock against ours, plus this frame's path
            if self._base is None or transit < self._base:
                self._base = transit  # the fastest frame so far sets the pace
            group = self.group
            t = pts + self._base + self.delay + group.extra
            group.observe(arrival - (t - group.extra), arrival)
            if t <= self._played_until:  # its moment has passed: drop it, the group waits longer
                self.stats.late += 1
                if not group.wait_longer(self._played_until - t):
                    # Beyond max_extra: a stall's burst (dropped, then on time again) or a
                    # jump back of the sender's clock (late for good): start over only then.
                    if self._late_since is None:
                        self._late_since = arrival
                    elif arrival - self._late_since > JUMP_AFTER:
                        self.stats.resyncs += 1
                        self._base = transit
                        self._late_since = None
                return None
            self._late_since = None
            if pts < self._newest_pts:
                self.stats.reordered += 1
            self._newest_pts = max(self._newest_pts, pts)
            heapq.heappush(self._heap, (t, next(self._order), item))
            return t

    def due(self, now: float) -> list[tuple[float, object]]:
        """Frames whose media time is <= now, oldest first; later puts at or before `now`
        count as late."""
        with self._lock:
            out = []
            while self._heap and self._heap[0][0] <= now:
                t, _, item = heapq.heappop(self._heap)
                out.append((t, item))
            self._played_until = max(self._played_until, now)
            self.stats.played += len(out)
            return out

    def __len__(self) -> int:
        return len(self._heap)
