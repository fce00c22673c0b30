"""A Room's control state as plain data: what a restarted process needs to bring the room back.

`Room.snapshot()` returns a `dict` of str/int/float/bool/list/dict/None (json.dumps takes
it as it is); `Room.restore(snapshot, ...)` builds a room from it. This module is the
format: `RoomSnapshot.to_dict` writes it, `RoomSnapshot.from_dict` reads it back and
refuses anything malformed with an InvalidInputError naming the field
(``snapshot.members[3].role: ...``), before a room is built.

In the snapshot (version 1):

- the room: its name, policy (as `RoomPolicy.to_dict`), layout (spec, speaker variant,
  self-view rule), 1080p/360p outputs, lock, mute-all, the spotlight;
- every admitted member, every member still expected back after an earlier restore,
  and whoever hung up within the rejoin window (a failing process drops its callers
  before it dies; a host's `remove` is not a hang-up and keeps them out): id, display name, role (host, guest, speaker, audience), audio codec, output
  profile, how they receive a presentation, muted, on stage, gain. After a restore they are
  *expected*: each gets back in with that state, without PIN, lobby or lock, by joining
  again under the same id within the rejoin window;
- the PIN gate: the salted scrypt hashes, salts and cost, the guessing limits, and the
  lockouts and room-wide wrong guesses still in force, as seconds remaining / seconds
  ago (a restart must not reset a room-wide lockout). Never a PIN: the Room never has one
  after it hashed it. A caller's backoff and wrong guesses short of a lockout are not
  carried (the room-wide count still bounds guessing);
- the audit log's path, when it is a file (a callable sink cannot be carried: pass it
  again to restore);
- who was waiting in the lobby (ids only): they are not let in by a restore, which
  audits that each must knock again;
- what was running and cannot survive a restart ("recording", "streaming",
  "presentation"): the restored room reports each as ended by the failover (a recording:
  ``recording_failed`` and an audit record) so hosts know to start it again. Targets are
  not kept: a stream URL carries its key.

Not in it: media and everything derived from it (decoder state, jitter buffers, the
active speaker, encoders), sinks themselves, the event history, the test tune's position,
listeners, the live clock and the hosting options (pools, threads), which the restoring
caller passes again.

The PIN hashes are as sensitive as the audit log: a stolen hash of a four-digit PIN can
be brute-forced offline. Store snapshots as privately as the audit log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vmedia.engine.member import MAX_NAME_LENGTH, Member
from vmedia.errors import InvalidInputError
from vmedia.rooms.pins import GUEST, HOST, HashedPin, PinGateState, PinLimits, ScryptCost
from vmedia.rooms.policy import RoomPolicy
from vmedia.video.views import ViewPolicy

VERSION = 1
INTERRUPTIBLE = ("recording", "streaming", "presentation")  # running things a restart ends
MAX_LAYOUT_JSON = 64 * 1024  # characters of a custom layout spec
MAX_PATH = 4096
MAX_WALL_CLOCK = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last time an ISO date can say
# A snapshot is data from storage: its scrypt cost must not let it demand gigabytes.
MAX_SCRYPT_N, MAX_SCRYPT_R, MAX_SCRYPT_P = 2**20, 32, 16
SALT_BYTES = (8, 64)
DIGEST_BYTES = 32


@dataclass(frozen=True)
class MemberState:
    """One member's control state: who they are, what they receive, and how they are heard."""

    id: str
    name: str
    role: str  # host | guest | speaker | audience
    audio_codec: str = "opus"
    profile: str | None = None  # output profile name (None: the room's first)
    content: str = "separate"
    muted: bool = False
    on_stage: bool = True  # seen (and eligible to speak); False only in rooms with a stage
    gain: float = 1.0
    rejoin_hash: str | None = None  # SHA-256 (hex) of the member's rejoin token: proof of who may take the seat


