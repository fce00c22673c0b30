"""H.264 at the edges of the room: one decoder per participant, one libx264 encoder per
output profile. FFmpeg (through PyAV) does the work; it releases the GIL while it does.
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass
from fractions import Fraction

import av

from vmedia.errors import InvalidInputError, StreamError

log = logging.getLogger("vmedia.video")


def annexb_has_idr(data: bytes) -> bool:
    """True when Annex B bytes carry an IDR slice (NAL type 5) or an SPS (7): a point a
    decoder can start from."""
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        if data[i + 3] & 0x1F in (5, 7):
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


def h264_access_unit_is_idr(data: bytes | bytearray | memoryview | av.Packet) -> bool:
    """A point a decoder can start from. An av.Packet's keyframe flag is trusted when set;
    packets built from bytes (RTP depacketisers) usually lack it, so the bitstream decides."""
    if isinstance(data, av.Packet):
        return data.is_keyframe or annexb_has_idr(bytes(data))
    return annexb_has_idr(bytes(data))


class VideoDecoder:
    """A participant's H.264 decoder: Annex B bytes or av.Packet in, av.VideoFrames out.
    Broken input raises StreamError; the decoder is rebuilt so the next keyframe recovers.
    `max_pixels` makes FFmpeg refuse larger pictures before it decodes their slices."""

    def __init__(self, codec: str = "h264", *, max_pixels: int | None = None):
        self.codec = codec
        self.max_pixels = max_pixels
        self._ctx = self._open()
        self.errors = 0

    def _open(self) -> av.VideoCodecContext:
        ctx = av.CodecContext.create(self.codec, "r")
        if not isinstance(ctx, av.VideoCodecContext):
            raise InvalidInputError(f"{self.codec!r} is not a video codec")
        ctx.thread_type = "NONE"  # one participant, one thread: parallelism is across participants
        if self.max_pixels:
            ctx.options = {"max_pixels": str(self.max_pixels)}
        return ctx

    def decode(self, packet: bytes | av.Packet) -> list[av.VideoFrame]:
        pkt = packet if isinstance(packet, av.Packet) else av.Packet(bytes(packet))
        try:
            return list(self._ctx.decode(pkt))
        except (av.error.FFmpegError, ValueError) as e:
            self.errors += 1
            self._ctx = self._open()
            raise StreamError(f"H.264 packet could not be decoded: {e}") from e

    def reset(self) -> None:
        """Forget the reference pictures (after skipped packets); wait for a keyframe."""
        self._ctx = self._open()


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
# H.264 profiles an output may use, and x264's name for each. Constrained Baseline is what
# every H.264 decoder takes and what WebRTC peers offer first (profile-level-id 42e01f);
# x264's "baseline" is it (no FMO/ASO: constraint_set1 is set). Main/High suit recordings.
H264_PROFILES = {"constrained_baseline": "baseline", "main": "main", "high": "high"}


@dataclass(frozen=True)
class OutputProfile:
    """One encoded rendition of the room's composite."""

    name: str = "720p"
    width: int = 1280
    height: int = 720
    fps: int = 30
    bitrate: int = 2_500_000
    keyframe_interval: float = 4.0  # seconds between periodic IDRs
    preset: str = "veryfast"
    threads: int = 1  # x264 threads; 1 keeps a room on one core, raise it for 1080p live
    h264_profile: str = "constrained_baseline"  # one of H264_PROFILES; any WebRTC peer decodes the default

    def __post_init__(self) -> None:
        for field in ("width", "height", "fps", "bitrate", "threads"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise InvalidInputError(f"profile {self.name!r}: {field} must be an integer, got {value!r:.40}")
        interval = self.keyframe_interval
        if isinstance(interval, bool) or not isinstance(interval, numbers.Real) or not 0.1 <= interval <= 3600:
            raise InvalidInputError(f"profile {self.name!r}: keyframe_interval must be 0.1..3600 s, got {interval!r:.40}")
        if self.preset not in X264_PRESETS:
            raise InvalidInputError(f"profile {self.name!r}: preset must be one of {list(X264_PRESETS)}, got {self.preset!r:.40}")
        if not 1 <= self.threads <= 64:
            raise InvalidInputError(f"profile {self.name!r}: threads must be 1..64, got {self.threads}")
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise InvalidInputError(f"profile {self.name!r}: size must be positive and even, got {self.width}x{self.height}")
        if not 1 <= self.fps <= 120 or self.bitrate < 10_000:
            raise InvalidInputError(f"profile {self.name!r}: fps must be 1..120 and bitrate >= 10 kbit/s")
        if self.h264_profile not in H264_PROFILES:
            raise InvalidInputError(f"profile {self.name!r}: h264_profile must be one of {sorted(H264_PROFILES)}, got {self.h264_profile!r}")


HD = OutputProfile("720p", 1280, 720)
FULL_HD = OutputProfile("1080p", 1920, 1080, bitrate=4_500_000)
LOW = OutputProfile("360p", 640, 360, bitrate=800_000)


class VideoEncoder:
    """libx264 for one profile: zerolatency, CBR with a one-second VBV, periodic IDR, and
    an IDR on request (a participant's PLI/FIR). SPS/PPS are repeated in-band for RTP and
    also kept as extradata for MP4/FLV muxers."""

    def __init__(self, profile: OutputProfile):
        self.profile = profile
        self.time_base = Fraction(1, profile.fps)
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = profile.width, profile.height, "yuv420p"
        ctx.time_base = self.time_base
        ctx.framerate = Fraction(profile.fps)
        ctx.bit_rate = profile.bitrate
        ctx.gop_size = max(1, round(profile.keyframe_interval * profile.fps))
        rate = f"{profile.bitrate // 1000}k"
        ctx.options = {
            "preset": profile.preset,
            "tune": "zerolatency",
            "profile": H264_PROFILES[profile.h264_profile],
            "maxrate": rate,
            "minrate": rate,
            "bufsize": rate,
            "x264-params": "repeat-headers=1:nal-hrd=cbr:force-cfr=1",
        }
        ctx.thread_count = profile.threads
        ctx.flags |= av.codec.context.Flags.global_header
        ctx.open()
        self._ctx = ctx
        self._want_keyframe = False
        self.frames = 0

    @property
    def context(self) -> av.VideoCodecContext:
        return self._ctx

    def request_keyframe(self) -> None:
        self._want_keyframe = True

    def encode(self, frame: av.VideoFrame, index: int) -> list[av.Packet]:
        """Encode the composite for output frame `index` (pts in 1/fps)."""
        frame.pts = index
        frame.time_base = self.time_base
        frame.pict_type = av.video.frame.PictureType.I if self._want_keyframe else av.video.frame.PictureType.NONE
        self._want_keyframe = False
        self.frames += 1
        return list(self._ctx.encode(frame))

    def flush(self) -> list[av.Packet]:
        return list(self._ctx.encode(None))
