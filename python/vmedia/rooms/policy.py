"""Room types: what a kind of room allows, from the seeds, or from a service's own rules.

The seeds' types:

- ``sensitive``: consultations for 2-30 people; every guest waits in the lobby until a host
  admits them; 1080p output may be enabled.
- ``administrative``: meetings of 2-100; hosts can lock the room and mute everyone.
- ``personal``: a clinician's own room for 2-50; guests join directly, hosts can still lock
  and mute.
- ``auditorium``: 100 and more; only people on stage are seen and heard, the audience is
  neither until promoted; the composite is meant to be streamed (see vmedia.sinks).
- ``test``: one caller sees themselves and hears a test tune.

A service whose rules differ defines its own with `RoomPolicy.from_dict` / `from_json`,
optionally starting from one of these (``{"base": "sensitive", "max_participants": 12}``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vmedia.errors import InvalidInputError

MAX_ROOM_SIZE = 10_000  # a sanity bound on configured sizes, far beyond one process's reach


@dataclass(frozen=True)
class RoomPolicy:
    """What a kind of room allows. Build one with from_dict/from_json, or use POLICIES."""

    name: str
    min_participants: int  # the smallest meeting the type is meant for (descriptive: nobody waits for it)
    max_participants: int  # enforced on join and on admission
    lobby: bool = False  # guests wait until a host admits them
    host_controls: bool = False  # hosts can lock the room and mute everyone
    allow_1080p: bool = False
    stage: bool = False  # only people on stage are seen and heard; the rest are the audience
    stream_composite: bool = False  # the composite is meant to be streamed out (RTMP)
    self_view: bool = False  # the caller sees themselves (the test room)
    test_tune: bool = False  # the room plays a tune into the mix (the test room)
    guests_present: bool = True  # guests may share content (else hosts only)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise InvalidInputError(f"room policy {self.name!r}: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RoomPolicy:
        """A policy from plain data. Keys are the field names, plus an optional ``base``
        naming a seed type whose values the others override. Unknown keys, wrong types and
        inconsistent sizes are InvalidInputErrors that name every problem at once."""
        if not isinstance(spec, Mapping):
            raise InvalidInputError(f"a room policy must be a mapping, got {type(spec).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in spec if k not in fields and k != "base")
        if unknown:
            raise InvalidInputError(f"unknown room policy keys {unknown}; expected some of {['base', *fields]}")
        values: dict[str, Any] = {}
        if "base" in spec:
            base = spec["base"]
            if not isinstance(base, str) or base not in POLICIES:
                raise InvalidInputError(f"room policy base must be one of {sorted(POLICIES)}, got {base!r}")
            values = dataclasses.asdict(POLICIES[base])
        values.update({k: v for k, v in spec.items() if k != "base"})
        missing = [name for name, f in fields.items() if name not in values and f.default is dataclasses.MISSING]
        if missing:
            raise InvalidInputError(f"room policy is missing {missing} (or give a 'base' type)")
        problems = []
        for name, value in values.items():
            want = _TYPES[name]
            if type(value) is not want:  # exact: True is not a size, 1 is not a yes
                problems.append(f"{name} must be {want.__name__}, got {type(value).__name__} {value!r}")
        if problems:
            raise InvalidInputError(f"room policy {values.get('name')!r}: " + "; ".join(problems))
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | bytes) -> RoomPolicy:
        try:
            spec = json.loads(text)
        except (ValueError, TypeError) as e:
            raise InvalidInputError(f"room policy is not valid JSON: {e}") from None
        return cls.from_dict(spec)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_TYPES = {f.name: {"str": str, "int": int, "bool": bool}[str(f.type)] for f in dataclasses.fields(RoomPolicy)}


def _problems(p: RoomPolicy) -> list[str]:
    out = []
    if not isinstance(p.name, str) or not p.name.strip():
        out.append("name must be a non-empty string")
    for name in ("min_participants", "max_participants"):
        v = getattr(p, name)
        if type(v) is not int or not 1 <= v <= MAX_ROOM_SIZE:
            out.append(f"{name} must be an integer in 1..{MAX_ROOM_SIZE}, got {v!r}")
    if not out and p.min_participants > p.max_participants:
        out.append(f"min_participants ({p.min_participants}) > max_participants ({p.max_participants})")
    for name, want in _TYPES.items():
        if want is bool and type(getattr(p, name)) is not bool:
            out.append(f"{name} must be bool, got {getattr(p, name)!r}")
    return out


POLICIES: dict[str, RoomPolicy] = {
    p.name: p
    for p in (
        RoomPolicy("sensitive", 2, 30, lobby=True, host_controls=True, allow_1080p=True, guests_present=False),
        RoomPolicy("administrative", 2, 100, host_controls=True),
        RoomPolicy("personal", 2, 50, host_controls=True),
        RoomPolicy("auditorium", 100, 1000, host_controls=True, stage=True, stream_composite=True, guests_present=False),
        RoomPolicy("test", 1, 1, self_view=True, test_tune=True),
    )
}


def policy_for(room_type: str | RoomPolicy | Mapping[str, Any]) -> RoomPolicy:
    """The policy a Room is made with: a seed type's name, a RoomPolicy, or a dict for from_dict."""
    if isinstance(room_type, RoomPolicy):
        return room_type
    if isinstance(room_type, Mapping):
        return RoomPolicy.from_dict(room_type)
    if isinstance(room_type, str) and room_type in POLICIES:
        return POLICIES[room_type]
    raise InvalidInputError(f"unknown room type {room_type!r}; choose one of {sorted(POLICIES)} or give a RoomPolicy")
