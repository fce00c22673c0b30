"""The peers vmedia is compared with, doing the same job on the same inputs."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from vmedia.layouts import Rect


def synthetic_frames(n: int, width: int = 640, height: int = 360, seed: int = 0) -> list[av.VideoFrame]:
    """Smooth random pictures (camera-like detail), one per participant."""
    rng = np.random.default_rng(seed)
    frames = []
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(n):
        fx, fy, ph = rng.uniform(0.005, 0.08, 2).tolist() + [rng.uniform(0, 6.28)]
        base = 128 + 60 * np.sin(xx * fx + ph) * np.cos(yy * fy) + rng.normal(0, 12, (height, width))
        rgb = np.clip(np.stack([base, np.roll(base, i * 7, 1), 255 - base], -1), 0, 255).astype(np.uint8)
        frames.append(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"))
    return frames


class FfmpegStack:
    """scale (area) + xstack in one FFmpeg filter graph through PyAV: the peer compositor."""

    def __init__(self, rects: list[Rect], src_w: int, src_h: int, flags: str = "area"):
        self.graph = av.filter.Graph()
        self.sources = []
        stack = self.graph.add(
            "xstack", f"inputs={len(rects)}:layout=" + "|".join(f"{r.x}_{r.y}" for r in rects) + ":fill=black"
        )
        for i, rect in enumerate(rects):
            src = self.graph.add_buffer(width=src_w, height=src_h, format="yuv420p", time_base=Fraction(1, 30))
            scale = self.graph.add("scale", f"{rect.w}:{rect.h}:flags={flags}")
            src.link_to(scale)
            scale.link_to(stack, 0, i)
            self.sources.append(src)
        sink = self.graph.add("buffersink")
        stack.link_to(sink)
        self.sink = sink
        self.graph.configure()
        self.pts = 0

    def compose(self, frames: list[av.VideoFrame]) -> av.VideoFrame:
        for src, frame in zip(self.sources, frames):
            frame.pts = self.pts
            src.push(frame)
        self.pts += 1
        return self.sink.pull()


class FfmpegAmix:
    """amix of N mono 48 kHz inputs in one FFmpeg filter graph: the peer audio mixer
    (a single mix: no levels, no mix-minus, no speaker detection)."""

    def __init__(self, n: int):
        self.graph = av.filter.Graph()
        mix = self.graph.add("amix", f"inputs={n}:normalize=0:duration=longest")
        self.sources = []
        for i in range(n):
            src = self.graph.add_abuffer(format="flt", sample_rate=48000, layout="mono", time_base=Fraction(1, 48000))
            src.link_to(mix, 0, i)
            self.sources.append(src)
        sink = self.graph.add("abuffersink")
        mix.link_to(sink)
        self.sink = sink
        self.graph.configure()
        self.pts = 0

    def mix(self, frames: np.ndarray) -> list[av.AudioFrame]:
        for src, row in zip(self.sources, frames):
            frame = av.AudioFrame.from_ndarray(row.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = 48000
            frame.pts = self.pts
            src.push(frame)
        self.pts += frames.shape[1]
        out = []
        while True:
            try:
                out.append(self.sink.pull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return out
