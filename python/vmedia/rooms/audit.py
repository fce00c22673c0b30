"""The audit log of a room: who did what to whom, when, and whether it was allowed.

A health service must be able to answer afterwards who joined, who let whom in, who was
refused, who muted, locked, recorded or streamed. Each answer is one AuditRecord with the
wall-clock time (UTC, ISO 8601), the actor, the action, the target and the outcome,
denials included. Records carry ids, display names and short reasons; never media and
never a PIN (the Room never hands one to the log, and nothing here accepts bytes).

Records go to a sink: a JSON Lines file (appended, one record per line, flushed per
record) or any callable. A sink that fails does not break the room: the record is kept
in a bounded backlog and retried with the next one, and the failure is reported through
`on_error` (the Room turns it into an ``audit_failed`` event) and the log.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from enum import Enum

from vmedia.errors import InvalidInputError

log = logging.getLogger("vmedia.rooms.audit")

MAX_DETAIL = 200  # characters; details are reasons and names, not payloads
BACKLOG = 1000  # records kept for retry while a sink fails


class Action(str, Enum):
    JOIN = "join"
    LEAVE = "leave"
    REMOVE = "remove"  # a host removed someone
    PIN_FAILED = "pin_failed"
    PIN_LOCKOUT = "pin_lockout"
    ADMIT = "admit"
    REJECT = "reject"
    LOCK = "lock"
    UNLOCK = "unlock"
    MUTE = "mute"
    UNMUTE = "unmute"
    MUTE_ALL = "mute_all"
    UNMUTE_ALL = "unmute_all"
    STAGE_ON = "stage_on"
    STAGE_OFF = "stage_off"
    PRESENTATION_START = "presentation_start"
    PRESENTATION_STOP = "presentation_stop"
    RECORDING_START = "recording_start"
    RECORDING_STOP = "recording_stop"
    STREAMING_START = "streaming_start"
    STREAMING_STOP = "streaming_stop"
    RESTORED = "restored"  # the room was rebuilt from a snapshot after a failover
    AUTHENTICATE = "authenticate"  # a request acting as a participant, checked against its token


class Outcome(str, Enum):
    OK = "ok"
    DENIED = "denied"  # the actor was not allowed (role, lock, capacity, PIN)
    INVALID = "invalid"  # the request named nobody in the room, or was malformed
    FAILED = "failed"  # allowed, but it broke (a recording whose disk filled up)


@dataclass(frozen=True)
class AuditRecord:
    time: str  # UTC, ISO 8601 with milliseconds, e.g. 2026-11-25T09:30:00.123Z
    room: str | None
    actor: str | None  # who did it (None: the room itself)
    action: str
    target: str | None  # whom or what it was done to
    outcome: str
    detail: str = ""

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def to_json(self) -> str:
        # ensure_ascii: U+2028 and friends stay escaped, so one record is always one line
        return json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":"))


def utc_iso(t: float) -> str:
    """Seconds since the epoch as UTC ISO 8601 with milliseconds and a Z."""
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLinesFile:
    """Appends each record as one JSON line and flushes it before returning. Created with
    owner-only permissions: the log names patients."""

    def __init__(self, path: str | os.PathLike, *, fsync: bool = False):
        self.path = os.fspath(path)
        self.fsync = fsync
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as e:
            raise InvalidInputError(f"cannot open audit log {self.path!r}: {e.strerror}") from e
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def __call__(self, record: AuditRecord) -> None:
        self._file.write(record.to_json() + "\n")  # one write per line: O_APPEND keeps lines whole
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


AuditSink = Callable[[AuditRecord], object]


class AuditLog:
    """A thread-safe writer of AuditRecords to one sink.

    `sink` is a path (JSON Lines), a callable receiving each AuditRecord, or None (records
    are made and returned but go nowhere). `wall_clock` gives seconds since the epoch.
    """

    def __init__(
        self,
        sink: str | os.PathLike | AuditSink | None,
        *,
        room: str | None = None,
        wall_clock: Callable[[], float] = time.time,
        on_error: Callable[[Exception, AuditRecord], None] | None = None,
        backlog: int = BACKLOG,
    ):
        self._owned: JsonLinesFile | None = None
        if sink is None or callable(sink):
            self._sink = sink
        elif isinstance(sink, (str, os.PathLike)):
            self._owned = self._sink = JsonLinesFile(sink)
        else:
            raise InvalidInputError(f"audit must be a file path or a callable, got {type(sink).__name__}")
        self.room = room
        self._clock = wall_clock
        self._on_error = on_error
        self._lock = threading.Lock()
        self._pending: deque[AuditRecord] = deque()
        self._backlog = backlog
        self.failures = 0  # sink calls that raised
        self.dropped = 0  # records lost because the backlog was full

    @property
    def pending(self) -> int:
        """Records waiting for a failing sink to recover."""
        return len(self._pending)

    def record(
        self,
        action: Action | str,
        *,
        actor: str | None = None,
        target: str | None = None,
        outcome: Outcome | str = Outcome.OK,
        detail: str = "",
    ) -> AuditRecord:
        """Write one record (after any backlog) and return it. Never raises for a sink
        failure: that goes to `on_error` and the log."""
        try:
            action, outcome = Action(action), Outcome(outcome)
        except ValueError as e:
            raise InvalidInputError(f"audit: {e}") from None
        for name, v in (("actor", actor), ("target", target)):
            if v is not None and not isinstance(v, str):
                raise InvalidInputError(f"audit {name} must be a str or None, got {type(v).__name__}")
        if not isinstance(detail, str):
            raise InvalidInputError(f"audit detail must be a str, got {type(detail).__name__}")
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 1] + "…"
        error: Exception | None = None
        with self._lock:
            rec = AuditRecord(utc_iso(self._clock()), self.room, actor, action.value, target, outcome.value, detail)
            if self._sink is None:
                return rec
            if len(self._pending) >= self._backlog:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(rec)
            while self._pending:
                try:
                    self._sink(self._pending[0])
                except Exception as e:  # noqa: BLE001  (any sink failure is reported, none breaks the room)
                    self.failures += 1
                    error = e
                    break
                self._pending.popleft()
        if error is not None:
            log.error("audit sink failed (%d records waiting): %r", len(self._pending), error)
            if self._on_error is not None:
                try:
                    self._on_error(error, rec)
                except Exception:  # noqa: BLE001
                    log.exception("audit on_error callback failed")
        return rec

    def close(self) -> None:
        """Close the file this log opened (a callable sink is the caller's to close)."""
        with self._lock:
            if self._owned is not None:
                self._owned.close()
                self._owned = None
                self._sink = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
