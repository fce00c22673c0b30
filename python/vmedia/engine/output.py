"""TickOutput: everything one tick produced, and what each receiver should get of it."""

from __future__ import annotations

from dataclasses import dataclass, field

import av
import numpy as np

from vmedia.audio.mixer import MixFrame
from vmedia.engine.events import Event
from vmedia.media.frames import I420Frame
from vmedia.media.time import FRAME_SIZE

_SILENCE = np.zeros(FRAME_SIZE, np.float32)


@dataclass
class VideoFrameOut:
    """One output video frame: who was on which view, and each view's access units."""

    view_of: dict[str, str]
    packets: dict[str, list[av.Packet]]


@dataclass
class AudioFrameOut:
    """One 20 ms audio frame: each receiver's packets, and who heard silence (the lobby)."""

    packets: dict[str, list[av.Packet]]
    waiting: frozenset[str]


@dataclass
class TickOutput:
    """What became due during one tick.

    Per receiver: video_for(pid), audio_for(pid) (packets in its codec), pcm_for(pid)
    (the float mix it hears), picture_for(pid). Per view (to fan packets out once):
    views[key] and view_of[pid]. For observers outside the room (recordings, RTMP):
    video[profile] and composites[profile] are the broadcast view of each profile.
    """

    views: dict[str, list[av.Packet]] = field(default_factory=dict)  # view key -> H.264 access units
    pictures: dict[str, I420Frame] = field(default_factory=dict)  # view key -> its last picture
    view_of: dict[str, str] = field(default_factory=dict)  # receiver -> view key at the tick's last frame
    broadcast: dict[str, str] = field(default_factory=dict)  # profile -> the observers' view key
    content: list[av.Packet] = field(default_factory=list)  # the presentation stream (its own size and rate)
    content_picture: I420Frame | None = None
    shared_audio: list[av.Packet] = field(default_factory=list)  # the shared mix as Opus
    mixes: list[MixFrame] = field(default_factory=list)  # the float mixes, for recorders
    events: list[Event] = field(default_factory=list)
    video_frames: list[VideoFrameOut] = field(default_factory=list)
    audio_frames: list[AudioFrameOut] = field(default_factory=list)

    @property
    def video(self) -> dict[str, list[av.Packet]]:
        """Profile name -> access units of the broadcast view."""
        return {profile: self.views.get(key, []) for profile, key in self.broadcast.items()}

    @property
    def composites(self) -> dict[str, I420Frame]:
        """Profile name -> the broadcast view's last picture."""
        return {profile: self.pictures[key] for profile, key in self.broadcast.items() if key in self.pictures}

    def video_for(self, participant: str) -> list[av.Packet]:
        """The H.264 access units `participant` should receive, frame by frame (a receiver
        that moved to another view mid-tick gets each frame from the view it was on)."""
        return [p for f in self.video_frames for p in f.packets.get(f.view_of.get(participant, ""), [])]

    def audio_for(self, participant: str) -> list[av.Packet]:
        """`participant`'s audio packets in its codec: one per 20 ms frame of the tick."""
        return [p for f in self.audio_frames for p in f.packets.get(participant, [])]

    def pcm_for(self, participant: str) -> list[np.ndarray]:
        """The float mixes (960 samples, 48 kHz mono, one per 20 ms) `participant` hears."""
        return [
            _SILENCE if participant in f.waiting else mix.heard_by(participant)
            for f, mix in zip(self.audio_frames, self.mixes)
            if participant in f.packets
        ]

    def picture_for(self, participant: str) -> I420Frame | None:
        key = self.view_of.get(participant)
        return self.pictures.get(key) if key else None
