"""Small real senders and receivers for end-to-end tests (libx264 and libopus round trips)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from vmedia import I420Frame
from vmedia.codecs.audio import AudioEncoder


class ColourSender:
    """An endpoint sending a solid-colour picture (H.264) and a tone or silence (Opus)."""

    def __init__(self, yuv=(120, 60, 200), width=160, height=90, fps=15):
        self.yuv, self.width, self.height, self.fps = yuv, width, height, fps
        self._open()
        self.audio = AudioEncoder("opus")

    def _open(self):
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, "yuv420p"
        ctx.time_base, ctx.framerate = Fraction(1, self.fps), Fraction(self.fps)
        ctx.gop_size = 1000
        ctx.thread_count = 1
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "repeat-headers=1"}
        ctx.open()
        self.video = ctx
        self.index = 0

    def resize(self, width, height):
        self.width, self.height = width, height
        self._open()

    def video_packets(self, yuv=None, keyframe=False) -> list[bytes]:
        frame = I420Frame.blank(self.width, self.height, yuv or self.yuv).av_frame
        frame.pts = self.index
        frame.time_base = Fraction(1, self.fps)
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        self.index += 1
        return [bytes(p) for p in self.video.encode(frame)]

    def audio_packets(self, samples: np.ndarray) -> list[bytes]:
        return [bytes(p) for p in self.audio.encode(samples)]


def decode_h264(packets) -> list[av.VideoFrame]:
    dec = av.CodecContext.create("h264", "r")
    frames = []
    for p in packets:
        frames += dec.decode(av.Packet(bytes(p)))
    frames += dec.decode(None)
    return frames


def decode_opus(packets) -> tuple[np.ndarray, float]:
    """Samples (float32) and the media time of the first one, from the packets' pts."""
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate, dec.layout = 48000, "mono"
    chunks, first = [], None
    for p in packets:
        pkt = av.Packet(bytes(p))
        pkt.pts, pkt.time_base = p.pts, p.time_base
        for f in dec.decode(pkt):
            if first is None:
                first = float(f.pts * f.time_base) if f.pts is not None else 0.0
            x = f.to_ndarray().reshape(-1)
            chunks.append(x.astype(np.float32) / (32768 if x.dtype == np.int16 else 1))
    return np.concatenate(chunks), first or 0.0


def y_at(frame: av.VideoFrame, x: int, y: int) -> int:
    return int(I420Frame.from_av(frame).y[y, x])