@dataclass(frozen=True)
class RoomSnapshot:
    """A Room's control state (see the module docstring for what is and is not in it)."""

    name: str
    policy: RoomPolicy
    layout: str | dict  # a layout name or a custom spec (JSON data)
    variant: str
    self_view: str
    hd1080: bool = False
    low_profile: bool = False
    locked: bool = False
    muted_all: bool = False
    spotlight: str | None = None  # the member pinned into the main tile
    members: tuple[MemberState, ...] = ()
    lobby: tuple[str, ...] = ()  # waiting when the snapshot was taken; not let in by a restore
    pins: PinGateState | None = None
    audit: str | None = None  # the audit log's path, if it is a file
    interrupted: tuple[str, ...] = ()  # see INTERRUPTIBLE
    taken_at: float = 0.0  # wall clock, seconds since the epoch

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "taken_at": self.taken_at,
            "name": self.name,
            "policy": self.policy.to_dict(),
            "layout": {"layout": self.layout, "variant": self.variant, "self_view": self.self_view},
            "hd1080": self.hd1080,
            "low_profile": self.low_profile,
            "locked": self.locked,
            "muted_all": self.muted_all,
            "spotlight": self.spotlight,
            "members": [
                {"id": m.id, "name": m.name, "role": m.role, "audio_codec": m.audio_codec, "profile": m.profile,
                 "content": m.content, "muted": m.muted, "on_stage": m.on_stage, "gain": m.gain,
                 "rejoin_hash": m.rejoin_hash}
                for m in self.members
            ],
            "lobby": list(self.lobby),
            "pins": None if self.pins is None else _pins_to_dict(self.pins),
            "audit": self.audit,
            "interrupted": list(self.interrupted),
        }

    @classmethod
    def from_dict(cls, data: object) -> RoomSnapshot:
        """Read a snapshot back; anything malformed is an InvalidInputError naming the field."""
        top = _Fields(data, "snapshot", _TOP_KEYS)
        version = top.get("version", int)
        if version != VERSION:
            raise InvalidInputError(f"snapshot.version: this vmedia reads version {VERSION}, got {version!r}")
        taken_at = top.number("taken_at", 0.0, MAX_WALL_CLOCK)
        name = top.get("name", str)
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidInputError(f"snapshot.name must be 1-{MAX_NAME_LENGTH} characters, got {len(name)}")
        policy = _wrapped("snapshot.policy", RoomPolicy.from_dict, top.get("policy", dict))
        layout, variant, self_view = _layout(top.get("layout", dict))
        flags = {k: top.get(k, bool) for k in ("hd1080", "low_profile", "locked", "muted_all")}
        if flags["hd1080"] and not policy.allow_1080p:
            raise InvalidInputError(f"snapshot.hd1080: a {policy.name!r} room does not offer 1080p")
        members = _members(top.get("members", list), policy)
        ids = {m.id for m in members}
        spotlight = top.get("spotlight", (str, type(None)))
        if spotlight is not None and spotlight not in ids:
            raise InvalidInputError(f"snapshot.spotlight: {spotlight!r:.80} is not a member")
        lobby = _ids(top.get("lobby", list), "snapshot.lobby", policy.max_participants)
        if ids & set(lobby):
            raise InvalidInputError(f"snapshot.lobby: {sorted(ids & set(lobby))[0]!r:.80} is also a member")
        pins = top.get("pins", (dict, type(None)))
        audit = top.get("audit", (str, type(None)))
        if audit is not None and not 0 < len(audit) <= MAX_PATH:
            raise InvalidInputError(f"snapshot.audit must be a path of 1-{MAX_PATH} characters or null")
        interrupted = top.get("interrupted", list)
        if not all(isinstance(k, str) and k in INTERRUPTIBLE for k in interrupted) or len(set(interrupted)) != len(interrupted):
            raise InvalidInputError(f"snapshot.interrupted must list some of {list(INTERRUPTIBLE)} once each, got {interrupted!r:.120}")
        return cls(name, policy, layout, variant, self_view, members=members, lobby=lobby, spotlight=spotlight,
                   pins=None if pins is None else _pins_from_dict(pins), audit=audit, interrupted=tuple(interrupted),
                   taken_at=taken_at, **flags)


_TOP_KEYS = ("version", "taken_at", "name", "policy", "layout", "hd1080", "low_profile", "locked", "muted_all",
             "spotlight", "members", "lobby", "pins", "audit", "interrupted")
_MEMBER_KEYS = ("id", "name", "role", "audio_codec", "profile", "content", "muted", "on_stage", "gain", "rejoin_hash")
_PIN_KEYS = ("scrypt", "hashes", "limits", "room_locked_for_s", "room_failures_ago_s", "callers_locked_for_s")


