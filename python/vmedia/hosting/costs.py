"""The cost model: how much CPU a room needs, from what it decodes and encodes.

One place for the measured constants (one core, PyAV's FFmpeg, see DESIGN.md "Cost model"
and benchmarks/RESULTS.md "Rooms per machine"). Costs are in CPU-seconds per media-second:
0.25 means a quarter of one core while the room runs in real time.

- decode: one per visible participant per output frame, scaled by the sender's pixels;
- encode and compose: one per distinct view and profile per output frame, by its pixels;
- audio: every participant's stream decoded, one shared Opus mix encode plus one per mixed
  talker (mix-minus), every 20 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vmedia.codecs.video import OutputProfile
from vmedia.errors import InvalidInputError
from vmedia.media.time import FRAME_SECONDS

# Per frame on one core (seconds), and the frame sizes they scale from. The codec figures
# are DESIGN.md's; the fixed per-frame costs are fitted so that the estimate matches what
# `benchmarks/rooms_bench.py --offline` measured for its two rooms (RESULTS.md "Rooms per
# machine": 4x360p gallery 0.25, 9x720p speaker 1.0 CPU-s per media-s, within 10 %).
DECODE_360P = 0.43e-3  # 640x360 H.264 decode (DESIGN.md)
ENCODE_720P = 11.2e-3  # 1280x720 libx264 veryfast/zerolatency encode (DESIGN.md)
COMPOSE_720P = 0.9e-3  # 1280x720 compose of a gallery, labels included (RESULTS.md, compositor)
ENCODE_FIXED = 0.7e-3  # per encode whatever its size: x264's per-frame work, packet handling
PIXELS_360P = 640 * 360
PIXELS_720P = 1280 * 720
AUDIO_DECODE = 0.04e-3  # one 20 ms Opus frame decoded
AUDIO_ENCODE = 0.06e-3  # one 20 ms Opus frame encoded
MIX_PER_PARTICIPANT = 0.01e-3  # levels, detector and the mix, per participant per 20 ms
ENGINE_OVERHEAD = 1.5e-3  # per output frame: view policy, layouts, cards, Python orchestration

@dataclass(frozen=True)
class RoomCost:
    """An estimate, CPU-seconds per media-second, split by where it goes."""

    decode: float
    encode: float
    audio: float
    views: int

    @property
    def total(self) -> float:
        return self.decode + self.encode + self.audio


def distinct_views(participants: int, *, layout: str = "gallery", self_view: str = "include",
                   views: str = "per_receiver") -> int:
    """How many distinct pictures per profile a room of this size draws (video/views.py)."""
    if views == "shared" or participants <= 1:
        return 1
    if layout == "gallery":
        return participants if self_view == "exclude" else 1
    return 2  # speaker layouts: the speaker sees the previous speaker, everyone else the speaker


def estimate(participants: int, profiles: Sequence[OutputProfile], *, layout: str = "gallery",
             self_view: str = "include", views: str = "per_receiver", visible: int | None = None,
             input_size: tuple[int, int] = (640, 360), max_mixed: int = 3, fps: int | None = None) -> RoomCost:
    """CPU-seconds per media-second of a room with `participants` people, `visible` of
    them shown (all by default), each sending `input_size` video."""
    if participants < 0:
        raise InvalidInputError(f"participants must be >= 0, got {participants}")
    if not profiles:
        raise InvalidInputError("a room needs at least one output profile")
    shown = participants if visible is None else min(visible, participants)
    rate = fps or profiles[0].fps
    decode = rate * shown * DECODE_360P * (input_size[0] * input_size[1]) / PIXELS_360P
    n_views = distinct_views(participants, layout=layout, self_view=self_view, views=views)
    per_view = sum(ENCODE_FIXED + (ENCODE_720P + COMPOSE_720P) * p.width * p.height / PIXELS_720P for p in profiles)
    encode = rate * (n_views * per_view + ENGINE_OVERHEAD)
    encodes = 1 + min(max_mixed, participants)
    audio = (participants * (AUDIO_DECODE + MIX_PER_PARTICIPANT) + encodes * AUDIO_ENCODE) / FRAME_SECONDS
    return RoomCost(decode, encode, audio, n_views * len(profiles))


def estimate_room(room_type, participants: int, *, layout="speaker", hd1080: bool = False, low_profile: bool = False,
                  visible: int | None = None, **mixer_options) -> RoomCost:
    """The estimate of a Room built with these arguments, without building it (a cluster
    places a room before it exists): its policy, profiles and view rule as Room makes them."""
    from vmedia.codecs.video import FULL_HD, HD, LOW
    from vmedia.rooms.policy import policy_for
    from vmedia.video.views import ViewPolicy

    if not isinstance(participants, int) or isinstance(participants, bool) or participants < 1:
        raise InvalidInputError(f"participants must be a positive int (the room's expected size), got {participants!r}")
    policy = policy_for(room_type)
    if participants > policy.max_participants:
        raise InvalidInputError(f"a {policy.name} room holds at most {policy.max_participants} participants, not {participants}")
    view = ViewPolicy("gallery" if policy.self_view else layout, variant=mixer_options.get("speaker_variant", "1+7"),
                      self_view=mixer_options.get("self_view", "include"))
    profiles = [FULL_HD if hd1080 else HD] + ([LOW] if low_profile else [])
    return estimate(participants, profiles, layout=view.kind, self_view=view.self_view,
                    views=mixer_options.get("views", "per_receiver"), visible=visible)
