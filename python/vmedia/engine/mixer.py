"""Mixer: the media engine of one room.

Inputs are pushed with media timestamps (seconds); `tick(t)` produces everything due at
media time t. Offline drivers call tick on a synthetic clock (as fast as the CPU allows,
deterministic); live drivers call it on the wall clock (see vmedia.hosting.live).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import av
from vmedia import layouts
from vmedia.audio import AudioMixer
from vmedia.codecs.audio import AudioEncoder
from vmedia.video.compositor import Compositor, Tile
from vmedia.errors import InvalidInputError
from vmedia.media.frames import I420Frame
from vmedia.inputs.participant import Participant
from vmedia.media.time import EPS, FRAME_SECONDS
from vmedia.codecs.video import HD, OutputProfile, VideoEncoder

log = logging.getLogger("vmedia.engine.mixer")



@dataclass(frozen=True)
class Event:
    """Something the server may act on: joined, left, speaker_changed, started_speaking,
    stopped_speaking, layout_changed, keyframe_needed (send PLI/FIR to `participant`),
    video_stalled, video_resumed, stream_error."""

    kind: str
    participant: str | None
    time: float
    detail: str = ""


@dataclass
class TickOutput:
    """What became due during one tick."""

    video: dict[str, list[av.Packet]] = field(default_factory=dict)  # profile name -> access units
    composites: dict[str, I420Frame] = field(default_factory=dict)  # profile name -> last picture
    shared_audio: list[av.Packet] = field(default_factory=list)  # for everyone not in own_audio
    own_audio: dict[str, list[av.Packet]] = field(default_factory=dict)  # mixed talkers' mix-minus
    mixes: list = field(default_factory=list)  # the MixFrames (float audio), for recorders
    events: list[Event] = field(default_factory=list)

    view_of: dict[str, str] = field(default_factory=dict)  # participant -> the view it receives

    def video_for(self, participant: str) -> list[av.Packet]:
        """The H.264 access units `participant` should receive this tick."""
        return self.video.get(self.view_of.get(participant, ""), next(iter(self.video.values()), []))

    def audio_for(self, participant: str) -> list[av.Packet]:
        """The audio packets `participant` should receive this tick, in its codec."""
        return self.own_audio.get(participant, self.shared_audio)


def _locked(method):
    """Run under the mixer's lock: membership and settings change between ticks, never
    during one. Media pushes take no mixer lock, so network threads never wait a tick."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


_shared_pool: ThreadPoolExecutor | None = None


def shared_decode_pool() -> ThreadPoolExecutor:
    """One decode pool for every room in the process (a server runs many rooms): one
    thread per core, since FFmpeg's decoders release the GIL."""
    global _shared_pool
    if _shared_pool is None:
        _shared_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="vmedia-decode")
    return _shared_pool


LayoutFn = Callable[[Sequence[str], str | None, int, int], layouts.Layout]


def layout_policy(kind: str | Mapping = "gallery", *, variant: str = "1+7", content: str | None = None) -> LayoutFn:
    """A function (participants, speaker, width, height) -> Layout for a layout name:
    'gallery', 'speaker' (variant 1+7, 1+21, 2+21, 1+33), 'presentation' (content is the
    participant sharing), or a custom dict/JSON spec."""
    if isinstance(kind, Mapping) or (isinstance(kind, str) and kind.lstrip().startswith("{")):
        return lambda ids, spk, w, h: layouts.custom(kind, ids, w, h, speaker=spk)
    if kind == "gallery":
        return lambda ids, spk, w, h: layouts.gallery(ids, w, h)
    if kind == "speaker":
        if variant not in layouts.SPEAKER_VARIANTS:
            raise InvalidInputError(f"unknown speaker variant {variant!r}")
        return lambda ids, spk, w, h: layouts.speaker(ids, spk if spk in ids else None, w, h, variant=variant)
    if kind == "presentation":
        return lambda ids, spk, w, h: (
            layouts.presentation(ids, content, w, h) if content in ids else layouts.speaker(ids, spk if spk in ids else None, w, h)
        )
    raise InvalidInputError(f"unknown layout {kind!r}; expected gallery, speaker, presentation or a custom spec")


