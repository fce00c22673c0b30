"""The room's media clock: seconds of media time since the room went live.

Everything live is stamped on this one clock: the driver ticks on it and every incoming
track maps its own timestamps onto it (see vmedia.webrtc.playout), so one participant's
audio and video, and different participants, meet on the same time line.
"""

from __future__ import annotations

import time


class MediaClock:
    """Monotonic wall time, counted from `start` (a `time.monotonic()` reading; now if
    omitted). Thread-safe: reading it changes nothing."""

    def __init__(self, start: float | None = None):
        self.start = time.monotonic() if start is None else float(start)

    def now(self) -> float:
        """Media seconds now."""
        return time.monotonic() - self.start

    def at(self, monotonic: float) -> float:
        """Media seconds at a `time.monotonic()` reading (an arrival time, a deadline)."""
        return monotonic - self.start

    def monotonic(self, media: float) -> float:
        """The `time.monotonic()` reading at which media time `media` falls."""
        return self.start + media
