"""The cluster's memory of its rooms: the latest control-state snapshot of each room and
the audit records they wrote. A Ray actor on the router's node (vmedia.hosting.cluster);
a room's actor may die with its node, this does not.

Snapshots are Room.snapshot() dicts: roster, policy, layout, lock, PIN hashes (never a
PIN). Each incarnation of a room's actor checks its room out (which starts a new epoch)
and puts snapshots numbered within it, so a late put from an actor Ray has already
replaced can never overwrite what its successor saved.

Audit records are appended to a JSON Lines file (one per line, flushed per record) when
the cluster has one, and the newest `keep` per room are kept for `records()`.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque

log = logging.getLogger("vmedia.hosting.control_store")

KEEP_RECORDS = 2000  # per room, in memory


class ControlStore:
    def __init__(self, audit_path: str | None = None, keep: int = KEEP_RECORDS):
        self._snapshots: dict[str, tuple[int, int, dict]] = {}  # room -> (epoch, seq, snapshot)
        self._epochs: dict[str, int] = {}
        self._records: dict[str, deque] = {}
        self._keep = keep
        self._audit = open(audit_path, "a", encoding="utf-8") if audit_path else None  # noqa: SIM115 - the actor's life

    def checkout(self, room_id: str) -> tuple[int, dict | None]:
        """A new incarnation of the room's actor: its epoch, and the snapshot to restore."""
        epoch = self._epochs.get(room_id, 0) + 1
        self._epochs[room_id] = epoch
        saved = self._snapshots.get(room_id)
        return epoch, (saved[2] if saved else None)

    def put(self, room_id: str, epoch: int, seq: int, snapshot: dict) -> bool:
        """Keep `snapshot` unless a newer incarnation, or a newer put, got here first."""
        if epoch != self._epochs.get(room_id):
            return False
        saved = self._snapshots.get(room_id)
        if saved is not None and saved[:2] >= (epoch, seq):
            return False
        self._snapshots[room_id] = (epoch, seq, snapshot)
        return True

    def snapshot(self, room_id: str) -> dict | None:
        saved = self._snapshots.get(room_id)
        return saved[2] if saved else None

    def forget(self, room_id: str) -> None:
        """The room was closed on purpose: nothing to restore any more."""
        self._snapshots.pop(room_id, None)
        self._epochs.pop(room_id, None)

    def audit(self, room_id: str, record: dict) -> None:
        self._records.setdefault(room_id, deque(maxlen=self._keep)).append(record)
        if self._audit is not None:
            try:
                self._audit.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._audit.flush()
            except OSError:
                log.exception("the cluster's audit log could not be written")

    def records(self, room_id: str) -> list[dict]:
        return list(self._records.get(room_id, ()))

    def pid(self) -> int:
        return os.getpid()
