"""Plain numpy references: the specification every core kernel is checked against."""

from __future__ import annotations

import math

import numpy as np


def axis_matrix(offset: float, extent: float, src_size: int, dst_size: int) -> np.ndarray:
    """dst_size x src_size resampling weights: area average when shrinking, bilinear when growing."""
    m = np.zeros((dst_size, src_size))
    lo = math.floor(offset)
    hi = max(lo + 1, min(src_size, math.ceil(offset + extent - 1e-9)))
    scale = extent / dst_size
    x = np.arange(dst_size)
    if scale > 1:
        a = offset + x * scale
        b = a + scale
        i = np.arange(lo, hi)
        cover = np.minimum(b[:, None], i[None, :] + 1) - np.maximum(a[:, None], i[None, :])
        m[:, lo:hi] = np.clip(cover, 0, None) / scale
    else:
        c = offset + (x + 0.5) * scale - 0.5
        i0 = np.floor(c).astype(int)
        f = c - i0
        f = np.where(i0 < lo, 0.0, f)
        i0 = np.maximum(i0, lo)
        f = np.where(i0 >= hi - 1, 0.0, f)
        i0 = np.minimum(i0, hi - 1)
        i1 = np.minimum(i0 + 1, hi - 1)
        np.add.at(m, (x, i0), 1 - f)
        np.add.at(m, (x, i1), f)
    return m


def scale_plane(src: np.ndarray, crop, dst_w: int, dst_h: int) -> np.ndarray:
    """Float result of scaling src's crop (x, y, w, h) to dst_w x dst_h."""
    cx, cy, cw, ch = crop
    my = axis_matrix(cy, ch, src.shape[0], dst_h)
    mx = axis_matrix(cx, cw, src.shape[1], dst_w)
    return my @ src.astype(np.float64) @ mx.T


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def blend(dst: np.ndarray, src: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """round((a*src + (255-a)*dst) / 255)."""
    a = alpha.astype(np.float64)
    return to_u8((a * src + (255 - a) * dst) / 255)


def chroma_alpha(alpha: np.ndarray) -> np.ndarray:
    """2x2 mean (rounded) of a luma alpha plane, edges repeated for odd sizes."""
    h, w = alpha.shape
    p = np.pad(alpha.astype(np.int64), ((0, h % 2), (0, w % 2)), mode="edge")
    return ((p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).sum(axis=(1, 3)) + 2) >> 2).astype(np.uint8)