class _Fields:
    """Typed access to one object of a snapshot; every error names the field's path."""

    def __init__(self, data: object, path: str, keys: tuple[str, ...]):
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{path} must be an object, got {type(data).__name__}")
        unknown = sorted(str(k)[:40] for k in data if k not in keys)
        if unknown:
            raise InvalidInputError(f"{path}: unknown fields {unknown[:5]}; expected {list(keys)}")
        self.data, self.path = data, path

    def get(self, key: str, types: type | tuple[type, ...]) -> Any:
        if key not in self.data:
            raise InvalidInputError(f"{self.path}.{key} is missing")
        value = self.data[key]
        want = types if isinstance(types, tuple) else (types,)
        # exact types: True is not a count, 1 is not a yes
        if type(value) not in want:
            names = " or ".join("null" if t is type(None) else t.__name__ for t in want)
            raise InvalidInputError(f"{self.path}.{key} must be {names}, got {type(value).__name__}")
        return value

    def number(self, key: str, lo: float = -math.inf, hi: float = math.inf) -> float:
        value = self.get(key, (int, float))
        if not (math.isfinite(value) and lo <= value <= hi):
            raise InvalidInputError(f"{self.path}.{key} must be a finite number in [{lo:g}, {hi:g}], got {value!r}")
        return float(value)


def _wrapped(path: str, parse, *args, **kwargs):
    """`parse(*args, **kwargs)`, its InvalidInputError (or a constructor's TypeError) prefixed with `path`."""
    try:
        return parse(*args, **kwargs)
    except (InvalidInputError, TypeError) as e:
        raise InvalidInputError(f"{path}: {e}") from None


def _layout(data: dict) -> tuple[str | dict, str, str]:
    f = _Fields(data, "snapshot.layout", ("layout", "variant", "self_view"))
    layout, variant, self_view = f.get("layout", (str, dict)), f.get("variant", str), f.get("self_view", str)
    if len(layout if isinstance(layout, str) else json.dumps(layout)) > MAX_LAYOUT_JSON:
        raise InvalidInputError(f"snapshot.layout.layout is longer than {MAX_LAYOUT_JSON} characters")
    _wrapped("snapshot.layout", ViewPolicy, layout, variant=variant, self_view=self_view)
    return layout, variant, self_view


def _members(data: list, policy: RoomPolicy) -> tuple[MemberState, ...]:
    if len(data) > policy.max_participants:
        raise InvalidInputError(f"snapshot.members: {len(data)} members, but a {policy.name!r} room holds at most "
                                f"{policy.max_participants}")
    roles = ("host", "speaker", "audience") if policy.stage else ("host", "guest")
    out, seen = [], set()
    for i, item in enumerate(data):
        path = f"snapshot.members[{i}]"
        f = _Fields(item, path, _MEMBER_KEYS)
        m = MemberState(f.get("id", str), f.get("name", str), f.get("role", str), f.get("audio_codec", str),
                        f.get("profile", (str, type(None))), f.get("content", str), f.get("muted", bool),
                        f.get("on_stage", bool), f.number("gain", 0.0, math.inf), f.get("rejoin_hash", (str, type(None))))
        if m.rejoin_hash is not None:
            _hex(f, "rejoin_hash", 32, 32)
        # The record's own checks: id, name, codec, content mode.
        _wrapped(path, Member.create, m.id, m.name, audio_codec=m.audio_codec, content=m.content)
        if m.id in seen:
            raise InvalidInputError(f"{path}.id: {m.id!r:.80} appears twice")
        seen.add(m.id)
        if m.role not in roles:
            raise InvalidInputError(f"{path}.role must be one of {list(roles)} in a {policy.name!r} room, got {m.role!r:.40}")
        if m.profile is not None and len(m.profile) > MAX_NAME_LENGTH:
            raise InvalidInputError(f"{path}.profile is longer than {MAX_NAME_LENGTH} characters")
        # The stage's rules: only hosts choose to be off it; the audience is off it and muted.
        if not m.on_stage and not (policy.stage and m.role in ("host", "audience")):
            raise InvalidInputError(f"{path}.on_stage: a {m.role} in a {policy.name!r} room is on stage")
        if m.role == "audience" and (m.on_stage or not m.muted):
            raise InvalidInputError(f"{path}: the audience is off stage and muted")
        out.append(m)
    return tuple(out)


