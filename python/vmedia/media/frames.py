"""I420 pictures as three numpy plane views, over PyAV frames or fresh arrays, without copies."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from vmedia.errors import InvalidInputError


def _plane_view(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A 2-D uint8 view of a PyAV plane; the stride is PyAV's padded line size."""
    flat = np.frombuffer(memoryview(plane), np.uint8)  # numpy's stubs take no av.Buffer; still no copy
    return flat.reshape(plane.height, plane.line_size)[:, : plane.width]


@dataclass
class I420Frame:
    """A yuv420p picture: y is height x width, u and v are ceil(height/2) x ceil(width/2).

    `av_frame` is the PyAV frame the planes belong to, when there is one, so a composed
    canvas can go to the encoder without a copy.
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    av_frame: av.VideoFrame | None = None

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    @property
    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (self.y, self.u, self.v)

    @classmethod
    def blank(cls, width: int, height: int, color: tuple[int, int, int] = (16, 128, 128)) -> I420Frame:
        """A new PyAV-backed picture filled with a YUV colour."""
        if width <= 0 or height <= 0:
            raise InvalidInputError(f"picture size must be positive, got {width}x{height}")
        frame = cls.from_av(av.VideoFrame(width, height, "yuv420p"))
        for plane, value in zip(frame.planes, color):
            plane[...] = value
        return frame

    @classmethod
    def from_av(cls, frame: av.VideoFrame) -> I420Frame:
        """Views of a PyAV frame's planes; other pixel formats are converted first (a copy)."""
        if not isinstance(frame, av.VideoFrame):
            raise InvalidInputError(f"expected an av.VideoFrame, got {type(frame).__name__}")
        if frame.format.name not in ("yuv420p", "yuvj420p"):
            frame = frame.reformat(format="yuv420p")
        y, u, v = (_plane_view(p) for p in frame.planes[:3])
        return cls(y, u, v, frame)

    @classmethod
    def from_planes(cls, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> I420Frame:
        """Wrap three uint8 arrays, checking that they form an I420 picture."""
        planes = [np.asarray(p) for p in (y, u, v)]
        for name, p in zip("yuv", planes):
            if p.dtype != np.uint8 or p.ndim != 2:
                raise InvalidInputError(f"plane {name} must be a 2-D uint8 array, got {p.dtype} with ndim={p.ndim}")
        h, w = planes[0].shape
        want = ((h + 1) // 2, (w + 1) // 2)
        for name, p in zip("uv", planes[1:]):
            if p.shape != want:
                raise InvalidInputError(f"plane {name} is {p.shape[1]}x{p.shape[0]}, expected {want[1]}x{want[0]} for a {w}x{h} picture")
        return cls(planes[0], planes[1], planes[2])

    def to_av(self) -> av.VideoFrame:
        """The PyAV frame behind this picture, or a new one holding a copy."""
        if self.av_frame is not None:
            return self.av_frame
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for dst, src in zip(I420Frame.from_av(frame).planes, self.planes):
            dst[...] = src
        return frame

    def copy(self) -> I420Frame:
        return I420Frame(self.y.copy(), self.u.copy(), self.v.copy())
