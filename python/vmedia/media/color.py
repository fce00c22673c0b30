"""Colour conversion between RGB and studio-range BT.601 YUV (what H.264 streams carry)."""

from __future__ import annotations

import numpy as np

from vmedia.errors import InvalidInputError

Yuv = tuple[int, int, int]

_RGB_TO_YUV = np.array(
    [[0.257, 0.504, 0.098], [-0.148, -0.291, 0.439], [0.439, -0.368, -0.071]], dtype=np.float64
)
_YUV_OFFSET = np.array([16.0, 128.0, 128.0])


def parse_rgb(color: str | tuple[int, int, int]) -> tuple[int, int, int]:
    """'#RRGGBB' or an (r, g, b) tuple of 0..255."""
    if isinstance(color, str):
        text = color.lstrip("#")
        if len(text) != 6:
            raise InvalidInputError(f"colour must be '#RRGGBB', got {color!r}")
        try:
            return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
        except ValueError:
            raise InvalidInputError(f"colour must be '#RRGGBB', got {color!r}") from None
    try:
        rgb = tuple(int(c) for c in color)
    except (TypeError, ValueError):
        raise InvalidInputError(f"colour must be '#RRGGBB' or three values in 0..255, got {color!r:.40}") from None
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise InvalidInputError(f"colour must be three values in 0..255, got {color!r}")
    return rgb  # type: ignore[return-value]


def rgb_to_yuv(color: str | tuple[int, int, int]) -> Yuv:
    y, u, v = np.clip(np.rint(_RGB_TO_YUV @ np.array(parse_rgb(color), float) + _YUV_OFFSET), 0, 255)
    return int(y), int(u), int(v)


def rgb_image_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 RGB to H x W x 3 float YUV (vectorised; for overlays, not per frame)."""
    return rgb.astype(np.float64) @ _RGB_TO_YUV.T + _YUV_OFFSET
