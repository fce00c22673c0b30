"""Audio at the edges of the room: decoding participants' Opus, G.711 and PCM into 20 ms
48 kHz mono float frames, and encoding the mixes to Opus (or AAC for RTMP and recordings).

FFmpeg (through PyAV) owns the codecs and resampling; the only work here is keeping time.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

import av
import numpy as np

from vmedia.media.time import FRAME_SIZE, G711_RATE, G711_TIME_BASE, SAMPLE_RATE
from vmedia.errors import InvalidInputError, StreamError

# FFmpeg's names for the audio codecs used here; literal, so PyAV's stubs know that
# CodecContext.create gives an AudioCodecContext.
FFmpegAudioCodec = Literal["libopus", "pcm_mulaw", "pcm_alaw", "pcm_s16le", "aac"]

# Codec names as signalled in SDP, and the FFmpeg decoder and default clock for each.
AUDIO_CODECS: dict[str, tuple[FFmpegAudioCodec, int]] = {
    "opus": ("libopus", 48000),  # libopus: float output, and real packet-loss concealment
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
        self._name, self._channels = name, channels
        self._ctx = self._open()
        self._resampler: av.AudioResampler | None = None
        self._resampling: tuple | None = None  # (format, layout, rate) the resampler was built for
        self._slicer = FrameSlicer()
        self._toc: int | None = None  # the last good Opus packet's configuration byte

    def _open(self) -> av.AudioCodecContext:
        ctx = av.CodecContext.create(self._name, "r")
        ctx.sample_rate = self.sample_rate
        ctx.layout = "mono" if self._channels == 1 else "stereo"
        return ctx

    def decode(self, packet: bytes | av.Packet) -> list[np.ndarray]:
        """Frames completed by this packet (zero or more). An empty packet would flush
        (end) FFmpeg's decoder, so it is refused; a failed decode reopens the decoder."""
        pkt = packet if isinstance(packet, av.Packet) else av.Packet(bytes(packet))
        if pkt.size == 0:
            raise StreamError(f"{self.codec} packet is empty")
        try:
            decoded = self._ctx.decode(pkt)
        except (av.error.FFmpegError, ValueError) as e:
            if self.codec != "opus":  # libopus keeps its state usable after a bad packet
                self._ctx = self._open()
            raise StreamError(f"{self.codec} packet could not be decoded: {e}") from e
        if self.codec == "opus":
            self._toc = bytes(pkt)[0]
        return [f for frame in decoded for f in self.push_frame(frame)]

    def conceal(self, frames: int) -> list[np.ndarray]:
        """Frames that stand in for `frames` lost 20 ms packets. Opus: libopus's packet-loss
        concealment, asked for with a packet that carries only the last configuration
        byte (RFC 6716 3.2.1: a zero-length frame is a lost one). Other codecs: nothing;
        the mixer fades the gap instead."""
        if self.codec != "opus" or self._toc is None or self._ctx.frame_size not in (0, FRAME_SIZE):
            return []
        lost = av.Packet(bytes([self._toc & 0xFC]))  # code 0: one frame, of length zero
        out: list[np.ndarray] = []
        try:
            for _ in range(frames):
                out += [f for frame in self._ctx.decode(lost) for f in self.push_frame(frame)]
        except (av.error.FFmpegError, ValueError):
            return []
        return out

    def push_frame(self, frame: av.AudioFrame) -> list[np.ndarray]:
        """Frames completed by an already decoded frame of any rate, layout or format; the
        format may change from one frame to the next."""
        if not isinstance(frame, av.AudioFrame):
            raise InvalidInputError(f"expected an av.AudioFrame, got {type(frame).__name__}")
        if frame.samples == 0:
            return []
        if frame.sample_rate == SAMPLE_RATE and frame.format.name in ("flt", "fltp") and frame.layout.nb_channels == 1:
            # Already what the mixer takes: copy the one plane out, no resampler.
            return self._slicer.push(np.frombuffer(memoryview(frame.planes[0]), np.float32, frame.samples).copy())
        setup = (frame.format.name, frame.layout.name, frame.sample_rate)
        resampler = self._resampler
        if resampler is None or setup != self._resampling:  # a new input format needs a new resampler
            resampler = self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            self._resampling = setup
        frame.pts = None  # timing is kept by the caller; the resampler must not insert gaps
        try:
            out = [r.to_ndarray().reshape(-1) for r in resampler.resample(frame)]
        except (av.error.FFmpegError, ValueError) as e:
            self._resampling = None
            raise StreamError(f"audio frame ({setup[0]}, {setup[1]}, {setup[2]} Hz) could not be converted: {e}") from e
        return self._slicer.push(np.concatenate(out)) if out else []

    def reset(self) -> None:
        """After a gap: drop half-frames so old audio is never replayed late."""
        self._slicer.reset()


