"""Recording and streaming indicators burned into a composite."""

import numpy as np
import pytest

from reference import blend
from vmedia.errors import InvalidInputError
from vmedia.media.frames import I420Frame
from vmedia.video import indicators


def grey(w=1280, h=720):
    return I420Frame.blank(w, h, (120, 128, 128))


def test_badges_are_blended_in_the_top_right_corner_and_nowhere_else():
    f = grey()
    indicators.burn(f, ["streaming", "recording"])
    (rec, rx, ry), (live, lx, ly) = indicators.placements(["recording", "streaming"], 1280, 720)
    assert ry == ly and rx + rec.width < lx and lx + live.width <= 1280 and ry + rec.height <= 720
    assert rx % 2 == 0 and lx % 2 == 0 and ry % 2 == 0
    y = f.planes[0]
    for o, x, top in ((rec, rx, ry), (live, lx, ly)):
        bg = np.full((o.height, o.width), 120, np.uint8)
        np.testing.assert_array_equal(y[top : top + o.height, x : x + o.width], blend(bg, o.y, o.alpha))
    untouched = np.ones(y.shape, bool)
    untouched[ry : ry + rec.height, rx : lx + live.width] = False
    assert (y[untouched] == 120).all()
    # red is there: the dot of REC and the box of LIVE push V (Cr) well above neutral
    v = f.planes[2]
    assert v[ry // 2 : (ry + rec.height) // 2, rx // 2 : (rx + rec.width) // 2].max() > 200
    assert np.median(v[ly // 2 : (ly + live.height) // 2, lx // 2 : (lx + live.width) // 2]) > 200


def test_no_kinds_no_change_and_badges_scale_with_the_canvas():
    f = grey(640, 360)
    indicators.burn(f, [])
    assert (f.planes[0] == 120).all()
    small = indicators.placements(["recording"], 640, 360)[0][0]
    big = indicators.placements(["recording"], 1920, 1080)[0][0]
    assert small.height == 18 and big.height == 54


def test_tiny_canvases_get_what_fits():
    for w, h in ((2, 2), (16, 16), (64, 24)):
        f = grey(w, h)
        indicators.burn(f, ["recording", "streaming"])  # never outside the canvas
        for o, x, y in indicators.placements(["recording", "streaming"], w, h):
            assert 0 <= x and x + o.width <= w and y + o.height <= h


def test_unknown_kind():
    with pytest.raises(InvalidInputError, match="indicator must be one of"):
        indicators.indicator("broadcasting", 36)
    with pytest.raises(InvalidInputError, match="broadcasting"):
        indicators.burn(grey(), ["recording", "broadcasting"])
