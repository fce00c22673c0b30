"""Rendered text pictures kept between frames: name labels, tile cards (audio-only, "+N",
alone) and the lobby's holding picture.

Pillow draws each once per name and size; a LabelCache keeps them, bounded by count and
by pixel bytes (the least recently used go first), and shares them read-only with every
view that shows them. Whoever owns rooms owns one: a RoomHost makes one for its rooms, so
two hosts never hold each other's participants' names; a Mixer given none uses the
module's default cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from vmedia.errors import InvalidInputError
from vmedia.media.frames import I420Frame
from vmedia.video import cards
from vmedia.video.compositor import Overlay
from vmedia.video.holding import holding_picture

DEFAULT_ENTRIES = 1024
DEFAULT_BYTES = 64 << 20
T = TypeVar("T", Overlay, I420Frame)


@dataclass(frozen=True)
class LabelCacheStats:
    """What a LabelCache holds and how it has been used."""

    entries: int
    bytes: int  # pixel bytes of the pictures held
    max_entries: int
    max_bytes: int
    hits: int
    misses: int
    evictions: int


def _arrays(picture: Overlay | I420Frame) -> tuple[np.ndarray, ...]:
    if isinstance(picture, Overlay):
        return (picture.y, picture.u, picture.v, picture.alpha)
    return picture.planes


class LabelCache:
    """Rendered labels and cards, at most `max_entries` pictures and `max_bytes` pixel bytes.
    Pictures it returns are read-only (shared by every view that shows them)."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES, max_bytes: int = DEFAULT_BYTES):
        for value, what in ((max_entries, "max_entries"), (max_bytes, "max_bytes")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInputError(f"{what} must be a non-negative int, got {value!r:.40}")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._lock = threading.Lock()  # rooms on a host look up from several tick workers
        self._entries: OrderedDict[tuple, tuple[Overlay | I420Frame, int]] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0

    def label(self, text: str, size: int, *, max_width: int | None = None, color: str = "#FFFFFF",
              box: str = "#000000", box_alpha: int = 150) -> Overlay:
        """A name label (Overlay.text), at most max_width pixels wide."""
        return self._get(("label", text, size, max_width, color, box, box_alpha),
                         lambda: Overlay.text(text, size=size, color=color, box=box, box_alpha=box_alpha,
                                              max_width=max_width))

    def audio_only(self, name: str, width: int, height: int) -> I420Frame:
        """An audio-only participant's card at a tile's size (cards.audio_only)."""
        return self._get(("audio_only", name, width, height), lambda: cards.audio_only(name, width, height))

    def overflow(self, hidden: int, width: int, height: int) -> I420Frame:
        """The "+N" card (cards.overflow)."""
        return self._get(("overflow", hidden, width, height), lambda: cards.overflow(hidden, width, height))

    def alone(self, width: int, height: int) -> I420Frame:
        """The picture of an empty room (cards.alone)."""
        return self._get(("alone", width, height), lambda: cards.alone(width, height))

    def holding(self, width: int, height: int, room_name: str) -> I420Frame:
        """The lobby's holding picture (vmedia.video.holding)."""
        return self._get(("holding", width, height, room_name), lambda: holding_picture(width, height, room_name))

    def stats(self) -> LabelCacheStats:
        """Entries, pixel bytes, bounds, hits, misses, evictions."""
        with self._lock:
            return LabelCacheStats(len(self._entries), self._bytes, self.max_entries, self.max_bytes, self._hits,
                                   self._misses, self._evictions)

    def clear(self) -> None:
        """Drop every picture (a closing host: its rooms' names go with it)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _get(self, key: tuple, render: Callable[[], T]) -> T:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._hits += 1
                self._entries.move_to_end(key)
                return found[0]  # type: ignore[return-value]
            self._misses += 1
        # Rendered outside the lock: Pillow takes milliseconds, other rooms keep looking up.
        picture = render()
        arrays = _arrays(picture)
        for a in arrays:
            a.flags.writeable = False  # shared by every view that shows it: never drawn into
        size = sum(a.nbytes for a in arrays)
        with self._lock:
            if size > self.max_bytes or self.max_entries == 0 or key in self._entries:
                return picture
            while self._entries and (len(self._entries) >= self.max_entries or self._bytes + size > self.max_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
                self._evictions += 1
            self._entries[key] = (picture, size)
            self._bytes += size
        return picture


default_label_cache = LabelCache()
