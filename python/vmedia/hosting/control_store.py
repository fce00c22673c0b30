"""The cluster's memory of its rooms: the latest control-state snapshot of each room and
the audit records they wrote. A Ray actor on the router's node (vmedia.hosting.cluster);
a room's actor may die with its node, this does not.

Snapshots are Room.snapshot() dicts: roster, policy, layout, lock, PIN hashes (never a
PIN). Each incarnation of a room's actor checks its room out (which starts a new epoch)
and puts snapshots numbered within it, so a late put from an actor Ray has already
replaced can never overwrite what its successor saved.

Audit records are appended to a JSON Lines file (one per line, flushed per record) when
the cluster has one, and the newest `keep` per room are kept for `records()`.

With a `state_dir` the store also survives itself (a router or head that restarts): each
room's spec and latest snapshot are written to `<state_dir>/<room>.json` (replaced
atomically, readable by this user only: snapshots hold PIN hashes), read back when a new
store starts, and deleted when the room is closed on purpose. `recoverable()` lists what
a new router can bring back (vmedia.hosting.cluster.Cluster.recover).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import deque
from pathlib import Path

log = logging.getLogger("vmedia.hosting.control_store")

KEEP_RECORDS = 2000  # per room, in memory


class ControlStore:
    def __init__(self, audit_path: str | None = None, keep: int = KEEP_RECORDS, state_dir: str | None = None):
        self._snapshots: dict[str, tuple[int, int, dict]] = {}  # room -> (epoch, seq, snapshot)
        self._epochs: dict[str, int] = {}
        self._specs: dict[str, dict] = {}  # room -> what its actor is made with (no PINs)
        self._records: dict[str, deque] = {}
        self._keep = keep
        self._audit = open(audit_path, "a", encoding="utf-8") if audit_path else None  # noqa: SIM115 - the actor's life
        self._state = Path(state_dir) if state_dir else None
        if self._state is not None:
            self._state.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._load(self._state)

    def register(self, room_id: str, spec: dict) -> None:
        """A new room: its spec, kept (and written) with its snapshots."""
        self._specs[room_id] = spec
        self._write(room_id)

    def recoverable(self) -> dict[str, dict]:
        """Rooms with a spec and a snapshot: what a new router can bring back."""
        return {r: spec for r, spec in self._specs.items() if r in self._snapshots}

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
        self._write(room_id)
        return True

    def forget(self, room_id: str) -> None:
        """The room was closed on purpose: nothing to restore any more."""
        self._snapshots.pop(room_id, None)
        self._epochs.pop(room_id, None)
        self._specs.pop(room_id, None)
        if self._state is not None:
            (self._state / f"{room_id}.json").unlink(missing_ok=True)

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

    def _write(self, room_id: str) -> None:
        if self._state is None or room_id not in self._specs:
            return
        saved = self._snapshots.get(room_id)
        data = {"room": room_id, "spec": self._specs[room_id], "snapshot": saved[2] if saved else None}
        try:
            fd, tmp = tempfile.mkstemp(dir=self._state, prefix=f".{room_id}.")  # 0600
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, default=_plain)
            os.replace(tmp, self._state / f"{room_id}.json")
        except OSError:
            log.exception("room %s: its control state could not be written to %s", room_id, self._state)

    def _load(self, state: Path) -> None:
        """What an earlier store left in `state`: each room's spec and latest snapshot (epoch 0)."""
        for path in sorted(state.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                room_id, spec, snapshot = data["room"], data["spec"], data["snapshot"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.error("skipping %s: not a room's control state (%s)", path, e)
                continue
            self._specs[room_id] = spec
            self._epochs[room_id] = 0
            if snapshot is not None:
                self._snapshots[room_id] = (0, 0, snapshot)


def _plain(value):
    """JSON for what a spec may hold besides plain data (a RoomPolicy)."""
    to_dict = getattr(value, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return to_dict()
