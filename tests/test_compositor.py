"""I420 compose ops (scale, fill, border, blend) and the Python Compositor on top of them."""

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from vmedia import Compositor, I420Frame, InvalidInputError, Tile, _core
from vmedia.video.compositor import Overlay, fit_geometry
from vmedia.layouts import Rect


def random_i420(rng, w, h, pad=0):
    cw, ch = (w + 1) // 2, (h + 1) // 2
    planes = [rng.integers(0, 256, (ph, pw + pad), dtype=np.uint8)[:, :pw] for pw, ph in ((w, h), (cw, ch), (cw, ch))]
    return I420Frame(*planes)


def test_scale_op_scales_chroma_at_half_resolution(kernels):
    rng = np.random.default_rng(3)
    src = random_i420(rng, 641, 361, pad=15)  # odd: chroma is 321 x 181
    canvas = I420Frame.blank(1280, 720)
    crop = (10.0, 6.0, 600.0, 340.0)
    rect = (100, 50, 426, 240)
    _core.compose(canvas.planes, [("scale", src.planes, crop, rect)])
    x, y, w, h = rect
    want_y = ref.scale_plane(src.y, crop, w, h)
    want_u = ref.scale_plane(src.u, tuple(c / 2 for c in crop), w // 2, h // 2)
    assert np.abs(canvas.y[y : y + h, x : x + w] - want_y).max() <= 1
    assert np.abs(canvas.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] - want_u).max() <= 1
    assert ref.psnr(canvas.y[y : y + h, x : x + w], ref.to_u8(want_y)) >= 45


def test_fill_and_border_are_exact():
    canvas = I420Frame.blank(64, 48, (0, 0, 0))
    _core.compose(canvas.planes, [("fill", (0, 0, 64, 48), (16, 128, 128)), ("border", (8, 4, 20, 16), 4, (200, 50, 60))])
    inside = np.zeros((48, 64), bool)
    inside[4:20, 8:28] = True
    inside[8:16, 12:24] = False  # the frame is 4 px thick
    assert (canvas.y[inside] == 200).all() and (canvas.y[~inside] == 16).all()
    chroma = inside[::2, ::2]
    assert (canvas.u[chroma] == 50).all() and (canvas.u[~chroma] == 128).all()
    assert (canvas.v[chroma] == 60).all()


