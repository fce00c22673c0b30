"""Audio at the edges of the room: decoding participants' Opus, G.711 and PCM into 20 ms
48 kHz mono float frames, and encoding the mixes to Opus (or AAC for RTMP and recordings).

FFmpeg (through PyAV) owns the codecs and resampling; the only work here is keeping time.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from vmedia.media.time import FRAME_SIZE, SAMPLE_RATE
from vmedia.errors import InvalidInputError, StreamError

# Codec names as signalled in SDP, and the FFmpeg decoder and default clock for each.
AUDIO_CODECS = {
    "opus": ("opus", 48000),  # FFmpeg's native decoder: float output, no resampling needed
    "pcmu": ("pcm_mulaw", 8000),  # G.711 u-law, phone callers
    "pcma": ("pcm_alaw", 8000),  # G.711 A-law
    "pcm": ("pcm_s16le", 48000),  # raw 16-bit little-endian PCM
}


class FrameSlicer:
    """Cuts a stream of float32 samples into exact 20 ms frames."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, np.float32)

    def push(self, samples: np.ndarray) -> list[np.ndarray]:
        samples = samples.astype(np.float32, copy=False)
        if not len(self._pending) and len(samples) == FRAME_SIZE:
            return [samples]  # the common case: a decoder that emits exactly 20 ms
        self._pending = np.concatenate([self._pending, samples])
        n = len(self._pending) // FRAME_SIZE
        frames = [self._pending[i * FRAME_SIZE : (i + 1) * FRAME_SIZE] for i in range(n)]
        self._pending = self._pending[n * FRAME_SIZE :].copy()
        return frames

    def reset(self) -> None:
        self._pending = np.zeros(0, np.float32)


class AudioDecoder:
    """One participant's audio decoder: packets (or decoded av.AudioFrames) in, 20 ms
    48 kHz mono float32 frames out. A packet that fails to decode raises StreamError for
    this participant only; the decoder stays usable."""

    def __init__(self, codec: str = "opus", *, sample_rate: int | None = None, channels: int = 1):
        if codec not in AUDIO_CODECS:
            raise InvalidInputError(f"unknown audio codec {codec!r}; expected one of {sorted(AUDIO_CODECS)}")
        name, default_rate = AUDIO_CODECS[codec]
        if channels not in (1, 2):
            raise InvalidInputError(f"channels must be 1 or 2, got {channels}")
        self.codec = codec
        self.sample_rate = sample_rate or default_rate
        self._ctx = av.CodecContext.create(name, "r")
        self._ctx.sample_rate = self.sample_rate
        self._ctx.layout = "mono" if channels == 1 else "stereo"
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        self._slicer = FrameSlicer()

    def decode(self, packet: bytes | av.Packet) -> list[np.ndarray]:
        """Frames completed by this packet (zero or more)."""
        pkt = packet if isinstance(packet, av.Packet) else av.Packet(bytes(packet))
        try:
            decoded = self._ctx.decode(pkt)
        except (av.error.FFmpegError, ValueError) as e:
            raise StreamError(f"{self.codec} packet could not be decoded: {e}") from e
        return [f for frame in decoded for f in self.push_frame(frame)]

    def push_frame(self, frame: av.AudioFrame) -> list[np.ndarray]:
        """Frames completed by an already decoded frame of any rate, layout or format."""
        if not isinstance(frame, av.AudioFrame):
            raise InvalidInputError(f"expected an av.AudioFrame, got {type(frame).__name__}")
        if frame.sample_rate == SAMPLE_RATE and frame.format.name in ("flt", "fltp") and frame.layout.nb_channels == 1:
            # Already what the mixer takes: copy the one plane out, no resampler.
            return self._slicer.push(np.frombuffer(frame.planes[0], np.float32, frame.samples).copy())
        frame.pts = None  # timing is kept by the caller; the resampler must not insert gaps
        out = [r.to_ndarray().reshape(-1) for r in self._resampler.resample(frame)]
        return self._slicer.push(np.concatenate(out)) if out else []

    def reset(self) -> None:
        """After a gap: drop half-frames so old audio is never replayed late."""
        self._slicer.reset()


class AudioEncoder:
    """Encodes 20 ms float32 frames of a mix to Opus (or AAC), with pts in 1/48000."""

    def __init__(self, codec: str = "opus", bitrate: int = 32000):
        name = {"opus": "libopus", "aac": "aac"}.get(codec)
        if name is None:
            raise InvalidInputError(f"audio output codec must be 'opus' or 'aac', got {codec!r}")
        self._ctx = av.CodecContext.create(name, "w")
        self._ctx.sample_rate = SAMPLE_RATE
        self._ctx.layout = "mono"
        self._ctx.format = "flt" if name == "libopus" else "fltp"
        self._ctx.bit_rate = bitrate
        self._ctx.time_base = Fraction(1, SAMPLE_RATE)
        if name == "aac":  # MP4/FLV want the AudioSpecificConfig out of band
            self._ctx.flags |= av.codec.context.Flags.global_header
        self._ctx.open()
        self.codec = codec
        self.time_base = Fraction(1, SAMPLE_RATE)
        # AAC takes 1024-sample frames: re-chunk through FFmpeg's audio FIFO.
        self._fifo = av.AudioFifo() if name == "aac" else None
        self._pts = 0

    @property
    def context(self) -> av.CodecContext:
        return self._ctx

    def encode(self, samples: np.ndarray) -> list[av.Packet]:
        x = np.asarray(samples, np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(x, format="flt" if self._fifo is None else "fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = self.time_base
        self._pts += x.shape[1]
        if self._fifo is None:
            return list(self._ctx.encode(frame))
        self._fifo.write(frame)
        packets = []
        while (chunk := self._fifo.read(self._ctx.frame_size)) is not None:
            packets += self._ctx.encode(chunk)
        return packets

    def flush(self) -> list[av.Packet]:
        return list(self._ctx.encode(None))