class AudioEncoder:
    """Encodes 20 ms float32 frames of a mix to Opus (or AAC), with pts in 1/48000."""

    def __init__(self, codec: str = "opus", bitrate: int = 32000):
        names: dict[str, FFmpegAudioCodec] = {"opus": "libopus", "aac": "aac"}
        name = names.get(codec)
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
    def context(self) -> av.AudioCodecContext:
        return self._ctx

    def encode(self, samples: np.ndarray, index: int | None = None) -> list[av.Packet]:
        """Encode one 20 ms frame. With `index` (the room's 20 ms frame number) the Opus
        packet is stamped index * 960, so every receiver's stream keeps one time line
        whichever encoder its packets come from."""
        x = np.asarray(samples, np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(x, format="flt" if self._fifo is None else "fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = self.time_base
        self._pts += x.shape[1]
        if self._fifo is None:
            packets = list(self._ctx.encode(frame))
            if index is not None:
                for p in packets:
                    p.pts = p.dts = index * FRAME_SIZE
            return packets
        self._fifo.write(frame)
        packets = []
        while (chunk := self._fifo.read(self._ctx.frame_size)) is not None:
            packets += self._ctx.encode(chunk)
        return packets

    def flush(self) -> list[av.Packet]:
        return list(self._ctx.encode(None))


def _lowpass_taps(ratio: int, taps: int = 97) -> np.ndarray:
    """A Kaiser-windowed sinc that keeps the band below 3.6 kHz of a 48 kHz signal
    before keeping one sample in `ratio` (G.711's 8 kHz)."""
    n = np.arange(taps) - (taps - 1) / 2
    cutoff = 3600 / SAMPLE_RATE
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(taps, 8.0)
    return (h / h.sum()).astype(np.float32)


class G711Encoder:
    """20 ms 48 kHz float frames to 8 kHz G.711 (PCMU or PCMA) payloads of 160 bytes.

    Decimation is a FIR over the frame and the tail of the frame the receiver heard
    before it (passed in), so a receiver moving between the shared mix and its own
    mix-minus keeps one continuous waveform; the G.711 quantiser itself is stateless."""

    RATIO = SAMPLE_RATE // G711_RATE
    TAPS = _lowpass_taps(SAMPLE_RATE // G711_RATE)

    def __init__(self, codec: str = "pcmu"):
        if codec not in ("pcmu", "pcma"):
            raise InvalidInputError(f"G.711 codec must be 'pcmu' or 'pcma', got {codec!r}")
        self.codec = codec
        self.time_base = G711_TIME_BASE
        self._ctx = av.CodecContext.create(AUDIO_CODECS[codec][0], "w")
        self._ctx.sample_rate, self._ctx.layout, self._ctx.format = G711_RATE, "mono", "s16"
        self._ctx.open()

    def encode(self, samples: np.ndarray, before: np.ndarray | None, index: int) -> list[av.Packet]:
        """One packet for frame `index`; `before` is the 48 kHz frame heard just before."""
        t = len(self.TAPS)
        history = before[-(t - 1) :] if before is not None else np.zeros(t - 1, np.float32)
        x = np.concatenate([history, np.asarray(samples, np.float32)])
        windows = np.lib.stride_tricks.sliding_window_view(x, t)[:: self.RATIO]
        y = windows @ self.TAPS[::-1]
        pcm = np.clip(np.rint(y * 32767), -32768, 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = G711_RATE
        packets = list(self._ctx.encode(frame))
        for p in packets:
            p.pts = p.dts = index * (FRAME_SIZE // self.RATIO)
            p.time_base = self.time_base
        return packets
