"""Mixer: the media engine of one room — tick orchestration only.

Inputs are pushed with media timestamps (seconds); `tick(t)` produces everything due at
media time t. Offline drivers call tick on a synthetic clock (as fast as the CPU allows,
deterministic); live drivers call it on the wall clock (see vmedia.hosting).

Per tick: every 20 ms the audio core mixes (levels, speaker, mix-minus) and each
receiver's audio is encoded once per distinct (codec, mix); every 1/fps the view policy
says which distinct views the receivers need, the visible inputs are decoded in parallel,
and each view is composed and encoded once (see vmedia.video.views).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import logging
import math
import numbers
import os
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor


from vmedia import _core
from vmedia.audio import AudioMixer
from vmedia.audio.streams import ReceiverAudio
from vmedia.codecs.video import HD, OutputProfile, VideoEncoder
from vmedia.engine.events import Event, EventKind
from vmedia.engine.member import Member
from vmedia.engine.output import AudioFrameOut, TickOutput, VideoFrameOut
from vmedia.errors import InvalidInputError, VmediaError
from vmedia.inputs.audio import AudioInput
from vmedia.inputs.video import MAX_INPUT_SIZE, VideoInput, check_media_time
from vmedia import layouts
from vmedia.media.frames import I420Frame
from vmedia.media.time import EPS, FRAME_SECONDS
from vmedia.video import indicators
from vmedia.video.compositor import Compositor, Overlay
from vmedia.video.content import ContentStream
from vmedia.media.labels import label_size
from vmedia.video.label_cache import LabelCache, default_label_cache
from vmedia.video.tile_plan import TilePlan, TileStyle
from vmedia.video.views import CONTENT, LOBBY, ViewPolicy

log = logging.getLogger("vmedia.mixer")
MAX_TICK_SPAN = 2.0  # seconds of media one tick may produce; a longer jump skips ahead


def _locked(method):
    """Run under the mixer's lock: membership and settings change between ticks, never
    during one. Media pushes take no mixer lock, so network threads never wait a tick."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _open(method):
    """_locked, and refused once the mixer is closed (its encoders are flushed)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            if self._closed:
                raise VmediaError(f"the mixer is closed; {method.__name__} is refused")
            return method(self, *args, **kwargs)

    return wrapper


_shared_pool: ThreadPoolExecutor | None = None
_live_mixers: weakref.WeakSet = weakref.WeakSet()
EXIT_WAIT = 5.0  # seconds interpreter exit waits for running ticks


@atexit.register
def _hold_mixers_at_exit() -> None:
    """At interpreter exit, daemon threads are killed (pthread_exit) when they next take the
    GIL; one killed as it leaves the core, which released the GIL, unwinds through a C++
    destructor and aborts the process ("terminate called without an active exception").
    So wait for running ticks to finish and keep every mixer's lock: no thread enters the
    core through a mixer again. atexit runs on the main thread; the lock is reentrant, so
    later exit handlers there (closing a recording) still work."""
    deadline = time.monotonic() + EXIT_WAIT
    for mixer in list(_live_mixers):
        mixer._lock.acquire(timeout=max(0.0, deadline - time.monotonic()))


def shared_decode_pool() -> ThreadPoolExecutor:
    """One decode pool for every room in the process (a server runs many rooms): one
    thread per core, since FFmpeg's decoders release the GIL."""
    global _shared_pool
    if _shared_pool is None:
        _shared_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="vmedia-decode")
    return _shared_pool


def _check_number(value, what: str, lo: float, hi: float, *, integer: bool = False) -> None:
    """A setting must be a real number (an int where `integer`) within lo..hi."""
    kinds = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kinds) or not lo <= value <= hi:  # type: ignore[operator]
        raise InvalidInputError(f"{what} must be {'an integer' if integer else 'a number'} in {lo}..{hi}, got {value!r:.40}")


class _View:
    """One distinct view's encoder and the plan it was last drawn with."""

    def __init__(self, profile: OutputProfile):
        self.encoder = VideoEncoder(profile)
        self.plan: TilePlan | None = None
        self.plan_key: tuple | None = None


