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
from vmedia.engine import Event, EventKind, Member, Mixer, TickOutput
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
    guests_present: bool = True  # guests may share content (else hosts only)


POLICIES = {
    "sensitive": RoomPolicy(2, 30, lobby=True, host_controls=True, allow_1080p=True, guests_present=False),
    "administrative": RoomPolicy(2, 100, lobby=False, host_controls=True),
    "personal": RoomPolicy(2, 50, lobby=False, host_controls=True),
    "auditorium": RoomPolicy(1, 1000, lobby=False, host_controls=True, stage=True, guests_present=False),
    "test": RoomPolicy(1, 1, lobby=False, host_controls=False, test_tune=True),
}
TUNE_ID = "__test_tune__"


class Room:
    """One meeting. Media goes in with push_video/push_audio; tick(t) returns what is due."""

    def __init__(
        self,
        room_type: str = "administrative",
        *,
        name: str = "",
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
        self.name = name or f"{room_type} room"
        self.mixer = Mixer(profiles, layout="gallery" if room_type == "test" else layout, name=self.name, **mixer_options)
        self.roles: dict[str, str] = {}  # admitted participants: id -> host | guest | speaker | audience
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

    @property
    def lobby(self) -> dict[str, str]:
        """Who is waiting: id -> display name."""
        return {pid: self.mixer.member(pid).name for pid in self.mixer.waiting}

    def join(self, pid: str, name: str | None = None, *, role: str = "guest", audio_codec: str = "opus",
             profile: str | None = None, content: str | None = None) -> str:
        """Returns 'admitted' or 'waiting' (in the lobby of a sensitive room). `audio_codec`
        ('opus', 'pcmu', 'pcma') is both what is decoded from them and what they receive;
        `content` says how they receive a presentation ('separate' or 'in_mix')."""
        if role not in ("host", "guest"):
            raise InvalidInputError(f"role must be 'host' or 'guest', got {role!r}")
        if pid in self.roles or pid in self.mixer.waiting or pid == TUNE_ID:
            raise InvalidInputError(f"participant {pid!r} is already in the room")
        if self.locked and role != "host":
            raise PermissionDenied("the room is locked")
        if len(self.roles) >= self.policy.max_participants:
            raise PermissionDenied(f"a {self.type} room holds at most {self.policy.max_participants} participants")
        waiting = self.policy.lobby and role == "guest"
        # One record per person, kept from the lobby into the room.
        member = Member.create(pid, name, audio_codec=audio_codec, content=content, role=role, profile=profile,
                               waiting=waiting)
        on_stage = not self.policy.stage or role == "host"
        if not waiting:
            self.roles[pid] = role if on_stage else "audience"
        self.mixer.add_member(member, visible=on_stage)
        if not waiting and not on_stage:
            self.mixer.set_muted(pid, True)
        return "waiting" if waiting else "admitted"

    def admit(self, by: str, pid: str) -> None:
        self._require_host(by)
        if pid not in self.mixer.waiting:
            raise InvalidInputError(f"{pid!r} is not waiting in the lobby")
        self.mixer.admit(pid)
        self.roles[pid] = "guest"
        self._emit(Event(EventKind.ADMITTED, pid, self.mixer.time, f"by {by}"))

    def deny(self, by: str, pid: str) -> None:
        self._require_host(by)
        if pid not in self.mixer.waiting:
            raise InvalidInputError(f"{pid!r} is not waiting in the lobby")
        self.mixer.remove_participant(pid)
        self._emit(Event(EventKind.DENIED, pid, self.mixer.time, f"by {by}"))

    def leave(self, pid: str) -> None:
        if pid not in self.roles and pid not in self.mixer.waiting:
            raise InvalidInputError(f"participant {pid!r} is not in the room")
        self.roles.pop(pid, None)
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
        self.mixer.request_keyframe_for(pid)

    # --- presentation -------------------------------------------------------------------
    def start_presentation(self, by: str, **options) -> None:
        """`by` shares content (a second stream; see Mixer.start_presentation for options)."""
        if by not in self.roles:
            raise InvalidInputError(f"participant {by!r} is not in the room")
        if not self.policy.guests_present and self.roles[by] != "host":
            raise PermissionDenied(f"only a host may present in a {self.type} room")
        self.mixer.start_presentation(by, **options)

    def push_content(self, data, t: float) -> None:
        self.mixer.push_content(data, t)

    def stop_presentation(self, by: str) -> None:
        """The presenter or a host ends the presentation."""
        content = self.mixer.content
        if content is None:
            raise InvalidInputError("no presentation is running")
        if by != content.presenter:
            self._require_host(by)
        self.mixer.stop_presentation()

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
