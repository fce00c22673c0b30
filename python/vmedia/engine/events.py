"""Typed events: what happened in a room, for the server to act on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class EventKind(str, Enum):
    """Event kinds. A str Enum: `event.kind == "joined"` works as well as EventKind.JOINED."""

    JOINED = "joined"  # a participant entered the room (admitted)
    LEFT = "left"
    WAITING = "waiting"  # a guest is in the lobby
    ADMITTED = "admitted"
    DENIED = "denied"
    SPEAKER_CHANGED = "speaker_changed"
    STARTED_SPEAKING = "started_speaking"
    STOPPED_SPEAKING = "stopped_speaking"
    LAYOUT_CHANGED = "layout_changed"
    KEYFRAME_NEEDED = "keyframe_needed"  # send PLI/FIR to `participant` (a sender)
    VIDEO_STALLED = "video_stalled"
    VIDEO_RESUMED = "video_resumed"
    STREAM_ERROR = "stream_error"  # a participant's media was broken; only it is affected
    PRESENTATION_STARTED = "presentation_started"
    PRESENTATION_STOPPED = "presentation_stopped"
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    MUTED_ALL = "muted_all"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Event:
    """`participant` is whom it is about; `time` the room's media time; `detail` free text."""

    kind: EventKind | str
    participant: str | None
    time: float
    detail: str = ""
