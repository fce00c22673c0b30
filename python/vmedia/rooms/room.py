"""Room: a meeting with people, roles and a policy, around one Mixer.

Room types follow the healthcare services vmedia is built for:

- ``sensitive``: 2-30 people; every guest waits in the lobby until a host admits them;
  1080p output may be enabled.
- ``administrative``: 2-100 people; hosts can lock the room and mute everyone.
- ``personal``: 2-50 people; guests join directly, hosts can still lock and mute.
- ``auditorium``: speakers on stage are seen and heard; the audience is neither (until
  promoted); the composite is meant to be streamed out (see vmedia.sinks).
- ``test``: one caller sees themselves and hears a test tune.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vmedia.media import synth
from vmedia.media.time import FRAME_SIZE
from vmedia.errors import InvalidInputError, PermissionDenied, VmediaError
from vmedia.engine.mixer import Event, Mixer, TickOutput
from vmedia.media.time import FRAME_SECONDS
from vmedia.codecs.video import FULL_HD, HD, LOW, OutputProfile


@dataclass(frozen=True)
class RoomPolicy:
    min_participants: int
    max_participants: int
    lobby: bool  # guests wait until a host admits them
    host_controls: bool  # lock and mute-all
    allow_1080p: bool = False
    stage: bool = False  # only people on stage are seen and heard
    test_tune: bool = False


POLICIES = {
    "sensitive": RoomPolicy(2, 30, lobby=True, host_controls=True, allow_1080p=True),
    "administrative": RoomPolicy(2, 100, lobby=False, host_controls=True),
    "personal": RoomPolicy(2, 50, lobby=False, host_controls=True),
    "auditorium": RoomPolicy(1, 1000, lobby=False, host_controls=True, stage=True),
    "test": RoomPolicy(1, 1, lobby=False, host_controls=False, test_tune=True),
}
TUNE_ID = "__test_tune__"


class Room:
    """One meeting. Media goes in with push_video/push_audio; tick(t) returns what is due."""

    def __init__(
        self,
        room_type: str = "administrative",
        *,
        layout: str = "speaker",
        hd1080: bool = False,
        low_profile: bool = False,
        on_event: Callable[[Event], None] | None = None,
        **mixer_options,
    ):
        if room_type not in POLICIES:
            raise InvalidInputError(f"unknown room type {room_type!r}; choose one of {sorted(POLICIES)}")
        self.type = room_type
        self.policy = POLICIES[room_type]
        if hd1080 and not self.policy.allow_1080p:
            raise InvalidInputError(f"1080p is offered in sensitive rooms, not in {room_type!r} rooms")
        profiles: list[OutputProfile] = [FULL_HD if hd1080 else HD] + ([LOW] if low_profile else [])
        self.mixer = Mixer(profiles, layout="gallery" if room_type == "test" else layout, **mixer_options)
        self.roles: dict[str, str] = {}  # admitted participants: id -> host | guest | speaker | audience
        self.lobby: dict[str, str] = {}  # waiting: id -> display name
        self.locked = False
        self.events: list[Event] = []
        self._listeners: list[Callable[[Event], None]] = [on_event] if on_event else []
        if self.policy.test_tune:
            self.mixer.add_participant(TUNE_ID, "test tune", visible=False)
            self.mixer.set_forced_audio(TUNE_ID, True)
            self._tune = synth.tune(8.0, -20.0)
            self._tune_pos = 0

    # --- people -----------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._listeners.append(callback)

    @property
    def participants(self) -> list[str]:
        return list(self.roles)

    def join(self, pid: str, name: str | None = None, *, role: str = "guest", audio_codec: str = "opus") -> str:
        """Returns 'admitted' or 'waiting' (in the lobby of a sensitive room)."""
        if role not in ("host", "guest"):
            raise InvalidInputError(f"role must be 'host' or 'guest', got {role!r}")
        if pid in self.roles or pid in self.lobby or pid == TUNE_ID:
            raise InvalidInputError(f"participant {pid!r} is already in the room")
        if self.locked and role != "host":
            raise PermissionDenied("the room is locked")
        if len(self.roles) >= self.policy.max_participants:
            raise PermissionDenied(f"a {self.type} room holds at most {self.policy.max_participants} participants")
        if self.policy.lobby and role == "guest":
            self.lobby[pid] = name or pid
            self._emit(Event("waiting", pid, self.mixer.time))
            return "waiting"
        self._enter(pid, name, role, audio_codec)
        return "admitted"

    def admit(self, by: str, pid: str) -> None:
        self._require_host(by)
        if pid not in self.lobby:
            raise InvalidInputError(f"{pid!r} is not waiting in the lobby")
        name = self.lobby.pop(pid)
        self._enter(pid, name, "guest", "opus")
        self._emit(Event("admitted", pid, self.mixer.time, f"by {by}"))

    def deny(self, by: str, pid: str) -> None:
        self._require_host(by)
        if self.lobby.pop(pid, None) is None:
            raise InvalidInputError(f"{pid!r} is not waiting in the lobby")
        self._emit(Event("denied", pid, self.mixer.time, f"by {by}"))

    def leave(self, pid: str) -> None:
        if pid in self.lobby:
            del self.lobby[pid]
            return
        if pid not in self.roles:
            raise InvalidInputError(f"participant {pid!r} is not in the room")
        del self.roles[pid]
        self.mixer.remove_participant(pid)

    def lock(self, by: str, locked: bool = True) -> None:
        self._require_host(by, controls=True)
        self.locked = locked
        self._emit(Event("locked" if locked else "unlocked", by, self.mixer.time))

    def mute_all(self, by: str) -> None:
        """Everyone but the hosts is muted."""
        self._require_host(by, controls=True)
        for pid, role in self.roles.items():
            if role != "host":
                self.mixer.set_muted(pid, True)
        self._emit(Event("muted_all", by, self.mixer.time))

    def mute(self, pid: str, muted: bool = True) -> None:
        if pid not in self.roles:
            raise InvalidInputError(f"participant {pid!r} is not in the room")
        self.mixer.set_muted(pid, muted)

    def set_stage(self, by: str, pid: str, on_stage: bool = True) -> None:
        """Auditorium: bring someone on stage (seen and heard) or back to the audience."""
        self._require_host(by)
        if not self.policy.stage:
            raise InvalidInputError(f"a {self.type} room has no stage")
        if pid not in self.roles:
            raise InvalidInputError(f"participant {pid!r} is not in the room")
        if self.roles[pid] != "host":
            self.roles[pid] = "speaker" if on_stage else "audience"
        self.mixer.set_visible(pid, on_stage)
        self.mixer.set_muted(pid, not on_stage)

    def request_keyframe(self, pid: str) -> None:
        """`pid` lost pictures (its PLI/FIR): the next frame of the view it receives is an IDR."""
        if pid not in self.roles and pid not in self.lobby:
            raise InvalidInputError(f"participant {pid!r} is not in the room")
        self.mixer.request_keyframe()

    # --- media ------------------------------------------------------------------------
    def push_video(self, pid: str, data, t: float) -> None:
        if pid in self.roles:  # the lobby's media goes nowhere
            self.mixer.push_video(pid, data, t)

    def push_audio(self, pid: str, data, t: float) -> None:
        if pid in self.roles:
            self.mixer.push_audio(pid, data, t)

    def tick(self, t: float) -> TickOutput:
        if self.policy.test_tune:
            self._feed_tune(t)
        out = self.mixer.tick(t)
        for e in out.events:
            if e.participant != TUNE_ID:
                self._emit(e)
        out.events = [e for e in out.events if e.participant != TUNE_ID]
        return out

    # --- internals --------------------------------------------------------------------
    def _enter(self, pid: str, name: str | None, role: str, audio_codec: str) -> None:
        on_stage = not self.policy.stage or role == "host"
        self.roles[pid] = role if on_stage else "audience"
        self.mixer.add_participant(pid, name, audio_codec=audio_codec, visible=on_stage)
        if not on_stage:
            self.mixer.set_muted(pid, True)

    def _feed_tune(self, t: float) -> None:
        while self._tune_pos * FRAME_SECONDS < t + FRAME_SECONDS:
            i = (self._tune_pos * FRAME_SIZE) % (len(self._tune) - FRAME_SIZE)
            self.mixer.push_audio(TUNE_ID, np.ascontiguousarray(self._tune[i : i + FRAME_SIZE]), self._tune_pos * FRAME_SECONDS)
            self._tune_pos += 1

    def _require_host(self, pid: str, *, controls: bool = False) -> None:
        if self.roles.get(pid) != "host":
            raise PermissionDenied(f"{pid!r} is not a host of this room")
        if controls and not self.policy.host_controls:
            raise PermissionDenied(f"a {self.type} room has no host controls")

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        for listener in self._listeners:
            listener(event)
