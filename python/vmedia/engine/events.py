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
    MUTED_ALL = "muted_all"  # guests are muted, and join muted, until a host lifts it
    UNMUTED_ALL = "unmuted_all"
    MUTED = "muted"  # `actor` muted `participant` (themselves, or a host did)
    UNMUTED = "unmuted"
    LEFT_LOBBY = "left_lobby"  # a guest hung up while waiting
    REMOVED = "removed"  # a host disconnected `participant` (hang up their call)
    STAGE_CHANGED = "stage_changed"  # auditorium: `participant` came on stage or went back (detail)
    PIN_FAILED = "pin_failed"  # detail: wrong_pin | pin_required | backoff | locked_out, and the wait
    PIN_LOCKED_OUT = "pin_locked_out"  # a caller, or PIN entry to the whole room, is locked for a while
    RECORDING_STARTED = "recording_started"
    RECORDING_STOPPED = "recording_stopped"
    RECORDING_FAILED = "recording_failed"
    STREAMING_STARTED = "streaming_started"
    STREAMING_STOPPED = "streaming_stopped"
    STREAMING_FAILED = "streaming_failed"
    LISTENER_FAILED = "listener_failed"  # an event listener raised; detail names it and the exception
    AUDIT_FAILED = "audit_failed"  # the audit sink failed; the record waits for retry (detail)
    LATE = "late"  # the live driver fell behind: video frames skipped (detail: how late, how many)
    PEER_CLOSED = "peer_closed"  # a WebRTC peer's connection ended and it left (detail: why)
    NO_MEDIA = "no_media"  # a WebRTC peer connected but sends no audio or video
    RESTORED = "restored"  # the room was rebuilt from a snapshot after a failover (detail: how many are expected back)
    REJOIN_EXPIRED = "rejoin_expired"  # `participant`, expected back after a restore, did not rejoin in time

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Event:
    """`participant` is whom it is about; `time` the room's media time; `detail` free
    text; `actor` who did it, when someone did (a host admitting, muting, locking)."""

    kind: EventKind | str
    participant: str | None
    time: float
    detail: str = ""
    actor: str | None = None
