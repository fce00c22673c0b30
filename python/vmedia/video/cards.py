"""Tile cards as tile sources: the audio-only participant, "+N" more people, and the
picture of an empty room. Drawn once per name and size (vmedia.media.labels), converted
to I420 once, shared read-only by every view that shows them."""

from __future__ import annotations

from functools import lru_cache

from vmedia.media import labels
from vmedia.media.frames import I420Frame


def _frozen(frame: I420Frame) -> I420Frame:
    for plane in frame.planes:
        plane.flags.writeable = False  # shared by every view: never drawn into
    return frame


@lru_cache(maxsize=256)
def audio_only(name: str, width: int, height: int) -> I420Frame:
    return _frozen(labels.to_frame(labels.audio_only_card(name, width, height)))


@lru_cache(maxsize=64)
def overflow(hidden: int, width: int, height: int) -> I420Frame:
    return _frozen(labels.to_frame(labels.overflow_card(hidden, width, height)))


@lru_cache(maxsize=16)
def alone(width: int, height: int) -> I420Frame:
    return _frozen(labels.to_frame(labels.alone_card(width, height)))