def _ids(data: list, path: str, most: int) -> tuple[str, ...]:
    if len(data) > most:
        raise InvalidInputError(f"{path}: {len(data)} entries, at most {most}")
    for i, pid in enumerate(data):
        if not isinstance(pid, str) or not 0 < len(pid) <= MAX_NAME_LENGTH:
            raise InvalidInputError(f"{path}[{i}] must be a participant id (1-{MAX_NAME_LENGTH} characters)")
    if len(set(data)) != len(data):
        raise InvalidInputError(f"{path}: an id appears twice")
    return tuple(data)


def _pins_to_dict(state: PinGateState) -> dict[str, Any]:
    cost = state.pins[0][1].cost if state.pins else ScryptCost()
    return {
        "scrypt": {"n": cost.n, "r": cost.r, "p": cost.p},
        "hashes": [{"role": role, "salt": h.salt.hex(), "digest": h.digest.hex()} for role, h in state.pins],
        "limits": {name: getattr(state.limits, name) for name in PinLimits.__dataclass_fields__},
        "room_locked_for_s": state.room_locked_for_s,
        "room_failures_ago_s": list(state.room_failures_ago_s),
        "callers_locked_for_s": dict(state.callers_locked_for_s),
    }


def _pins_from_dict(data: dict) -> PinGateState:
    f = _Fields(data, "snapshot.pins", _PIN_KEYS)
    sc = _Fields(f.get("scrypt", dict), "snapshot.pins.scrypt", ("n", "r", "p"))
    n, r, p = sc.get("n", int), sc.get("r", int), sc.get("p", int)
    if not (n <= MAX_SCRYPT_N and r <= MAX_SCRYPT_R and p <= MAX_SCRYPT_P):
        raise InvalidInputError(f"snapshot.pins.scrypt: at most n={MAX_SCRYPT_N}, r={MAX_SCRYPT_R}, p={MAX_SCRYPT_P}; "
                                f"got n={n} r={r} p={p}")
    cost = _wrapped("snapshot.pins.scrypt", ScryptCost, n, r, p)
    limits_data = f.get("limits", dict)
    limits = _wrapped("snapshot.pins.limits", PinLimits, **{str(k): v for k, v in limits_data.items()})
    hashes = f.get("hashes", list)
    roles = [h.get("role") if isinstance(h, Mapping) else None for h in hashes]
    if roles not in ([HOST], [HOST, GUEST]):
        raise InvalidInputError(f"snapshot.pins.hashes: a host PIN, or a host and a guest PIN, in that order; "
                                f"got roles {roles!r:.80}")
    pins = []
    for i, item in enumerate(hashes):
        h = _Fields(item, f"snapshot.pins.hashes[{i}]", ("role", "salt", "digest"))
        salt = _hex(h, "salt", *SALT_BYTES)
        digest = _hex(h, "digest", DIGEST_BYTES, DIGEST_BYTES)
        pins.append((h.get("role", str), HashedPin(salt, digest, cost)))
    room_locked_for = f.number("room_locked_for_s", 0.0, limits.lockout_s)
    ages = f.get("room_failures_ago_s", list)
    if len(ages) > limits.room_attempts:
        raise InvalidInputError(f"snapshot.pins.room_failures_ago_s: {len(ages)} entries, at most {limits.room_attempts}")
    if not all(type(a) in (int, float) and 0 <= a <= limits.window_s for a in ages):
        raise InvalidInputError(f"snapshot.pins.room_failures_ago_s must be seconds in [0, {limits.window_s:g}]")
    callers = f.get("callers_locked_for_s", dict)
    _ids(list(callers), "snapshot.pins.callers_locked_for_s", limits.max_callers)
    if not all(type(v) in (int, float) and 0 < v <= limits.lockout_s for v in callers.values()):
        raise InvalidInputError(f"snapshot.pins.callers_locked_for_s: lockouts must be seconds in (0, {limits.lockout_s:g}]")
    return PinGateState(tuple(pins), limits, room_locked_for, tuple(float(a) for a in ages),
                        {k: float(v) for k, v in callers.items()})


def _hex(f: _Fields, key: str, lo: int, hi: int) -> bytes:
    text = f.get(key, str)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InvalidInputError(f"{f.path}.{key} must be hexadecimal") from None
    if not lo <= len(raw) <= hi:
        raise InvalidInputError(f"{f.path}.{key} must be {lo}-{hi} bytes, got {len(raw)}")
    return raw
