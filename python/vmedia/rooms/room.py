"""Room: a meeting with people, roles and a policy, around one Mixer.

A Room is the whole surface a server needs: people (join, admit, deny, leave), host
controls (lock, mute, mute-all, stage, layout, pin, gain, presentation, recording,
streaming), media (push_video, push_audio, push_content, tick), events, and its control
state as a snapshot a restarted process restores it from. Room types and their rules are
in vmedia.rooms.policy, PINs in vmedia.rooms.pins, the audit log in vmedia.rooms.audit,
the snapshot format in vmedia.rooms.snapshot; docs/rooms.md is the guide.

Every action that changes who is in the room or what they may do is audited, refusals
included: actor, action, target, outcome; never a PIN and never media. Checks come
before changes: a refused or malformed request leaves the room as it was.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import numpy as np

from vmedia.codecs.video import FULL_HD, HD, LOW, OutputProfile
from vmedia.engine import Event, EventKind, Member, Mixer, TickOutput
from vmedia.errors import InvalidInputError, PermissionDenied, VmediaError
from vmedia.media import synth
from vmedia.media.time import FRAME_SECONDS, FRAME_SIZE
from vmedia.rooms.audit import Action, AuditLog, AuditRecord, AuditSink, JsonLinesFile, Outcome, utc_iso
from vmedia.rooms.history import HISTORY, EventHistory
from vmedia.rooms.pins import PinGate, PinLimits, PinRefused, ScryptCost
from vmedia.rooms.policy import POLICIES, RoomPolicy, policy_for
from vmedia.rooms.snapshot import VERSION, MemberState, RoomSnapshot
from vmedia.sinks.container import ContainerSink

log = logging.getLogger("vmedia.rooms")

TUNE_ID = "__test_tune__"
ROLES = ("host", "guest")  # what a caller may ask for in a room without PINs
MAX_GAIN = 4.0
REJOIN_WINDOW = 120.0  # seconds after a restore in which the members of the snapshot get back in
MAX_REJOIN_WINDOW = 86_400.0

__all__ = ["POLICIES", "Room", "RoomPolicy"]


def _locked(method):
    """Control calls come from the server's threads; one at a time per room."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Room:
    """One meeting. Media goes in with push_video/push_audio; tick(t) returns what is due.

    `room_type` is a seed type's name ("sensitive", "administrative", "personal",
    "auditorium", "test"), a RoomPolicy, or a dict for RoomPolicy.from_dict. With
    `host_pin` (and optionally `guest_pin`) the PIN a caller gives decides their role.
    `audit` is a path (JSON Lines, appended) or a callable receiving AuditRecords.
    `history` bounds `room.events`. `pin_cost` is scrypt's work factor (lower it in tests
    only); `pin_clock` the monotonic clock the PIN limits (and a restored room's rejoin
    window) run on. `room.snapshot()` and `Room.restore(snapshot)` carry the control state
    across a restart (vmedia.rooms.snapshot).
    """

    def __init__(
        self,
        room_type: str | RoomPolicy | Mapping[str, Any] = "administrative",
        *,
        name: str = "",
        layout: str | Mapping = "speaker",
        hd1080: bool = False,
        low_profile: bool = False,
        host_pin: str | None = None,
        guest_pin: str | None = None,
        pin_limits: PinLimits = PinLimits(),
        pin_cost: ScryptCost = ScryptCost(),
        pin_clock: Callable[[], float] = time.monotonic,
        audit: str | os.PathLike | AuditSink | None = None,
        history: int = HISTORY,
        on_event: Callable[[Event], None] | None = None,
        **mixer_options,
    ):
        # Everything that can be refused is checked before anything is opened.
        self.policy = policy_for(room_type)
        self.type = self.policy.name
        if hd1080 and not self.policy.allow_1080p:
            raise InvalidInputError(f"1080p is offered in sensitive rooms, not in {self.type!r} rooms")
        self.name = _check_name(name) or f"{self.type} room"
        self._layout = "gallery" if self.policy.self_view else _layout_data(layout)  # as JSON data, for snapshots
        self._variant = mixer_options.get("speaker_variant", "1+7")
        self._pin_clock = pin_clock
        self._pins = PinGate(host_pin, guest_pin, limits=pin_limits, cost=pin_cost, clock=pin_clock)
        self._lock = threading.RLock()
        self.events = EventHistory(self._listener_failed, history)
        self._reports: list[Event] = []  # failures reported between ticks, for the next out.events
        self._deferred: list[Event] = []  # sink news from their writer threads, emitted at the next tick
        self._reports_lock = threading.Lock()
        self.audit = AuditLog(audit, room=self.name, on_error=self._audit_failed)  # a bad path fails here
        # A snapshot carries a file's absolute path (a restarted process may run elsewhere); a callable is passed again.
        self._audit_path = os.path.abspath(os.fsdecode(audit)) if isinstance(audit, (str, os.PathLike)) else None
        self.hd1080, self.low_profile = bool(hd1080), bool(low_profile)
        try:
            self.mixer = Mixer(_profiles(hd1080, low_profile), layout=self._layout, name=self.name, **mixer_options)
        except Exception:
            self.audit.close()
            raise
        self.roles: dict[str, str] = {}  # admitted participants: id -> host | guest | speaker | audience
        self._muted: set[str] = set()
        self._gains: dict[str, float] = {}  # set by a host; 1.0 otherwise
        # After a restore: members of the snapshot not back yet, let in by id until the deadline.
        self._expected: dict[str, MemberState] = {}
        self._rejoin_until = -math.inf
        self._rejoin_window = 0.0
        # Who hung up within the last REJOIN_WINDOW seconds: in the snapshot, so a failover
        # lets them back. A process that is failing drops its callers' connections before it
        # dies, and their departures must not lock them out of the room that comes back.
        self._departed: OrderedDict[str, tuple[MemberState, float]] = OrderedDict()
        # Each member's rejoin token: the secret its client shows to get back in after a
        # failover (the snapshot keeps only its hash). A participant id alone is no proof.
        self._rejoin_tokens: dict[str, str] = {}
        self._expected_spotlight: str | None = None  # the spotlight goes back to them when they rejoin
        self.locked = False
        self.clock: Any = None  # a live driver's MediaClock (vmedia.hosting): room.clock.now() is media time now
        self.muted_all = False  # guests are muted, and join muted, until a host lifts it
        self._sinks: dict[str, ContainerSink] = {}  # "recording" / "streaming"
        if on_event:
            self.events.subscribe(on_event)
        if self.policy.test_tune:
            self.mixer.add_participant(TUNE_ID, "test tune", visible=False)
            self.mixer.set_forced_audio(TUNE_ID, True)
            self._tune = synth.tune(8.0, -20.0)
            self._tune_pos = 0

    # --- who is here ------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """Call `callback(event)` for every event; its exceptions are logged and reported
        as ``listener_failed`` events, never raised into the room."""
        self.events.subscribe(callback)

    @property
    def participants(self) -> list[str]:
        """Admitted participants, in the order they entered."""
        return list(self.roles)

    @property
    def lobby(self) -> dict[str, str]:
        """Who is waiting: id -> display name."""
        return {pid: self.mixer.member(pid).name for pid in self.mixer.waiting}

    def member(self, pid: str) -> Member:
        """The record of someone in the room or in the lobby (name, role, codec, preferences)."""
        if not isinstance(pid, str) or pid == TUNE_ID:
            raise InvalidInputError(f"participant {pid!r} is not in the room")
        return self.mixer.member(pid)

    @property
    def expected(self) -> list[str]:
        """Members of the snapshot this room was restored from who have not rejoined yet
        (empty once the rejoin window has passed)."""
        with self._lock:
            self._expire_expected()
            return list(self._expected)

    def rejoin_token(self, pid: str) -> str:
        """The secret `pid`'s client keeps to get back in after a failover (join's
        `rejoin_token`); issued when it joins, the same after a rejoin. The server hands it
        to that client only (vmedia.webrtc does, in the answer to its offer)."""
        with self._lock:
            token = self._rejoin_tokens.get(pid) if isinstance(pid, str) else None
            if token is None:
                raise InvalidInputError(f"participant {pid!r:.80} is not in the room")
            return token

    @_locked
    def authenticate(self, pid: str, token: object, request: str = "") -> None:
        """Check that a caller acting as `pid` holds pid's rejoin token: a server taking
        control requests from clients cannot trust the id a request names. A mismatch is
        PermissionDenied, audited (`authenticate`, denied, with the `request`)."""
        held = self._rejoin_tokens.get(pid) if isinstance(pid, str) else None
        if not _token_matches(_token_hash(held), token):
            self._refuse(Action.AUTHENTICATE, None, pid if isinstance(pid, str) else None,
                         f"{request[:40]}: the caller does not hold {str(pid)[:80]!r}'s token")

    def role_of(self, pid: str) -> str:
        """host, guest, speaker or audience (someone waiting in the lobby is a guest)."""
        return self.member(pid).role

    def is_muted(self, pid: str) -> bool:
        """Whether `pid` is muted (by themselves, a host, mute-all, or being in the audience)."""
        self._admitted(pid)
        return pid in self._muted

    @property
    def indicators(self) -> list[str]:
        """What every composite says is happening: "recording", "streaming"."""
        return list(self._sinks)

    # --- people -----------------------------------------------------------------------
    @_locked
    def join(self, pid: str, name: str | None = None, *, pin: str | None = None, role: str | None = None,
             audio_codec: str | None = None, profile: str | None = None, content: str | None = None,
             rejoin_token: str | None = None) -> str:
        """Returns "admitted" or "waiting" (in the lobby). In a room with PINs the PIN
        decides the role (a wrong one raises PermissionDenied); without, `role` does
        ("host" or "guest", default guest). `audio_codec` ('opus', the default, 'pcmu',
        'pcma') is both what is decoded from them and what they receive; `content` says how
        they receive a presentation ('separate' or 'in_mix'). The lobby keeps all of it for
        admission.

        In a restored room, a member of the snapshot (see `expected`) showing its
        `rejoin_token` (see `rejoin_token()`) is admitted straight back with the role, mute
        state, stage, gain and preferences it had: no PIN (`pin` and `role` are not looked
        at), no lobby, whatever the lock. What is given here (name, codec: what the new call
        negotiated) replaces the snapshot's; None keeps it. Its id without the token is
        refused until the rejoin window closes: the seat is kept for its owner. The same
        holds, without keeping a seat, for a member who hung up (a dropped call) less than
        REJOIN_WINDOW seconds ago: back with its token, it is back as it was."""
        if pid == TUNE_ID or (isinstance(pid, str) and (pid in self.roles or pid in self.mixer.waiting)):
            raise InvalidInputError(f"participant {pid!r} is already in the room")
        if role is not None and role not in ROLES:
            raise InvalidInputError(f"role must be 'host' or 'guest', got {role!r}")
        self._forget_old_departures()
        if isinstance(pid, str) and pid in self._departed:
            state, _ = self._departed[pid]
            # A dropped call back with its token within the window: as it was (a patient whose
            # Wi-Fi blinked is not sent to the lobby of a locked consultation).
            if (rejoin_token is not None and _token_matches(state.rejoin_hash, rejoin_token)
                    and self._seats_taken() < self.policy.max_participants):
                del self._departed[pid]
                return self._rejoin(state, name, audio_codec, profile, content, rejoin_token, "after a dropped call")
        if self._expected:
            self._expire_expected()
            if isinstance(pid, str) and pid in self._expected:
                state = self._expected[pid]
                if rejoin_token is None or not _token_matches(state.rejoin_hash, rejoin_token):
                    self._refuse(Action.JOIN, pid, pid, f"{pid!r:.80} is expected back after a failover: its seat "
                                                        "is kept for the caller holding its rejoin token")
                return self._rejoin(state, name, audio_codec, profile, content, rejoin_token, "after failover")
        if self._pins.enabled and role is not None:
            raise InvalidInputError("the PIN decides the role in this room; leave role out")
        # The record checks id, name, codec and preferences before any PIN is looked at.
        member = Member.create(pid, name, audio_codec="opus" if audio_codec is None else audio_codec, content=content,
                               profile=profile)
        try:
            granted = self._pins.role_for(pid, pin)
        except PinRefused as e:
            self._pin_refused(pid, e)
            raise
        member.role = granted or role or "guest"
        if self.locked and member.role != "host":
            self._refuse(Action.JOIN, pid, pid, "the room is locked")
        if self._seats_taken() >= self.policy.max_participants:
            self._refuse(Action.JOIN, pid, pid, f"the room is full: a {self.type} room holds at most "
                                               f"{self.policy.max_participants} participants")
        member.waiting = self.policy.lobby and member.role == "guest"
        if member.waiting and len(self.mixer.waiting) >= self.policy.max_participants:
            self._refuse(Action.JOIN, pid, pid, f"the lobby is full: {len(self.mixer.waiting)} people are waiting")
        on_stage = not self.policy.stage or member.role == "host"
        self.mixer.add_member(member, visible=on_stage)
        self._departed.pop(pid, None)  # back the normal way: a new token, the old one is void
        self._rejoin_tokens[pid] = secrets.token_urlsafe(24)
        if member.waiting:
            self._audit(Action.JOIN, pid, pid, Outcome.OK, f"{member.name} as guest, waiting in the lobby")
            return "waiting"
        self._entered(pid, member.role, on_stage)
        self._audit(Action.JOIN, pid, pid, Outcome.OK, f"{member.name} as {self.roles[pid]}")
        return "admitted"

    @_locked
    def admit(self, by: str, pid: str) -> None:
        """A host lets a guest in from the lobby, with the codecs and preferences they
        joined with, if the room has space."""
        self._host_action(Action.ADMIT, by, pid)
        if pid not in self.mixer.waiting:
            self._invalid(Action.ADMIT, by, pid, f"{pid!r} is not waiting in the lobby")
        if self._seats_taken() >= self.policy.max_participants:
            self._refuse(Action.ADMIT, by, pid, f"the room is full ({self._seats_taken()} of {self.policy.max_participants})")
        on_stage = not self.policy.stage
        self.mixer.admit(pid, visible=on_stage)
        self._entered(pid, "guest", on_stage)
        self._audit(Action.ADMIT, by, pid, Outcome.OK)
        self._emit(Event(EventKind.ADMITTED, pid, self.mixer.time, f"by {by}", actor=by))

    @_locked
    def deny(self, by: str, pid: str) -> None:
        """A host turns a guest in the lobby away."""
        self._host_action(Action.REJECT, by, pid)
        if pid not in self.mixer.waiting:
            self._invalid(Action.REJECT, by, pid, f"{pid!r} is not waiting in the lobby")
        self.mixer.remove_participant(pid)
        self._rejoin_tokens.pop(pid, None)
        self._audit(Action.REJECT, by, pid, Outcome.OK)
        self._emit(Event(EventKind.DENIED, pid, self.mixer.time, f"by {by}", actor=by))

    @_locked
    def leave(self, pid: str) -> None:
        """`pid` hangs up, from the room or from the lobby."""
        if isinstance(pid, str) and pid in self.mixer.waiting:
            self.mixer.remove_participant(pid)
            self._rejoin_tokens.pop(pid, None)
            self._audit(Action.LEAVE, pid, pid, Outcome.OK, "from the lobby")
            self._emit(Event(EventKind.LEFT_LOBBY, pid, self.mixer.time, actor=pid))
            return
        if isinstance(pid, str) and pid in self._expected:
            self._drop_expected(pid)
            self._audit(Action.LEAVE, pid, pid, Outcome.OK, "before rejoining after the failover")
            return
        self._admitted(pid)
        self._end_presentation_of(pid, pid, "the presenter left")
        self._departed[pid] = (self._member_state(pid), self._pin_clock())
        while len(self._departed) > self.policy.max_participants:
            self._departed.popitem(last=False)
        self.mixer.remove_participant(pid)  # its "left" event comes with the next tick
        self._forget(pid)
        self._audit(Action.LEAVE, pid, pid, Outcome.OK)

    @_locked
    def remove(self, by: str, pid: str) -> None:
        """A host disconnects someone, from the room or from the lobby (the server then
        hangs up their call)."""
        self._host_action(Action.REMOVE, by, pid)
        if by == pid:
            self._invalid(Action.REMOVE, by, pid, "to leave, call leave(); a host does not remove themselves")
        if isinstance(pid, str) and pid in self.mixer.waiting:
            self.mixer.remove_participant(pid)
            self._rejoin_tokens.pop(pid, None)
        elif isinstance(pid, str) and pid in self._expected:
            self._drop_expected(pid)  # not let back in by the snapshot
        else:
            self._known(Action.REMOVE, by, pid)
            self._end_presentation_of(pid, by, "the presenter was removed")
            self.mixer.remove_participant(pid)
            self._forget(pid)
        self._audit(Action.REMOVE, by, pid, Outcome.OK)
        self._emit(Event(EventKind.REMOVED, pid, self.mixer.time, f"by {by}", actor=by))

    # --- host controls ----------------------------------------------------------------
    @_locked
    def lock(self, by: str, locked: bool = True) -> None:
        """Nobody but hosts may join a locked room."""
        action = Action.LOCK if locked else Action.UNLOCK
        self._host_action(action, by, None, controls=True)
        self.locked = bool(locked)
        self._audit(action, by, None, Outcome.OK)
        self._emit(Event(EventKind.LOCKED if locked else EventKind.UNLOCKED, by, self.mixer.time, actor=by))

    @_locked
    def mute_all(self, by: str, muted: bool = True) -> None:
        """Mute every guest, now and whoever joins later, until a host lifts it
        (`muted=False`, which unmutes the guests). Hosts are never muted by it."""
        action = Action.MUTE_ALL if muted else Action.UNMUTE_ALL
        self._host_action(action, by, None, controls=True)
        self.muted_all = bool(muted)
        for pid, role in self.roles.items():
            if role in ("guest", "speaker"):
                self._set_muted(pid, muted)
        for pid, state in self._expected.items():  # they come back as they would be now
            if state.role in ("guest", "speaker"):
                self._expected[pid] = dataclasses.replace(state, muted=muted)
        self._audit(action, by, None, Outcome.OK)
        self._emit(Event(EventKind.MUTED_ALL if muted else EventKind.UNMUTED_ALL, by, self.mixer.time, actor=by))

    @_locked
    def mute(self, by: str, pid: str, muted: bool = True) -> None:
        """Mute or unmute `pid`. Anyone may mute themselves; muting or unmuting someone
        else needs a host; while mute-all holds, only a host may unmute a guest. A muted
        participant is neither heard nor ever the active speaker."""
        action = Action.MUTE if muted else Action.UNMUTE
        self._known(action, by, pid)
        if by != pid:
            self._host_action(action, by, pid)
        elif not muted and self.muted_all and self.roles[pid] != "host":
            self._refuse(action, by, pid, f"{pid!r} was muted by a host; a host must unmute them")
        if not muted and self.roles[pid] == "audience":
            self._refuse(action, by, pid, f"{pid!r} is in the audience; bring them on stage to be heard")
        self._set_muted(pid, muted)
        self._audit(action, by, pid, Outcome.OK)
        self._emit(Event(EventKind.MUTED if muted else EventKind.UNMUTED, pid, self.mixer.time, f"by {by}", actor=by))

    @_locked
    def set_stage(self, by: str, pid: str, on_stage: bool = True) -> None:
        """Auditorium: bring someone on stage (seen and heard) or back to the audience."""
        action = Action.STAGE_ON if on_stage else Action.STAGE_OFF
        self._host_action(action, by, pid)
        if not self.policy.stage:
            self._invalid(action, by, pid, f"a {self.type} room has no stage")
        self._known(action, by, pid)
        if self.roles[pid] != "host":
            self.roles[pid] = self.mixer.member(pid).role = "speaker" if on_stage else "audience"
        self.mixer.set_visible(pid, on_stage)
        self._set_muted(pid, not on_stage or (self.muted_all and self.roles[pid] != "host"))
        self._audit(action, by, pid, Outcome.OK)
        self._emit(Event(EventKind.STAGE_CHANGED, pid, self.mixer.time, f"{'on' if on_stage else 'off'} stage, by {by}", actor=by))

    @_locked
    def set_layout(self, by: str, layout: str | Mapping, *, variant: str = "1+7", self_view: str | None = None) -> None:
        """gallery, speaker (variant 1+7, 1+21, 2+21, 1+33) or a custom spec; hosts only."""
        self._require_host(by)
        spec = _layout_data(layout)
        self.mixer.set_layout(spec, variant=variant, self_view=self_view)
        self._layout, self._variant = spec, variant

    @_locked
    def pin(self, by: str, pid: str | None) -> None:
        """Spotlight `pid` in the main tile for everyone, whoever speaks (None: follow the
        speaker again); hosts only."""
        self._require_host(by)
        if pid is not None:
            self._admitted(pid)
        self.mixer.pin(pid)
        self._expected_spotlight = None  # a host's newer choice stands when the old spotlight rejoins

    @_locked
    def set_gain(self, by: str, pid: str, gain: float) -> None:
        """Scale `pid`'s voice in everyone's mix (0..4; 1 is as sent); hosts only."""
        self._require_host(by)
        self._admitted(pid)
        if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not 0.0 <= gain <= MAX_GAIN:
            raise InvalidInputError(f"gain must be a number in 0..{MAX_GAIN:g}, got {gain!r}")
        self.mixer.set_gain(pid, float(gain))
        self._gains[pid] = float(gain)

    @_locked
    def rename(self, by: str, name: str) -> None:
        """The room's display name (on the lobby's holding picture, in the audit log); hosts only."""
        self._require_host(by)
        new = _check_name(name)
        if not new:
            raise InvalidInputError("the room's name must not be empty")
        self.name = self.audit.room = self.mixer.name = new

    def request_keyframe(self, pid: str) -> None:
        """`pid` lost pictures (its PLI/FIR): the next frame of the view it receives is an IDR."""
        self.member(pid)
        self.mixer.request_keyframe_for(pid)

    # --- presentation -------------------------------------------------------------------
    @_locked
    def start_presentation(self, by: str, **options) -> None:
        """`by` shares content (a second stream; see Mixer.start_presentation for options).
        In rooms whose policy says so, only hosts may present."""
        self._known(Action.PRESENTATION_START, by, by)
        if not self.policy.guests_present and self.roles[by] != "host":
            self._refuse(Action.PRESENTATION_START, by, None, f"only a host may present in a {self.type} room")
        running = self.mixer.content
        self.mixer.start_presentation(by, **options)  # checks the options; replaces a running one
        if running is not None:
            self._audit(Action.PRESENTATION_STOP, by, running.presenter, Outcome.OK, f"replaced by {by}'s presentation")
        self._audit(Action.PRESENTATION_START, by, None, Outcome.OK)

    def push_content(self, data, t: float) -> None:
        """A frame of the presentation: H.264 (bytes or av.Packet) or an av.VideoFrame."""
        self.mixer.push_content(data, t)

    @_locked
    def stop_presentation(self, by: str) -> None:
        """The presenter or a host ends the presentation."""
        content = self.mixer.content
        if content is None:
            self._invalid(Action.PRESENTATION_STOP, by, None, "no presentation is running")
        if by != content.presenter:
            self._host_action(Action.PRESENTATION_STOP, by, content.presenter)
        self.mixer.stop_presentation()
        self._audit(Action.PRESENTATION_STOP, by, content.presenter, Outcome.OK)

    # --- recording and streaming ------------------------------------------------------
    @_locked
    def start_recording(self, by: str, target: str | os.PathLike, **sink_options) -> ContainerSink:
        """Record the room as observers see it (the broadcast view and the mix) to `target`
        (MP4/MKV; see ContainerSink for options); a REC badge is burned into every
        composite while it runs; hosts only."""
        return self._start_sink("recording", by, target, sink_options)

    @_locked
    def stop_recording(self, by: str) -> None:
        """Finish the recording (the file is complete when this returns); hosts only."""
        self._stop_sink("recording", by)

    @_locked
    def start_streaming(self, by: str, url: str, **sink_options) -> ContainerSink:
        """Stream the room to `url` (rtmp://..., or a file); a LIVE badge is burned into
        every composite while it runs; hosts only."""
        return self._start_sink("streaming", by, url, sink_options)

    @_locked
    def stop_streaming(self, by: str) -> None:
        """End the stream; hosts only."""
        self._stop_sink("streaming", by)

    # --- snapshots and failover ---------------------------------------------------------
    @_locked
    def snapshot(self) -> dict[str, Any]:
        """The room's control state as JSON-ready data (vmedia.rooms.snapshot says what is
        in it): PIN hashes, never PINs. Cheap (no hashing): take one after every control change."""
        self._expire_expected()
        members = [self._member_state(pid) for pid in self.roles] + list(self._expected.values()) + self._recently_departed()
        interrupted = [kind for kind in _SINK_ACTIONS if kind in self._sinks]
        if self.mixer.content is not None:
            interrupted.append("presentation")
        return RoomSnapshot(
            self.name, self.policy, self._layout, self._variant, self.mixer.view_rules[1],
            hd1080=self.hd1080, low_profile=self.low_profile, locked=self.locked, muted_all=self.muted_all,
            spotlight=self.mixer.pinned or self._expected_spotlight, members=tuple(members),
            lobby=tuple(self.mixer.waiting), pins=self._pins.state() if self._pins.enabled else None,
            audit=self._audit_path, interrupted=tuple(interrupted), taken_at=time.time(),
        ).to_dict()

    @classmethod
    def restore(
        cls,
        snapshot: Mapping[str, Any],
        *,
        audit: str | os.PathLike | AuditSink | None = None,
        pin_clock: Callable[[], float] = time.monotonic,
        rejoin_window: float = REJOIN_WINDOW,
        history: int = HISTORY,
        on_event: Callable[[Event], None] | None = None,
        **mixer_options,
    ) -> Room:
        """A room with the control state of `snapshot` (Room.snapshot's dict, or it back
        from JSON). Its members are *expected*, not present: each is admitted straight back
        when it joins again under its id within `rejoin_window` seconds (on `pin_clock`);
        after that the snapshot lets nobody in. Who waited in the lobby must knock again.
        `audit`: the audit sink (None: the snapshot's file, if it had one). `mixer_options`
        are the hosting's (decode_pool, compose_threads, ...). A malformed snapshot is an
        InvalidInputError naming the field; nothing is opened before it is checked."""
        if isinstance(rejoin_window, bool) or not isinstance(rejoin_window, (int, float)) \
                or not 0 <= rejoin_window <= MAX_REJOIN_WINDOW:
            raise InvalidInputError(f"rejoin_window must be seconds in 0..{MAX_REJOIN_WINDOW:g}, got {rejoin_window!r}")
        from_snapshot = sorted(set(mixer_options) & _SNAPSHOT_DECIDES)
        if from_snapshot:
            raise InvalidInputError(f"{from_snapshot} come from the snapshot; restore takes hosting options only")
        snap = RoomSnapshot.from_dict(snapshot)
        profiles = [p.name for p in _profiles(snap.hd1080, snap.low_profile)]
        for i, m in enumerate(snap.members):
            if m.id == TUNE_ID:
                raise InvalidInputError(f"snapshot.members[{i}].id {TUNE_ID!r} is reserved")
            if m.profile is not None and m.profile not in profiles:
                raise InvalidInputError(f"snapshot.members[{i}].profile must be one of {profiles}, got {m.profile!r:.40}")
            if m.gain > MAX_GAIN:
                raise InvalidInputError(f"snapshot.members[{i}].gain must be in 0..{MAX_GAIN:g}, got {m.gain!r}")
        if audit is None and snap.audit is not None:  # the snapshot's log: refused as a snapshot field
            try:
                JsonLinesFile(snap.audit).close()
            except InvalidInputError as e:
                raise InvalidInputError(f"snapshot.audit: {e}") from None
        pins = PinGate.from_state(snap.pins, clock=pin_clock) if snap.pins is not None else None
        room = cls(snap.policy, name=snap.name, layout=snap.layout, hd1080=snap.hd1080, low_profile=snap.low_profile,
                   pin_clock=pin_clock, audit=snap.audit if audit is None else audit, history=history,
                   on_event=on_event, **mixer_options, speaker_variant=snap.variant, self_view=snap.self_view)
        with room._lock:
            if pins is not None:
                room._pins = pins
            room.locked, room.muted_all = snap.locked, snap.muted_all
            room._expected = {m.id: m for m in snap.members}
            room._rejoin_window = float(rejoin_window)
            room._rejoin_until = pin_clock() + rejoin_window
            room._expected_spotlight = snap.spotlight
            room._report_restore(snap)
        return room

    # --- media ------------------------------------------------------------------------
    def push_video(self, pid: str, data, t: float) -> None:
        """`pid`'s H.264 (Annex B bytes or av.Packet) or av.VideoFrame at media time `t`;
        media from the lobby goes nowhere."""
        if not isinstance(pid, str) or pid in self.roles:  # the lobby's goes nowhere; a bad id is refused
            self.mixer.push_video(pid, data, t)

    def push_audio(self, pid: str, data, t: float) -> None:
        """`pid`'s audio in its codec (or float32 48 kHz mono) at media time `t`; media
        from the lobby goes nowhere."""
        if not isinstance(pid, str) or pid in self.roles:  # the lobby's goes nowhere; a bad id is refused
            self.mixer.push_audio(pid, data, t)

    @_locked
    def tick(self, t: float, *, video: bool = True) -> TickOutput:
        """Everything due by media time `t`. The events of the tick are in `out.events`
        (with any listener, audit or sink failures reported since the last tick) and go
        to the history and the listeners; a failing listener never costs the output.
        video=False: mix the audio due and skip the video frames (a host that fell behind)."""
        if self._expected:
            self._expire_expected()
        if self.policy.test_tune:
            self._feed_tune(t)
        out = self.mixer.tick(t, video=video)
        out.events = [e for e in out.events if e.participant != TUNE_ID]
        for kind, sink in list(self._sinks.items()):
            try:
                if not sink.alive:  # its writer gave up (a full disk): say so, take the badge off
                    raise VmediaError(sink.error or "the writer stopped")
                sink.write(out)
            except Exception as e:  # noqa: BLE001  (a broken recording or stream must not stop the room)
                log.error("%s to %s failed: %s", kind, sink.target, e)
                self._drop_sink(kind)
                self._audit(_SINK_ACTIONS[kind][1], None, None, Outcome.FAILED, str(e))
                self._report(Event(f"{kind}_failed", None, self.mixer.time, str(e)))
        with self._reports_lock:
            deferred, self._deferred = self._deferred, []
        out.events += deferred
        for event in out.events:
            self.events.emit(event)
        out.events += self._take_reports()
        return out

    @_locked
    def close(self) -> TickOutput:
        """Finish recordings and streams with the encoders' last packets, close the
        mixer and the audit log. Returns the mixer's final output."""
        final = self.mixer.close()
        for kind in list(self._sinks):
            self._drop_sink(kind, final)
        self.audit.close()
        return final

    # --- internals --------------------------------------------------------------------
    def _seats_taken(self) -> int:
        return len(self.roles) + len(self._expected)  # the expected keep their seats

    def _forget(self, pid: str) -> None:
        del self.roles[pid]
        self._rejoin_tokens.pop(pid, None)
        self._muted.discard(pid)
        self._gains.pop(pid, None)

    def _forget_old_departures(self) -> None:
        """Departures older than the rejoin window (the oldest come first)."""
        since = self._pin_clock() - REJOIN_WINDOW
        while self._departed and next(iter(self._departed.values()))[1] <= since:
            self._departed.popitem(last=False)

    def _recently_departed(self) -> list[MemberState]:
        """Who hung up within the rejoin window and is not back: let in again by a restore."""
        self._forget_old_departures()
        return [state for pid, (state, _) in self._departed.items() if pid not in self.roles and pid not in self._expected]

    def _member_state(self, pid: str) -> MemberState:
        m = self.mixer.member(pid)
        return MemberState(pid, m.name, self.roles[pid], m.audio_codec, m.profile, m.content, pid in self._muted,
                           self.mixer.is_visible(pid), self._gains.get(pid, 1.0), _token_hash(self._rejoin_tokens.get(pid)))

    def _rejoin(self, state: MemberState, name: str | None, audio_codec: str | None, profile: str | None,
                content: str | None, token: str, why: str) -> str:
        """An expected member (after a failover) or a dropped call is back, with its token:
        admitted as it was, whatever the PIN, lobby and lock say."""
        codec = state.audio_codec if audio_codec is None else audio_codec
        if content is None and codec == state.audio_codec:
            content = state.content  # a new codec (a phone now) brings its own default
        member = Member.create(state.id, state.name if name is None else name, audio_codec=codec, content=content,
                               profile=state.profile if profile is None else profile)
        member.role = state.role
        self.mixer.add_member(member, visible=state.on_stage)  # checks the profile; its "joined" comes with the next tick
        self._expected.pop(state.id, None)
        self.roles[state.id] = state.role
        self._rejoin_tokens[state.id] = token  # the same secret stays good for a later failover
        if state.muted:
            self._set_muted(state.id, True)
        if state.gain != 1.0:
            self.mixer.set_gain(state.id, state.gain)
            self._gains[state.id] = state.gain
        if self._expected_spotlight == state.id:
            self.mixer.pin(state.id)
            self._expected_spotlight = None
        self._audit(Action.JOIN, state.id, state.id, Outcome.OK, f"{member.name} as {state.role}, rejoined {why}")
        return "admitted"

    def _drop_expected(self, pid: str) -> None:
        del self._expected[pid]
        if self._expected_spotlight == pid:
            self._expected_spotlight = None

    def _expire_expected(self) -> None:
        """Past the rejoin window the snapshot lets nobody in: whoever is not back must join anew."""
        if not self._expected or self._pin_clock() < self._rejoin_until:
            return
        why = f"did not rejoin within {self._rejoin_window:g} s of the failover"
        for pid in self._expected:
            self._audit(Action.LEAVE, None, pid, Outcome.OK, why)
            self._emit(Event(EventKind.REJOIN_EXPIRED, pid, self.mixer.time, why))
        self._expected.clear()
        self._expected_spotlight = None

    def _report_restore(self, snap: RoomSnapshot) -> None:
        """Audit the restore, who must knock again, and what the failover ended."""
        detail = (f"failover: from a version {VERSION} snapshot taken {utc_iso(snap.taken_at)}; "
                  f"{len(snap.members)} members expected back within {self._rejoin_window:g} s")
        if snap.lobby:
            detail += f"; {len(snap.lobby)} waiting in the lobby must knock again"
        self._audit(Action.RESTORED, None, None, Outcome.OK, detail)
        for pid in snap.lobby:
            self._audit(Action.LEAVE, None, pid, Outcome.OK, "from the lobby: lost in the failover, must knock again")
        for kind in snap.interrupted:
            if kind == "presentation":
                self._audit(Action.PRESENTATION_STOP, None, None, Outcome.OK, "ended by the failover")
                self._emit(Event(EventKind.PRESENTATION_STOPPED, None, self.mixer.time, "ended by the failover"))
            else:
                why = "interrupted by the failover; a host must start it again"
                self._audit(_SINK_ACTIONS[kind][1], None, None, Outcome.FAILED, why)
                self._emit(Event(f"{kind}_failed", None, self.mixer.time, why))
        self._emit(Event(EventKind.RESTORED, None, self.mixer.time, detail))

    def _entered(self, pid: str, role: str, on_stage: bool) -> None:
        self.roles[pid] = self.mixer.member(pid).role = role if on_stage else "audience"
        if not on_stage or (self.muted_all and role != "host"):
            self._set_muted(pid, True)

    def _end_presentation_of(self, pid: str, by: str, why: str) -> None:
        """Audit the presentation that ends because its presenter goes (the mixer ends it)."""
        content = self.mixer.content
        if content is not None and content.presenter == pid:
            self._audit(Action.PRESENTATION_STOP, by, pid, Outcome.OK, why)

    def _set_muted(self, pid: str, muted: bool) -> None:
        self.mixer.set_muted(pid, muted)  # neither heard nor ever the active speaker
        (self._muted.add if muted else self._muted.discard)(pid)

    def _start_sink(self, kind: str, by: str, target, options: dict) -> ContainerSink:
        start, _ = _SINK_ACTIONS[kind]
        self._host_action(start, by, None)
        if kind in self._sinks:
            self._invalid(start, by, None, f"the room is already {kind}")
        if "on_event" in options:
            self._invalid(start, by, None, "the room reports sink events itself; subscribe to the room")
        try:
            sink = ContainerSink(self.mixer, target, on_event=self._defer, **options)
        except TypeError as e:  # an unknown option
            self._invalid(start, by, None, f"{kind}: {e}")
        except VmediaError as e:
            self._audit(start, by, None, Outcome.INVALID, str(e))
            raise
        self._sinks[kind] = sink
        self.mixer.set_indicators(self.indicators)
        self._audit(start, by, None, Outcome.OK)
        self._emit(Event(f"{kind}_started", None, self.mixer.time, f"by {by}", actor=by))
        return sink

    def _stop_sink(self, kind: str, by: str) -> None:
        _, stop = _SINK_ACTIONS[kind]
        self._host_action(stop, by, None)
        if kind not in self._sinks:
            self._invalid(stop, by, None, f"the room is not {kind}")
        self._drop_sink(kind)
        self._audit(stop, by, None, Outcome.OK)
        self._emit(Event(f"{kind}_stopped", None, self.mixer.time, f"by {by}", actor=by))

    def _drop_sink(self, kind: str, final: TickOutput | None = None) -> None:
        sink = self._sinks.pop(kind)
        if not self.mixer.closed:
            self.mixer.set_indicators(self.indicators)
        sink.close(final)  # never raises: problems are in its stats and events

    def _feed_tune(self, t: float) -> None:
        while self._tune_pos * FRAME_SECONDS < t + FRAME_SECONDS:
            i = (self._tune_pos * FRAME_SIZE) % (len(self._tune) - FRAME_SIZE)
            self.mixer.push_audio(TUNE_ID, np.ascontiguousarray(self._tune[i : i + FRAME_SIZE]), self._tune_pos * FRAME_SECONDS)
            self._tune_pos += 1

    def _admitted(self, pid: str) -> None:
        if not isinstance(pid, str) or pid not in self.roles:
            waiting = isinstance(pid, str) and pid in self.mixer.waiting
            raise InvalidInputError(f"participant {pid!r} is " + ("waiting in the lobby" if waiting else "not in the room"))

    def _require_host(self, pid: str, *, controls: bool = False) -> None:
        if not isinstance(pid, str) or self.roles.get(pid) != "host":
            raise PermissionDenied(f"{pid!r} is not a host of this room")
        if controls and not self.policy.host_controls:
            raise PermissionDenied(f"a {self.type} room has no host controls")

    def _host_action(self, action: Action, by: str, target: str | None, *, controls: bool = False) -> None:
        """Refuse (and audit the refusal) unless `by` is a host with this right here."""
        try:
            self._require_host(by, controls=controls)
        except PermissionDenied as e:
            self._refuse(action, by, target, str(e))

    def _known(self, action: Action, by: str, pid: str) -> None:
        try:
            self._admitted(pid)
        except InvalidInputError as e:
            self._invalid(action, by, pid, str(e))

    def _refuse(self, action: Action, by: str | None, target: str | None, reason: str) -> NoReturn:
        self._audit(action, by, target, Outcome.DENIED, reason)
        raise PermissionDenied(reason)

    def _invalid(self, action: Action, by: str, target: str | None, reason: str) -> NoReturn:
        self._audit(action, by, target, Outcome.INVALID, reason)
        raise InvalidInputError(reason)

    def _pin_refused(self, pid: str, e: PinRefused) -> None:
        # The reason and the wait, never the PIN.
        detail = f"{e.reason}: {e}"
        self._audit(Action.PIN_FAILED, pid, pid, Outcome.DENIED, detail)
        self._emit(Event(EventKind.PIN_FAILED, pid, self.mixer.time, detail, actor=pid))
        if e.locked_out:
            whom = "PIN entry to the room" if e.scope == "room" else repr(pid)
            self._audit(Action.PIN_LOCKOUT, pid, None if e.scope == "room" else pid, Outcome.DENIED,
                        f"{whom} locked for {e.retry_after_s:.0f} s")
            self._emit(Event(EventKind.PIN_LOCKED_OUT, pid, self.mixer.time, f"{e.scope} locked for {e.retry_after_s:.0f} s"))

    def _audit(self, action: Action, actor: str | None, target: str | None, outcome: Outcome, detail: str = "") -> None:
        if actor is not None and not isinstance(actor, str):
            actor = repr(actor)[:80]
        if target is not None and not isinstance(target, str):
            target = repr(target)[:80]
        self.audit.record(action, actor=actor, target=target, outcome=outcome, detail=detail)

    def _audit_failed(self, exc: Exception, record: AuditRecord) -> None:
        self._report(Event(EventKind.AUDIT_FAILED, record.actor, self.mixer.time, f"{record.action}: {exc!r}"))

    def _listener_failed(self, listener, event: Event, exc: Exception) -> Event:
        name = getattr(listener, "__qualname__", None) or repr(listener)
        failure = Event(EventKind.LISTENER_FAILED, event.participant, event.time, f"{name} on {event.kind}: {exc!r}")
        with self._reports_lock:
            self._reports.append(failure)  # the history and the listeners get it from EventHistory
        return failure

    def _report(self, event: Event) -> None:
        """A failure outside a tick (an audit sink, a sink's write): into the history and
        to the listeners now, and into the next tick's out.events."""
        with self._reports_lock:
            self._reports.append(event)
        self.events.emit(event)

    def _defer(self, event: Event) -> None:
        """A sink's news from its writer thread: listeners hear it on the tick's thread."""
        with self._reports_lock:
            self._deferred.append(event)

    def _take_reports(self) -> list[Event]:
        with self._reports_lock:
            reports, self._reports = self._reports, []
        return reports

    def _emit(self, event: Event) -> None:
        self.events.emit(event)


_SINK_ACTIONS = {"recording": (Action.RECORDING_START, Action.RECORDING_STOP),
                 "streaming": (Action.STREAMING_START, Action.STREAMING_STOP)}
# Room keywords a restore takes from the snapshot, not from the caller.
_SNAPSHOT_DECIDES = frozenset({"name", "layout", "hd1080", "low_profile", "host_pin", "guest_pin", "pin_limits",
                               "pin_cost", "room_type", "speaker_variant", "self_view"})


def _profiles(hd1080: bool, low_profile: bool) -> list[OutputProfile]:
    return [FULL_HD if hd1080 else HD] + ([LOW] if low_profile else [])


def _layout_data(layout: str | Mapping) -> str | dict:
    """A layout as JSON data (a custom spec is copied through JSON), so a snapshot can carry it."""
    if isinstance(layout, Mapping):
        try:
            return json.loads(json.dumps(layout))
        except (TypeError, ValueError) as e:
            raise InvalidInputError(f"a custom layout must be JSON data: {e}") from None
    return layout


def _check_name(name: str | None) -> str:
    if name is None:
        return ""
    if not isinstance(name, str) or len(name) > 256:
        raise InvalidInputError(f"a room name must be a string of at most 256 characters, got {type(name).__name__}")
    return name


def _token_hash(token: str | None) -> str | None:
    """A rejoin token's SHA-256, hex: tokens are 192 random bits, so a plain hash is enough."""
    return None if token is None else hashlib.sha256(token.encode()).hexdigest()


def _token_matches(expected_hash: str | None, token: object) -> bool:
    if expected_hash is None or not isinstance(token, str) or len(token) > 256:
        return False
    return hmac.compare_digest(hashlib.sha256(token.encode()).hexdigest(), expected_hash)