class Mixer:
    """One room's media engine: participants in, each receiver's view and mix out.

    Shared resources come from the owner (a RoomHost) or fall back to process defaults:
    `decode_pool` (decodes and view encodes), `compose_workers` (a _core.ComposeContext:
    compose threads and the tap-table cache; `compose_threads` per canvas, default all of
    its threads, or 1 without one) and `label_cache` (a LabelCache of rendered names and
    cards)."""

    def __init__(
        self,
        profiles: Sequence[OutputProfile] = (HD,),
        *,
        layout: str | Mapping = "gallery",
        speaker_variant: str = "1+7",
        self_view: str = "include",
        views: str = "per_receiver",
        max_mixed: int = 3,
        audio_codec: str = "opus",
        stall_after: float = 0.5,
        placeholder_after: float = 3.0,
        labels: bool = True,
        decode_threads: int | None = None,
        decode_pool: Executor | None = None,
        compose_threads: int | None = None,
        compose_workers: _core.ComposeContext | None = None,
        label_cache: LabelCache | None = None,
        background: str = "#101014",
        name: str = "",
        max_input_size: tuple[int, int] = MAX_INPUT_SIZE,
    ):
        if not isinstance(profiles, Sequence) or not profiles or not all(isinstance(p, OutputProfile) for p in profiles):
            raise InvalidInputError(f"a mixer needs a list of one or more OutputProfiles, got {profiles!r:.80}")
        _check_number(max_mixed, "max_mixed", 1, 64, integer=True)
        _check_number(stall_after, "stall_after", 0.0, 3600.0)
        _check_number(placeholder_after, "placeholder_after", 0.0, 3600.0)
        if compose_threads is not None:
            _check_number(compose_threads, "compose_threads", 1, _core.MAX_THREADS, integer=True)
        if label_cache is not None and not isinstance(label_cache, LabelCache):
            raise InvalidInputError(f"label_cache must be a LabelCache, got {type(label_cache).__name__}")
        if decode_threads is not None:
            _check_number(decode_threads, "decode_threads", 1, 256, integer=True)
        if not isinstance(name, str):
            raise InvalidInputError(f"the room's name must be a string, got {type(name).__name__}")
        if not (isinstance(max_input_size, tuple) and len(max_input_size) == 2):
            raise InvalidInputError(f"max_input_size must be (width, height), got {max_input_size!r:.40}")
        for side in max_input_size:
            _check_number(side, "max_input_size", 16, 4096, integer=True)
        fps = {p.fps for p in profiles}
        if len(fps) != 1:
            raise InvalidInputError(f"all output profiles must share one frame rate, got {sorted(fps)}")
        if len({p.name for p in profiles}) != len(profiles):
            raise InvalidInputError("output profile names must be unique")
        if audio_codec not in ("opus", "pcmu", "pcma"):
            raise InvalidInputError(f"unknown audio codec {audio_codec!r}; expected one of ['opus', 'pcmu', 'pcma']")
        self.fps = fps.pop()
        self.profiles = list(profiles)
        self._profiles = {p.name: p for p in profiles}
        self.stall_after, self.placeholder_after = stall_after, placeholder_after
        self.labels = labels
        self.name = name
        self.max_input_size = max_input_size  # larger senders are refused with an event
        self.audio_codec = audio_codec  # the default for add_participant
        if views not in ("per_receiver", "shared"):
            raise InvalidInputError(f"views must be 'per_receiver' or 'shared', got {views!r}")
        # "shared": everyone in the room gets the broadcast view (one encode per profile;
        # the speaker sees themselves large) — for rooms that forward one stream to all.
        self.views = views
        self._policy = ViewPolicy(layout, variant=speaker_variant, self_view=self_view)
        self._lock = threading.RLock()
        _live_mixers.add(self)
        self._closed = False
        self._members: dict[str, Member] = {}  # everyone who receives: in the room or waiting
        self._video_in: dict[str, VideoInput] = {}  # admitted participants' inputs
        self._audio_in: dict[str, AudioInput] = {}
        self._hidden: set[str] = set()
        self._indicators: list[str] = []  # recording / streaming badges on the composites
        # Compose workers and the tap-table cache are the owner's (a RoomHost's), else the
        # core's default context; so are the rendered labels and cards.
        self._compose_workers, self._compose_threads = compose_workers, compose_threads
        self._compositors = {p.name: Compositor(p.width, p.height, background, threads=compose_threads,
                                                workers=compose_workers) for p in profiles}
        self.label_cache = label_cache if label_cache is not None else default_label_cache
        self._views: dict[str, _View] = {}  # view key -> its encoder
        self._view_of: dict[str, str] = {}  # receiver -> view key it was last sent
        self._keyframe_for: set[str] = set()  # receivers that asked for a keyframe (PLI/FIR)
        self._broadcast_keys: dict[str, str] = {}  # profile -> the broadcast view key last frame
        self._extradata: dict[str, bytes] = {}
        self._audio = AudioMixer(max_mixed)
        self._rx_audio = ReceiverAudio()
        # Decodes run on a pool: one injected by the owner (a RoomHost sizes it to its cores
        # and counts each room's share), threads of the mixer's own, or the process-wide one.
        if decode_pool is not None and decode_threads is not None:
            raise InvalidInputError("give decode_pool or decode_threads, not both")
        self._own_pool = decode_threads is not None
        if decode_pool is not None:
            self._pool = decode_pool
        elif self._own_pool:
            self._pool = ThreadPoolExecutor(max_workers=decode_threads, thread_name_prefix="vmedia-decode")
        else:
            self._pool = shared_decode_pool()
        self.video_encodes = 0  # frames encoded over all views, for cost accounting
        self._video_index = 0  # next output video frame
        self._audio_index = 0  # next 20 ms audio frame
        self._history: list[str] = []  # latest speakers first
        self._broadcast_layout: layouts.Layout | None = None
        self.dominant: str | None = None
        self.pinned: str | None = None  # a participant forced into the main tile
        self.content: ContentStream | None = None
        self._pending_events: list[Event] = []
        self.time = 0.0

    # --- membership -------------------------------------------------------------------
    @property
    def participants(self) -> list[str]:
        """Everyone in the room (not those waiting in the lobby)."""
        return list(self._video_in)

    @property
    def view_rules(self) -> tuple[str, str, str]:
        """(layout kind, self-view rule, views mode): what decides how many distinct views
        the room draws, for cost estimates."""
        return self._policy.kind, self._policy.self_view, self.views

    @property
    def waiting(self) -> list[str]:
        return [pid for pid, m in self._members.items() if m.waiting]

    def member(self, pid: str) -> Member:
        found = self._members.get(pid) if isinstance(pid, str) else None
        if found is None:
            raise InvalidInputError(f"participant {pid!r:.80} is not in the room")
        return found

    @_open
    def add_participant(self, pid: str, name: str | None = None, *, audio_codec: str | None = None, visible: bool = True,
                        profile: str | None = None, content: str | None = None, waiting: bool = False) -> Member:
        """Someone who receives the room. `visible=False` keeps a participant out of every
        layout (an audience member, a test tune): never decoded, still heard unless muted.
        `waiting=True` puts them in the lobby: they get the holding view and silence, and
        nothing of theirs reaches the room until admit()."""
        if pid in self._members:
            raise InvalidInputError(f"participant {pid!r} is already in the room")
        member = Member.create(pid, name, audio_codec=audio_codec or self.audio_codec, content=content,
                               profile=self._check_profile(profile), waiting=waiting)
        self.add_member(member, visible=visible)
        return member

    @_open
    def add_member(self, member: Member, *, visible: bool = True) -> None:
        """Add a record made elsewhere (a Room keeps the same record in its lobby)."""
        if not isinstance(member, Member):
            raise InvalidInputError(f"expected a Member (see Member.create), got {type(member).__name__}")
        if member.id in self._members:
            raise InvalidInputError(f"participant {member.id!r} is already in the room")
        self._check_profile(member.profile)
        if self.labels:
            self._label(member.name, self.profiles[0].height, None)  # rendered now, not in a tick
        self._members[member.id] = member
        if not member.waiting:
            self._enter(member, visible)
        else:
            self._emit(EventKind.WAITING, member.id)

    @_open
    def admit(self, pid: str, *, visible: bool = True) -> None:
        """A waiting member enters the room with the codecs and preferences they came with."""
        member = self.member(pid)
        if not member.waiting:
            raise InvalidInputError(f"{pid!r} is not waiting in the lobby")
        member.waiting = False
        self._enter(member, visible)

    def _enter(self, member: Member, visible: bool) -> None:
        video = VideoInput(member.id, max_size=self.max_input_size)
        video.now = self.time
        audio = AudioInput(member.id, member.audio_codec)
        audio.now_index = self._audio_index
        self._video_in[member.id], self._audio_in[member.id] = video, audio
        self._audio.add(member.id)
        if not visible:
            self._hidden.add(member.id)
            self._audio.set_speaker_eligible(member.id, False)
        self._emit(EventKind.JOINED, member.id)

    @_locked
    def remove_participant(self, pid: str) -> None:
        member = self.member(pid)
        del self._members[pid]
        self._view_of.pop(pid, None)
        self._keyframe_for.discard(pid)
        if member.waiting:
            return
        del self._video_in[pid], self._audio_in[pid]
        self._hidden.discard(pid)
        self._audio.remove(pid)
        if pid in self._history:
            self._history.remove(pid)
        if self.dominant == pid:
            self.dominant = None
        if self.pinned == pid:
            self.pinned = None
        if self.content and self.content.presenter == pid:
            self._stop_content(self.content)
        self._emit(EventKind.LEFT, pid)

    @_locked
    def set_visible(self, pid: str, visible: bool) -> None:
        """Someone no layout shows can never be the active speaker (an auditorium's audience)."""
        self._admitted(pid)
        (self._hidden.discard if visible else self._hidden.add)(pid)
        self._audio.set_speaker_eligible(pid, visible)

    def is_visible(self, pid: str) -> bool:
        """Whether layouts show `pid` (False: an auditorium's audience, a test tune)."""
        self._admitted(pid)
        return pid not in self._hidden

    @_locked
    def set_forced_audio(self, pid: str, forced: bool) -> None:
        """Always mix this participant (a presenter on stage, the test-room tune)."""
        self._admitted(pid)
        self._audio.set_forced(pid, forced)

    @_locked
    def set_layout(self, layout: str | Mapping, *, variant: str = "1+7", content: str | None = None,
                   self_view: str | None = None) -> None:
        """A broken layout (unknown name, invalid custom spec) is refused here, never at a tick."""
        self._policy = ViewPolicy(layout, variant=variant, content=content, self_view=self_view or self._policy.self_view)

    @_locked
    def pin(self, pid: str | None) -> None:
        """Show `pid` as the main tile whoever speaks (None: follow the speaker)."""
        if pid is not None:
            self._admitted(pid)
        self.pinned = pid

    @_locked
    def set_muted(self, pid: str, muted: bool) -> None:
        """Muted: not mixed and never the active speaker; unmuting makes them eligible again."""
        self._admitted(pid)
        self._audio.set_muted(pid, muted)

    @_locked
    def set_indicators(self, kinds: Sequence[str]) -> None:
        """Burn these badges ("recording", "streaming") into every view but the lobby's,
        from the next frame on, so everyone who sees the room knows."""
        indicators.placements(kinds, 64, 64)  # refuses unknown kinds before anything changes
        self._indicators = list(kinds)

    @_locked
    def set_gain(self, pid: str, gain: float) -> None:
        _check_number(gain, "gain", 0.0, 16.0)
        self._admitted(pid)
        self._audio.set_gain(pid, gain)

    @_locked
    def set_av_offset(self, pid: str, seconds: float) -> None:
        """Lip-sync trim: play this participant's audio `seconds` later (negative: earlier)
        than its timestamps say, for senders whose capture paths are skewed."""
        if not isinstance(seconds, (int, float)) or not -1.0 <= seconds <= 1.0:
            raise InvalidInputError(f"A/V offset must be within ±1 s, got {seconds}")
        self._admitted(pid)
        self._audio_in[pid].av_offset = float(seconds)

    def request_keyframe(self, profile: str | None = None) -> None:
        """Every view of `profile` (all profiles by default) starts its next frame with an
        IDR — for a sink that just connected."""
        with self._lock:
            if profile is not None:
                self._check_profile(profile)
            for key, view in self._views.items():
                if profile in (None, view.encoder.profile.name):
                    view.encoder.request_keyframe()
            if self.content and profile is None:
                self.content.request_keyframe()

    def video_extradata(self, profile: str | None = None) -> bytes:
        """The SPS/PPS every view of `profile` is encoded with, for muxers that want them
        out of band (MP4, FLV). Views of one profile share their encoder settings."""
        name = self._check_profile(profile) or self.profiles[0].name
        if name not in self._extradata:
            self._extradata[name] = bytes(VideoEncoder(self._profiles[name]).context.extradata or b"")
        return self._extradata[name]

    def request_keyframe_for(self, pid: str) -> None:
        """Receiver `pid` lost pictures (its PLI/FIR): the next frame of its view is an IDR."""
        with self._lock:
            self.member(pid)
            self._keyframe_for.add(pid)

    @_locked
    def layout(self, profile: str | None = None) -> layouts.Layout:
        """The broadcast view's layout (what an observer outside the room sees)."""
        prof = self._profiles[self._check_profile(profile) or self.profiles[0].name]
        rule, ids, mains = self._policy.broadcast(self._shown(), self._order(), self.content is not None)
        layout = self._policy.layout(rule, prof, ids, mains)
        assert layout is not None  # only the lobby has none, and observers never see the lobby
        return layout

    @_locked
    def layout_for(self, pid: str) -> layouts.Layout | None:
        """The layout `pid` receives (None for the lobby's holding picture)."""
        member = self.member(pid)
        view_of, specs = self._assign({pid: member})
        rule, prof, ids, mains = specs[view_of[pid]]
        return self._policy.layout(rule, prof, ids, mains)

    # --- presentation -------------------------------------------------------------------
    @_open
    def start_presentation(self, presenter: str, *, width: int = 1920, height: int = 1080, fps: int = 15,
                           bitrate: int = 1_500_000) -> None:
        """Shared content becomes a second stream (TickOutput.content); receivers that take
        one stream get it in their composite. A new presentation replaces a running one."""
        for value, what, lo, hi in ((width, "width", 2, 3840), (height, "height", 2, 2160), (fps, "fps", 1, 60),
                                    (bitrate, "bitrate", 10_000, 50_000_000)):
            _check_number(value, f"presentation {what}", lo, hi, integer=True)
        self._admitted(presenter)
        if self.content:
            self._stop_content(self.content)
        self.content = ContentStream(presenter, width=width, height=height, fps=fps, bitrate=bitrate, start=self.time,
                                     threads=self._compose_threads, workers=self._compose_workers)
        self._emit(EventKind.PRESENTATION_STARTED, presenter)

    def push_content(self, data, t: float) -> None:
        """A frame of the presentation: H.264 (bytes or av.Packet) or an av.VideoFrame."""
        content = self.content
        if content is None:
            raise InvalidInputError("no presentation is running; call start_presentation first")
        content.push(data, t)

    @_locked
    def stop_presentation(self) -> None:
        if self.content is None:
            raise InvalidInputError("no presentation is running")
        self._stop_content(self.content)

    def _stop_content(self, content: ContentStream) -> None:
        self.content = None
        self._emit(EventKind.PRESENTATION_STOPPED, content.presenter)

    # --- inputs -----------------------------------------------------------------------
    def push_video(self, pid: str, data, t: float) -> None:
        """H.264 (Annex B bytes or av.Packet) or a decoded av.VideoFrame, at media time t."""
        self._input(self._video_in, pid).push(data, t)

    def push_audio(self, pid: str, data, t: float) -> None:
        """An encoded packet (the participant's codec), an av.AudioFrame, or float32
        48 kHz mono samples, starting at media time t."""
        self._input(self._audio_in, pid).push(data, t)

    def input_stats(self, pid: str) -> dict:
        """Counters of what `pid` sent and what became of it."""
        video, audio = self._input(self._video_in, pid), self._input(self._audio_in, pid)
        return {"video": vars(video.stats).copy(), "audio": vars(audio.stats).copy(), "video_queued": video.queued}

    def _input(self, inputs: dict, pid):
        if self._closed:
            raise VmediaError("the mixer is closed")
        found = inputs.get(pid) if isinstance(pid, str) else None
        if found is None:
            waiting = isinstance(pid, str) and pid in self._members
            raise InvalidInputError(f"participant {pid!r} is " + ("waiting in the lobby" if waiting else "not in the room"))
        return found

    # --- time -------------------------------------------------------------------------
    @_open
    def tick(self, t: float, *, video: bool = True) -> TickOutput:
        """Produce everything due by media time t (audio in 20 ms frames, video at fps).
        A jump of more than MAX_TICK_SPAN seconds skips the media in between (an event
        says so) instead of producing it all in one call. video=False (a live driver that
        fell behind): mix the audio, skip the video frames due without composing them;
        the next composed frame shows the newest pictures."""
        t = check_media_time(t, "tick")
        out = TickOutput()
        if t - self.time > MAX_TICK_SPAN:
            skipped = t - MAX_TICK_SPAN - self.time
            self._audio_index = max(self._audio_index, math.ceil((t - MAX_TICK_SPAN) / FRAME_SECONDS - EPS))
            self._video_index = max(self._video_index, math.ceil((t - MAX_TICK_SPAN) * self.fps - EPS))
            if self.content is not None:
                self.content.skip_until(t - MAX_TICK_SPAN)
            self._emit(EventKind.STREAM_ERROR, None, f"tick jumped {skipped:.3f} s ahead; that media was skipped")
        for stream in [*self._video_in.values(), *([self.content.input] if self.content else [])]:
            stream.now = max(stream.now, t)  # the look-ahead bound of pushes follows the clock
        while (self._audio_index + 1) * FRAME_SECONDS <= t + EPS:
            self._mix_audio(out)
        if self.content is not None:
            out.content, problems = self.content.tick(t)
            out.content_picture = self.content.picture
            out.events += [Event(EventKind.STREAM_ERROR, self.content.presenter, t, f"content: {p}") for p in problems]
        while self._video_index / self.fps <= t + EPS:
            if video:
                self._compose_video(out)
            else:
                self._video_index += 1
        self.time = max(self.time, t)
        out.events = self._pending_events + out.events
        self._pending_events = []
        return out

    @_locked
    def close(self) -> TickOutput:
        """Flush the encoders; the mixer refuses media and ticks afterwards (close again:
        nothing more to flush)."""
        out = TickOutput()
        if self._closed:
            return out
        for key, view in self._views.items():
            out.views[key] = view.encoder.flush()
        out.broadcast = {p.name: self._broadcast_key(p) for p in self.profiles}
        if self.content:
            out.content = self.content.close()
        if self._own_pool:
            self._pool.shutdown(wait=True)
        self._closed = True
        return out

    @property
    def audio_encodes(self) -> int:
        """Audio frames encoded over all receivers' streams (one per distinct codec and mix)."""
        return self._rx_audio.encodes

    @property
    def closed(self) -> bool:
        return self._closed

    # --- audio ------------------------------------------------------------------------
    def _mix_audio(self, out: TickOutput) -> None:
        j = self._audio_index
        now = j * FRAME_SECONDS
        frames = {}
        for pid, audio in self._audio_in.items():
            f = audio.take(j)
            if f is not None:
                frames[pid] = f
            out.events += [Event(EventKind.STREAM_ERROR, pid, now, f"audio: {p}") for p in audio.problems()]
        mix = self._audio.process(frames)
        out.mixes.append(mix)
        for kind, pid in mix.events:
            if pid in self._members:
                out.events.append(Event(kind, pid, now))
        if mix.dominant != self.dominant and mix.dominant in self._video_in:
            self.dominant = mix.dominant
            if mix.dominant in self._history:
                self._history.remove(mix.dominant)
            self._history.insert(0, mix.dominant)
        receivers = {pid: m.audio_codec for pid, m in self._members.items()}
        waiting = frozenset(pid for pid, m in self._members.items() if m.waiting)
        shared, packets = self._rx_audio.encode(j, mix, receivers, waiting)
        out.shared_audio += shared
        out.audio_frames.append(AudioFrameOut(packets, waiting))
        self._audio_index += 1

    # --- video ------------------------------------------------------------------------
    def _shown(self) -> list[str]:
        return [p for p in self._video_in if p not in self._hidden]

    def _order(self) -> list[str]:
        """Who deserves a main tile first: the pinned participant, then the latest speakers."""
        return ([self.pinned] if self.pinned else []) + [p for p in self._history if p != self.pinned]

    def _assign(self, members: Mapping[str, Member]) -> tuple[dict[str, str], dict[str, tuple]]:
        receivers = {
            pid: (self._profiles[m.profile or self.profiles[0].name], m.waiting, m.content == "in_mix")
            for pid, m in members.items()
        }
        view_of, specs = self._policy.assign(self._shown(), self._order(), receivers, self.content is not None)
        if self.views == "shared":
            rule, ids, mains = self._policy.broadcast(self._shown(), self._order(), self.content is not None)
            for pid, (prof, waiting, _) in receivers.items():
                if not waiting:
                    view_of[pid] = f"{rule}@{prof.name}"
                    specs.setdefault(view_of[pid], (rule, prof, ids, mains))
            specs = {k: v for k, v in specs.items() if k in view_of.values()}
        return view_of, specs

    def _broadcast_key(self, profile: OutputProfile) -> str:
        rule, _, _ = self._policy.broadcast(self._shown(), self._order(), self.content is not None)
        return f"{rule}@{profile.name}"

    def _compose_video(self, out: TickOutput) -> None:
        now = self._video_index / self.fps
        view_of, specs = self._assign(self._members)
        rule, ids, mains = self._policy.broadcast(self._shown(), self._order(), self.content is not None)
        for prof in self.profiles:  # observers outside the room: recordings, streams
            out.broadcast[prof.name] = key = f"{rule}@{prof.name}"
            specs.setdefault(key, (rule, prof, ids, mains))
        view_layouts = {key: self._policy.layout(rule, prof, ids, mains) for key, (rule, prof, ids, mains) in specs.items()}
        broadcast = view_layouts[out.broadcast[self.profiles[0].name]]
        assert broadcast is not None  # only the lobby has none, and observers never see the lobby
        self._note_layout(broadcast)
        self._decode_visible(view_layouts, now, out)
        # Receivers arriving at a view (or asking for one) need a keyframe there.
        for key in [k for k in self._views if k not in specs]:
            del self._views[key]
        for key, (rule, prof, ids, mains) in specs.items():
            if key not in self._views:
                self._views[key] = _View(prof)
        for pid, key in view_of.items():
            if self._view_of.get(pid) != key or pid in self._keyframe_for:
                self._views[key].encoder.request_keyframe()
        for profile, key in out.broadcast.items():  # recordings and streams follow too
            if self._broadcast_keys.get(profile) not in (None, key):
                self._views[key].encoder.request_keyframe()
        self._keyframe_for.clear()
        self._view_of = view_of
        self._broadcast_keys = dict(out.broadcast)
        for key, (rule, prof, ids, mains) in specs.items():
            picture = self._draw(key, rule, prof, view_layouts[key], now, len(ids))
            if self._indicators and rule != LOBBY:
                if not picture.y.flags.writeable:  # a shared card: badge a copy, never the original
                    picture = picture.copy()
                indicators.burn(picture, self._indicators)
            out.pictures[key] = picture
        # The distinct views are encoded side by side on the pool (x264 releases the GIL;
        # each encoder is used by one thread at a time, so the bytes are the same).
        encode = {key: functools.partial(self._views[key].encoder.encode, out.pictures[key].to_av(), self._video_index)
                  for key in specs}
        if len(encode) > 1:
            jobs = {key: self._pool.submit(job) for key, job in encode.items()}
            try:
                packets = {key: job.result() for key, job in jobs.items()}
            finally:  # interrupted (Ctrl-C) or not, no encoder is left busy for close() to flush
                concurrent.futures.wait(jobs.values())
        else:
            packets = {key: job() for key, job in encode.items()}
        for key in specs:
            self.video_encodes += 1
            out.views.setdefault(key, []).extend(packets[key])
        out.view_of = dict(view_of)
        out.video_frames.append(VideoFrameOut(view_of, packets))
        self._video_index += 1

    def _submit(self, fn, *args) -> Future:
        try:
            return self._pool.submit(fn, *args)
        except RuntimeError:  # the pool was shut down (interpreter exit): decode right here
            done: Future = Future()
            done.set_result(fn(*args))
            return done

    def _note_layout(self, layout: layouts.Layout) -> None:
        old = self._broadcast_layout
        if old is None or [(s.participant, s.rect) for s in old.slots] != [(s.participant, s.rect) for s in layout.slots]:
            self._emit(EventKind.LAYOUT_CHANGED, None, layout.name)
        self._broadcast_layout = layout

    def _decode_visible(self, view_layouts: Mapping[str, layouts.Layout | None], now: float, out: TickOutput) -> None:
        """Decode, in parallel, only what some view shows; skip the rest (a keyframe is
        asked for when it becomes visible)."""
        visible = set().union(*(lay.visible for lay in view_layouts.values() if lay is not None))
        jobs = {}
        for pid, video in self._video_in.items():
            if pid in visible:
                if video.became_visible():
                    out.events.append(Event(EventKind.KEYFRAME_NEEDED, pid, now, "became visible"))
                jobs[pid] = self._submit(video.decode_until, now)
            else:
                video.visible = False
                video.skip_until(now)
        for pid, job in jobs.items():
            problems = job.result()
            for problem in problems:
                log.warning("participant %s: %s", pid, problem)
                out.events.append(Event(EventKind.STREAM_ERROR, pid, now, problem))
            if problems:
                out.events.append(Event(EventKind.KEYFRAME_NEEDED, pid, now, "decode error"))
            changed = self._video_in[pid].update_stall(now, self.stall_after)
            if changed is not None:
                out.events.append(Event(EventKind.VIDEO_STALLED if changed else EventKind.VIDEO_RESUMED, pid, now))

    def _draw(self, key: str, rule: str, prof: OutputProfile, layout: layouts.Layout | None, now: float,
              people: int) -> I420Frame:
        if rule == LOBBY:
            return self.label_cache.holding(prof.width, prof.height, self.name or "this meeting")
        assert layout is not None  # every view but the lobby has a layout
        if not layout.slots and self.labels:
            return self.label_cache.alone(prof.width, prof.height)  # nobody else here: say so, not a blank picture
        sources = [self._source(slot.participant, now) for slot in layout.slots]
        # With labels on, a tile without a picture is a card: "+N" in the last strip tile
        # when the layout shows fewer people than the view has, else the person's card.
        card = [False] * len(sources)
        if self.labels:
            hidden = people - sum(slot.participant != CONTENT for slot in layout.slots)
            strip = [i for i, slot in enumerate(layout.slots) if not slot.main and slot.participant != CONTENT]
            if hidden > 0 and strip:
                r = layout.slots[strip[-1]].rect
                sources[strip[-1]], card[strip[-1]] = self.label_cache.overflow(hidden + 1, r.w, r.h), True
            for i, slot in enumerate(layout.slots):
                if sources[i] is None and slot.participant != CONTENT:
                    r = slot.rect
                    sources[i], card[i] = self.label_cache.audio_only(self._members[slot.participant].name, r.w, r.h), True
        sizes = tuple(None if s is None else (s.width, s.height) for s in sources)
        highlight = self.dominant if len(layout.slots) > 1 else None
        view = self._views[key]
        plan_key = (layout, sizes, highlight, self.labels, tuple(card))
        plan = view.plan
        if plan is None or view.plan_key != plan_key:  # geometry is worked out when something changed
            styles = [self._style(slot, prof, highlight, c) for slot, c in zip(layout.slots, card)]
            plan = view.plan = self._compositors[prof.name].plan(styles, sizes)
            view.plan_key = plan_key
        return self._compositors[prof.name].draw(plan.ops(sources))

    def _source(self, pid: str, now: float) -> I420Frame | None:
        if pid == CONTENT:
            return self.content.input.frame if self.content else None
        return self._video_in[pid].picture(now, self.placeholder_after)

    def _style(self, slot: layouts.Slot, prof: OutputProfile, highlight: str | None, card: bool) -> TileStyle:
        if slot.participant == CONTENT:
            return TileStyle(slot.rect, "fit")
        border = 4 if slot.participant == highlight else 0
        if card:  # the card is drawn at the tile's size and carries the name itself
            return TileStyle(slot.rect, "fill", border=border)
        label = self._label(self._members[slot.participant].name, prof.height, slot.rect.w) if self.labels else None
        if label is not None and label.width < 2 * label.height:
            label = None  # a tile too narrow for even a few letters of the name
        return TileStyle(slot.rect, "fit" if slot.main else "fill", border=border, label=label)

    def _label(self, name: str, canvas_height: int, tile_width: int | None) -> Overlay:
        """The name label, sized for the output and ellipsised to fit inside its tile."""
        return self.label_cache.label(name, label_size(canvas_height), max_width=None if tile_width is None else tile_width - 16)

    # --- helpers ----------------------------------------------------------------------
    def _admitted(self, pid: str) -> None:
        if not isinstance(pid, str) or pid not in self._video_in:
            self.member(pid)  # not in the room at all
            raise InvalidInputError(f"{pid!r} is waiting in the lobby")

    def _check_profile(self, profile: str | None) -> str | None:
        if profile is not None and (not isinstance(profile, str) or profile not in self._profiles):
            raise InvalidInputError(f"no output profile {profile!r}; the mixer has {list(self._profiles)}")
        return profile

    def _emit(self, kind: EventKind, pid: str | None, detail: str = "") -> None:
        self._pending_events.append(Event(kind, pid, self.time, detail))

    def __enter__(self) -> Mixer:
        return self

    def __exit__(self, *exc) -> None:
        if self._own_pool:
            self._pool.shutdown(wait=False)