@settings(max_examples=150, deadline=None)
@given(
    ow=st.integers(1, 40), oh=st.integers(1, 30), x=st.integers(0, 30), y=st.integers(0, 20), seed=st.integers(0, 2**31)
)
def test_blend_matches_reference_exactly(ow, oh, x, y, seed):
    rng = np.random.default_rng(seed)
    x, y = 2 * (x // 2), 2 * (y // 2)
    canvas = random_i420(rng, 80, 60, pad=8)
    before = canvas.copy()
    ov = random_i420(rng, ow, oh)
    alpha = rng.integers(0, 256, (oh, ow), dtype=np.uint8)
    _core.compose(canvas.planes, [("blend", (*ov.planes, alpha), x, y)])
    np.testing.assert_array_equal(canvas.y[y : y + oh, x : x + ow], ref.blend(before.y[y : y + oh, x : x + ow], ov.y, alpha))
    ca = ref.chroma_alpha(alpha)
    cy, cx, ch, cw = y // 2, x // 2, ov.u.shape[0], ov.u.shape[1]
    np.testing.assert_array_equal(canvas.v[cy : cy + ch, cx : cx + cw], ref.blend(before.v[cy : cy + ch, cx : cx + cw], ov.v, ca))
    outside = np.ones(canvas.y.shape, bool)
    outside[y : y + oh, x : x + ow] = False
    np.testing.assert_array_equal(canvas.y[outside], before.y[outside])


def test_fit_letterboxes_and_fill_crops():
    crop, dst = fit_geometry(640, 480, Rect(0, 0, 640, 360), "fit")  # 4:3 into 16:9: pillarbox
    assert crop == (0, 0, 640, 480) and dst.h == 360 and dst.w == 480 and dst.x == 80 and dst.y == 0
    crop, dst = fit_geometry(640, 480, Rect(0, 0, 640, 360), "fill")  # crop top and bottom
    assert dst == Rect(0, 0, 640, 360)
    assert crop[2] == 640 and crop[3] == pytest.approx(360) and crop[1] == pytest.approx(60)


@settings(max_examples=200, deadline=None)
@given(sw=st.integers(1, 4000), sh=st.integers(1, 4000), w=st.integers(1, 600), h=st.integers(1, 400), mode=st.sampled_from(["fit", "fill"]))
def test_fit_geometry_stays_inside_the_tile(sw, sh, w, h, mode):
    tile = Rect(10, 20, 2 * w, 2 * h)
    crop, dst = fit_geometry(sw, sh, tile, mode)
    assert dst.x >= tile.x and dst.y >= tile.y and dst.x + dst.w <= tile.x + tile.w and dst.y + dst.h <= tile.y + tile.h
    assert dst.x % 2 == dst.y % 2 == dst.w % 2 == dst.h % 2 == 0
    cx, cy, cw, ch = crop
    assert 0 <= cx and 0 <= cy and cx + cw <= sw + 1e-6 and cy + ch <= sh + 1e-6
    if mode == "fill":
        assert cw / ch == pytest.approx(tile.w / tile.h, rel=1e-9)


def test_compositor_places_tiles_and_placeholders_where_the_layout_says():
    comp = Compositor(320, 180, background="#000000")
    red = I420Frame.blank(64, 36, (81, 90, 240))
    tiles = [Tile(Rect(0, 0, 160, 90), red), Tile(Rect(160, 0, 160, 90), None, placeholder=(100, 128, 128))]
    out = comp.compose(tiles)
    assert isinstance(out.to_av(), av.VideoFrame)
    assert (out.y[:90, :160] == 81).all() and (out.v[:45, :80] == 240).all()
    assert (out.y[:90, 160:] == 100).all()
    assert (out.y[90:] == 16).all()  # background: black in studio range


def test_label_overlay_is_blended_into_its_tile():
    comp = Compositor(320, 180)
    label = Overlay.text("Dr. Ada", size=16)
    assert label.alpha.max() == 255 and label.alpha.min() < 255
    plain = comp.compose([Tile(Rect(0, 0, 320, 180), None)])
    labelled = comp.compose([Tile(Rect(0, 0, 320, 180), None, label=label)])
    diff = np.argwhere(plain.y != labelled.y)
    assert len(diff) > 0
    # Only the bottom-left corner, where labels go, changes.
    assert diff[:, 0].min() >= 180 - label.height - 8 and diff[:, 1].max() < 8 + label.width


def test_overlay_from_rgba_keeps_colour_where_opaque():
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    ov = Overlay.from_rgba(rgba)
    assert ov.y.shape == (4, 6) and ov.u.shape == (2, 3)
    assert abs(int(ov.y[0, 0]) - 82) <= 1 and abs(int(ov.v[0, 0]) - 240) <= 1


def test_compose_writes_straight_into_a_pyav_frame():
    frame = av.VideoFrame(96, 64, "yuv420p")
    canvas = I420Frame.from_av(frame)
    assert canvas.y.strides[0] == frame.planes[0].line_size
    Compositor(96, 64, background="#FFFFFF").compose([], canvas)
    assert np.frombuffer(frame.planes[0], np.uint8).reshape(64, -1)[:, :96].min() == 235


@pytest.mark.parametrize(
    "planes_fn, ops, match",
    [
        (lambda c: (c.y, c.u[:, :-1], c.v), [], "canvas U plane is"),
        (lambda c: (c.y[:, :63], c.u, c.v), [], "even width"),
        (lambda c: c.planes, [("fill", (60, 0, 8, 8), (0, 0, 0))], "outside the 64x48 canvas"),
        (lambda c: c.planes, [("fill", (1, 0, 8, 8), (0, 0, 0))], "even x, y"),
        (lambda c: c.planes, [("scale", (np.zeros((8, 8), np.uint8),) * 3, (0, 0, 8, 8), (0, 0, 8, 8))], "source U plane is 8x8, expected 4x4"),
        (lambda c: c.planes, [("scale", (np.zeros((8, 8), np.float32),) * 3, (0, 0, 8, 8), (0, 0, 8, 8))], "uint8"),
        (lambda c: c.planes, [("scale", (np.zeros((8, 8), np.uint8), np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)), (0, 0, 9, 8), (0, 0, 8, 8))], "must lie inside"),
        (lambda c: c.planes, [("wipe", 1)], "unknown kind 'wipe'"),
        (lambda c: c.planes, [("border", (0, 0, 8, 8), 0, (0, 0, 0))], "thickness must be positive"),
        (lambda c: c.planes, [("fill", (0, 0, 8, 8), (0, 300, 0))], "0..255"),
        (lambda c: (c.y, c.u, "not a plane"), [], "buffer protocol"),
    ],
)
def test_bad_arguments_raise_a_clear_vmedia_error(planes_fn, ops, match):
    canvas = I420Frame.blank(64, 48)
    with pytest.raises(InvalidInputError, match=match):
        _core.compose(planes_fn(canvas), ops)


def test_read_only_canvas_is_refused():
    canvas = I420Frame.blank(64, 48)
    y = canvas.y.copy()
    y.flags.writeable = False
    with pytest.raises(InvalidInputError, match="not writable"):
        _core.compose((y, canvas.u, canvas.v), [])


def test_compositor_refuses_odd_canvas_and_bad_mode():
    with pytest.raises(InvalidInputError, match="even"):
        Compositor(321, 180)
    with pytest.raises(InvalidInputError, match="mode"):
        Compositor(320, 180).compose([Tile(Rect(0, 0, 8, 8), I420Frame.blank(8, 8), mode="stretch")])


def test_plan_given_no_picture_where_it_expects_one_raises_a_vmedia_error():
    # Found by mypy: TilePlan.ops took a None source for a sized tile and failed with an
    # AttributeError instead of saying which tile was wrong.
    plan = Compositor(320, 180).plan([Tile(Rect(0, 0, 160, 90), None).style], [(64, 36)])
    with pytest.raises(InvalidInputError, match="tile 0 has no picture"):
        plan.ops([None])