class Mixer:
    """One room's media engine: participants in, composed H.264 + mixed audio out."""

    def __init__(
        self,
        profiles: Sequence[OutputProfile] = (HD,),
        *,
        layout: str | Mapping = "gallery",
        speaker_variant: str = "1+7",
        max_mixed: int = 3,
        audio_codec: str = "opus",
        stall_after: float = 0.5,
        placeholder_after: float = 3.0,
        labels: bool = True,
        decode_threads: int | None = None,
        compose_threads: int = 1,
        background: str = "#101014",
    ):
        if not profiles:
            raise InvalidInputError("a mixer needs at least one output profile")
        fps = {p.fps for p in profiles}
        if len(fps) != 1:
            raise InvalidInputError(f"all output profiles must share one frame rate, got {sorted(fps)}")
        if len({p.name for p in profiles}) != len(profiles):
            raise InvalidInputError("output profile names must be unique")
        self.fps = fps.pop()
        self.profiles = list(profiles)
        self.stall_after, self.placeholder_after = stall_after, placeholder_after
        self.labels = labels
        self._layout_fn = layout_policy(layout, variant=speaker_variant)
        self._lock = threading.RLock()
        self._participants: dict[str, Participant] = {}
        self._hidden: set[str] = set()
        self._compositors = {p.name: Compositor(p.width, p.height, background, threads=compose_threads) for p in profiles}
        self._encoders = {p.name: VideoEncoder(p) for p in profiles}
        self._audio = AudioMixer(max_mixed)
        self.audio_codec = audio_codec
        self._shared_encoder = AudioEncoder(audio_codec)
        self._own_encoders: dict[str, AudioEncoder] = {}
        # Rooms share the process-wide decode pool unless given threads of their own.
        self._own_pool = decode_threads is not None
        self._pool = (
            ThreadPoolExecutor(max_workers=decode_threads, thread_name_prefix="vmedia-decode")
            if self._own_pool
            else shared_decode_pool()
        )
        self._video_index = 0  # next output video frame
        self._audio_index = 0  # next 20 ms audio frame
        self._layouts: dict[str, layouts.Layout] = {}
        self._layout_dirty = True
        self.dominant: str | None = None
        self._pending_events: list[Event] = []
        self.time = 0.0
        self.pinned: str | None = None  # a participant forced into the main tile

    # --- membership -------------------------------------------------------------------
    @property
    def participants(self) -> list[str]:
        return list(self._participants)

    @_locked
    def add_participant(self, pid: str, name: str | None = None, *, audio_codec: str = "opus", visible: bool = True) -> None:
        """`visible=False` keeps a participant out of every layout (an audience member, a
        test tune): never decoded, still heard unless muted."""
        if pid in self._participants:
            raise InvalidInputError(f"participant {pid!r} is already in the room")
        self._participants[pid] = Participant(pid, name, audio_codec)
        if not visible:
            self._hidden.add(pid)
        self._audio.add(pid)
        self._layout_dirty = True
        self._emit("joined", pid)

    @_locked
    def set_visible(self, pid: str, visible: bool) -> None:
        self._get(pid)
        (self._hidden.discard if visible else self._hidden.add)(pid)
        self._layout_dirty = True

    @_locked
    def set_forced_audio(self, pid: str, forced: bool) -> None:
        """Always mix this participant (a presenter on stage, the test-room tune)."""
        self._get(pid)
        self._audio.set_forced(pid, forced)

    @_locked
    def remove_participant(self, pid: str) -> None:
        self._get(pid)
        del self._participants[pid]
        self._hidden.discard(pid)
        self._audio.remove(pid)
        self._own_encoders.pop(pid, None)
        if self.dominant == pid:
            self.dominant = None
        self._layout_dirty = True
        self._emit("left", pid)

    @_locked
    def set_layout(self, layout: str | Mapping, *, variant: str = "1+7", content: str | None = None) -> None:
        self._layout_fn = layout_policy(layout, variant=variant, content=content)
        self._layout_dirty = True

    @_locked
    def pin(self, pid: str | None) -> None:
        """Show `pid` as the main tile whoever speaks (None: follow the speaker)."""
        if pid is not None:
            self._get(pid)
        self.pinned = pid
        self._layout_dirty = True

    @_locked
    def set_muted(self, pid: str, muted: bool) -> None:
        self._get(pid)
        self._audio.set_muted(pid, muted)

    @_locked
    def set_gain(self, pid: str, gain: float) -> None:
        self._get(pid)
        self._audio.set_gain(pid, gain)

    @_locked
    def set_av_offset(self, pid: str, seconds: float) -> None:
        """Lip-sync trim: play this participant's audio `seconds` later (negative: earlier)
        than its timestamps say, for senders whose capture paths are skewed."""
        if not -1.0 <= seconds <= 1.0:
            raise InvalidInputError(f"A/V offset must be within ±1 s, got {seconds}")
        self._get(pid).av_offset = float(seconds)

    def request_keyframe(self, profile: str | None = None) -> None:
        """A receiver lost pictures (PLI/FIR): the next frame of the profile is an IDR."""
        for name, enc in self._encoders.items():
            if profile in (None, name):
                enc.request_keyframe()

    @_locked
    def layout(self, profile: str | None = None) -> layouts.Layout:
        self._refresh_layouts()
        return self._layouts[profile or self.profiles[0].name]

    # --- inputs -----------------------------------------------------------------------
    def push_video(self, pid: str, data, t: float) -> None:
        """H.264 (Annex B bytes or av.Packet) or a decoded av.VideoFrame, at media time t."""
        self._get(pid).push_video(data, t)

    def push_audio(self, pid: str, data, t: float) -> None:
        """An encoded packet (the participant's codec), an av.AudioFrame, or float32
        48 kHz mono samples, starting at media time t."""
        self._get(pid).push_audio(data, t)

    # --- time -------------------------------------------------------------------------
    @_locked
    def tick(self, t: float) -> TickOutput:
        """Produce everything due by media time t (audio in 20 ms frames, video at fps)."""
        out = TickOutput()
        while (self._audio_index + 1) * FRAME_SECONDS <= t + EPS:
            self._mix_audio(out)
        while self._video_index / self.fps <= t + EPS:
            self._compose_video(out)
        self.time = t
        out.events = self._pending_events + out.events
        self._pending_events = []
        return out

    @_locked
    def close(self) -> TickOutput:
        """Flush the encoders; the mixer is unusable afterwards."""
        out = TickOutput()
        for name, enc in self._encoders.items():
            out.video[name] = enc.flush()
        out.shared_audio = self._shared_encoder.flush()
        if self._own_pool:
            self._pool.shutdown(wait=True)
        return out

    # --- audio ------------------------------------------------------------------------
    def _mix_audio(self, out: TickOutput) -> None:
        j = self._audio_index
        frames = {}
        for pid, p in self._participants.items():
            f = p.take_audio(j)
            if f is not None:
                frames[pid] = f
        mix = self._audio.process(frames)
        out.mixes.append(mix)
        now = j * FRAME_SECONDS
        for kind, pid in mix.events:
            if pid in self._participants:
                out.events.append(Event(kind, pid, now))
        if mix.dominant != self.dominant and mix.dominant in self._participants:
            self.dominant = mix.dominant
            self._layout_dirty = True
        out.shared_audio += self._shared_encoder.encode(mix.shared)
        for pid, row in mix.minus.items():
            if pid not in self._participants:
                continue
            enc = self._own_encoders.get(pid)
            if enc is None:
                enc = self._own_encoders[pid] = AudioEncoder(self.audio_codec)
            out.own_audio.setdefault(pid, []).extend(enc.encode(row))
        for pid in [p for p in self._own_encoders if p not in mix.minus]:
            del self._own_encoders[pid]  # back on the shared mix
        self._audio_index += 1

    # --- video ------------------------------------------------------------------------
    def _refresh_layouts(self) -> None:
        if not self._layout_dirty:
            return
        ids = [p for p in self._participants if p not in self._hidden]
        main = self.pinned or self.dominant
        old = self._layouts.get(self.profiles[0].name)
        self._layouts = {p.name: self._layout_fn(ids, main, p.width, p.height) for p in self.profiles}
        new = self._layouts[self.profiles[0].name]
        self._layout_dirty = False
        if old is None or [(s.participant, s.rect) for s in old.slots] != [(s.participant, s.rect) for s in new.slots]:
            self._emit("layout_changed", None, new.name)

    def _compose_video(self, out: TickOutput) -> None:
        now = self._video_index / self.fps
        self._refresh_layouts()
        visible = set().union(*(lay.visible for lay in self._layouts.values()))
        jobs = {}
        for pid, p in self._participants.items():
            v = p.video
            if pid in visible:
                if not v.visible:
                    v.visible = True
                    if v.waiting_for_keyframe or v.frame is None:
                        v.frame = None  # placeholder until the keyframe arrives, never a stale picture
                        out.events.append(Event("keyframe_needed", pid, now, "became visible"))
                jobs[pid] = self._pool.submit(p.decode_until, now)
            else:
                v.visible = False
                p.skip_video_until(now)
        for pid, job in jobs.items():
            problems = job.result()
            for problem in problems:
                log.warning("participant %s: %s", pid, problem)
                out.events.append(Event("stream_error", pid, now, problem))
            if problems:
                out.events.append(Event("keyframe_needed", pid, now, "decode error"))
            self._check_stall(self._participants[pid], now, out)
        for prof in self.profiles:
            canvas = self._compositors[prof.name].compose(self._tiles(self._layouts[prof.name], now))
            out.composites[prof.name] = canvas
            out.video.setdefault(prof.name, []).extend(self._encoders[prof.name].encode(canvas.to_av(), self._video_index))
        self._video_index += 1

    def _check_stall(self, p: Participant, now: float, out: TickOutput) -> None:
        v = p.video
        stalled = v.frame is not None and now - v.frame_time > self.stall_after
        if stalled != v.stalled:
            v.stalled = stalled
            out.events.append(Event("video_stalled" if stalled else "video_resumed", p.id, now))

    def _tiles(self, layout: layouts.Layout, now: float) -> list[Tile]:
        tiles = []
        for slot in layout.slots:
            p = self._participants[slot.participant]
            v = p.video
            fresh = v.frame is not None and now - v.frame_time <= self.placeholder_after
            tiles.append(
                Tile(
                    slot.rect,
                    v.frame if fresh else None,
                    mode="fill" if not slot.main else "fit",
                    border=4 if slot.participant == self.dominant and len(layout.slots) > 1 else 0,
                    label=p.label if self.labels else None,
                )
            )
        return tiles

    # --- helpers ----------------------------------------------------------------------
    def _get(self, pid: str) -> Participant:
        try:
            return self._participants[pid]
        except KeyError:
            raise InvalidInputError(f"participant {pid!r} is not in the room") from None

    def _emit(self, kind: str, pid: str | None, detail: str = "") -> None:
        self._pending_events.append(Event(kind, pid, self.time, detail))

    def __enter__(self) -> Mixer:
        return self

    def __exit__(self, *exc) -> None:
        if self._own_pool:
            self._pool.shutdown(wait=False)

