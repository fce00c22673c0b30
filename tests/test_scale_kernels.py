"""The fused scale+place kernel against the numpy reference (tests/reference.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from vmedia import _core


def padded(rng, h, w, pad):
    """A random h x w plane whose rows are `pad` bytes longer than its width."""
    return rng.integers(0, 256, (h, w + pad), dtype=np.uint8)[:, :w]


@pytest.mark.parametrize(
    "src_size, dst_size",
    [((640, 360), (422, 236)), ((640, 360), (256, 144)), ((640, 360), (320, 180)), ((320, 180), (1280, 720)),
     ((641, 361), (213, 119)), ((97, 53), (97, 53)), ((1920, 1080), (182, 102)), ((64, 48), (640, 30))],
)
def test_scale_matches_reference_on_random_pictures(kernels, src_size, dst_size):
    rng = np.random.default_rng(1)
    (sw, sh), (dw, dh) = src_size, dst_size
    src = padded(rng, sh, sw, 32)
    dst = np.zeros((dh, dw), np.uint8)
    _core.scale_plane(src, (0, 0, sw, sh), dst, (0, 0, dw, dh))
    want = ref.scale_plane(src, (0, 0, sw, sh), dw, dh)
    assert ref.psnr(dst, ref.to_u8(want)) >= 45
    assert np.abs(dst - want).max() <= 1.0


def test_same_size_is_an_exact_copy(kernels):
    rng = np.random.default_rng(2)
    src = padded(rng, 50, 70, 10)
    dst = rng.integers(0, 256, (60, 90), dtype=np.uint8)
    _core.scale_plane(src, (3, 5, 40, 30), dst, (10, 12, 40, 30))
    np.testing.assert_array_equal(dst[12:42, 10:50], src[5:35, 3:43])


def test_constant_picture_stays_constant_at_any_scale(kernels):
    src = np.full((37, 53), 201, np.uint8)
    for dw, dh in [(5, 3), (53, 37), (200, 111), (20, 90)]:
        dst = np.zeros((dh, dw), np.uint8)
        _core.scale_plane(src, (0.25, 0.5, 52.5, 36), dst, (0, 0, dw, dh))
        assert (dst == 201).all(), (dw, dh)


@st.composite
def scale_case(draw):
    sw, sh = draw(st.integers(1, 90)), draw(st.integers(1, 70))
    cw = draw(st.floats(0.5, sw)) if sw > 1 else 1.0
    ch = draw(st.floats(0.5, sh)) if sh > 1 else 1.0
    cx = draw(st.floats(0, sw - cw))
    cy = draw(st.floats(0, sh - ch))
    canvas_w, canvas_h = draw(st.integers(1, 120)), draw(st.integers(1, 100))
    dw, dh = draw(st.integers(1, canvas_w)), draw(st.integers(1, canvas_h))
    x, y = draw(st.integers(0, canvas_w - dw)), draw(st.integers(0, canvas_h - dh))
    pad = draw(st.sampled_from([0, 1, 7, 64]))
    seed = draw(st.integers(0, 2**32 - 1))
    return sw, sh, (cx, cy, cw, ch), canvas_w, canvas_h, (x, y, dw, dh), pad, seed


@settings(max_examples=300, deadline=None)
@given(case=scale_case())
def test_scale_over_sizes_strides_and_positions(case):
    sw, sh, crop, canvas_w, canvas_h, rect, pad, seed = case
    rng = np.random.default_rng(seed)
    src = padded(rng, sh, sw, pad)
    canvas = rng.integers(0, 256, (canvas_h, canvas_w + pad), dtype=np.uint8)
    before = canvas.copy()
    x, y, dw, dh = rect
    results = []
    for mask in (0, -1):  # the C rows and the optimised rows must agree exactly
        _core.set_cpu_mask(mask)
        try:
            _core.scale_plane(src, crop, canvas[:, :canvas_w], rect)
        finally:
            _core.set_cpu_mask(-1)
        results.append(canvas.copy())
    np.testing.assert_array_equal(results[0], results[1])
    want = ref.scale_plane(src, crop, dw, dh)
    assert np.abs(canvas[y : y + dh, x : x + dw] - want).max() <= 1.0
    # Guard bytes: nothing outside the destination rect changed, padding included.
    outside = np.ones(canvas.shape, bool)
    outside[y : y + dh, x : x + dw] = False
    np.testing.assert_array_equal(canvas[outside], before[outside])
