"""Layouts are pure geometry: even rects, inside the canvas, no overlaps, the right people."""

import json
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmedia import InvalidInputError, layouts


def people(n):
    return [f"p{i}" for i in range(n)]


def check_well_formed(layout):
    for slot in layout.slots:
        r = slot.rect
        assert r.x % 2 == r.y % 2 == r.w % 2 == r.h % 2 == 0, r
        assert r.w > 0 and r.h > 0 and r.x >= 0 and r.y >= 0
        assert r.x + r.w <= layout.width and r.y + r.h <= layout.height, r
    for a, b in combinations(layout.slots, 2):
        ra, rb = a.rect, b.rect
        overlap = ra.x < rb.x + rb.w and rb.x < ra.x + ra.w and ra.y < rb.y + rb.h and rb.y < ra.y + ra.h
        assert not overlap, (a, b)


@settings(max_examples=120, deadline=None)
@given(n=st.integers(1, 120), w=st.integers(160, 1920), h=st.integers(90, 1080))
def test_gallery_pages_cover_everyone_once(n, w, h):
    w, h = 2 * (w // 2), 2 * (h // 2)
    seen = []
    for page in range(layouts.gallery_pages(n)):
        lay = layouts.gallery(people(n), w, h, page=page)
        check_well_formed(lay)
        assert 1 <= len(lay.slots) <= 49
        seen += [s.participant for s in lay.slots]
    assert seen == people(n)


@pytest.mark.parametrize("n, shape", [(1, (1, 1)), (2, (2, 1)), (4, (2, 2)), (9, (3, 3)), (16, (4, 4)), (25, (5, 5)), (49, (7, 7))])
def test_gallery_grid_shapes_on_16_by_9(n, shape):
    assert layouts.grid_shape(n, 1280, 720) == shape


def test_gallery_tiles_are_equal_and_the_short_row_is_centred():
    lay = layouts.gallery(people(7), 1280, 720)
    sizes = {(s.rect.w, s.rect.h) for s in lay.slots}
    assert max(w for w, _ in sizes) - min(w for w, _ in sizes) <= 2
    last = [s.rect for s in lay.slots[6:]]
    left_gap = last[0].x
    assert abs(left_gap - (1280 - (last[-1].x + last[-1].w))) <= 4 and left_gap > 100


@pytest.mark.parametrize("variant, mains, strip", [("1+7", 1, 7), ("1+21", 1, 21), ("2+21", 2, 21), ("1+33", 1, 33)])
@pytest.mark.parametrize("n", [1, 3, 8, 40])
def test_speaker_layout_puts_the_speaker_large(variant, mains, strip, n):
    ids = people(n)
    lay = layouts.speaker(ids, ids[-1], 1280, 720, variant=variant)
    check_well_formed(lay)
    main = [s for s in lay.slots if s.main]
    assert main[0].participant == ids[-1]
    assert len(main) == min(mains, n)
    assert len(lay.slots) == min(n, mains + strip)
    small = [s for s in lay.slots if not s.main]
    assert all(s.rect.w * s.rect.h < main[0].rect.w * main[0].rect.h for s in small)
    assert len(lay.visible) == len(lay.slots)


def test_participants_beyond_the_filmstrip_are_not_visible():
    ids = people(25)
    lay = layouts.speaker(ids, "p3", variant="1+7")
    assert "p3" in lay.visible and len(lay.visible) == 8
    assert lay.rect_of("p24") is None


def test_presentation_gives_content_the_big_region():
    lay = layouts.presentation(people(6), "p2")
    check_well_formed(lay)
    content = lay.slots[0]
    assert content.participant == "p2" and content.main
    assert content.rect.w * content.rect.h > 0.5 * 1280 * 720
    assert len(lay.slots) == 5


SPEC = {
    "groups": [
        {"max_participants": 2, "regions": [{"x": 0, "y": 0, "w": 0.5, "h": 1}, {"x": 0.5, "y": 0, "w": 0.5, "h": 1}]},
        {"max_participants": 100, "regions": [{"x": 0.25, "y": 0, "w": 0.5, "h": 0.5, "main": True}]
         + [{"x": i / 4, "y": 0.5, "w": 0.25, "h": 0.5} for i in range(4)]},
    ]
}


def test_custom_layout_picks_the_group_by_participant_count():
    two = layouts.custom(SPEC, people(2), 1280, 720)
    assert [s.rect.as_tuple() for s in two.slots] == [(0, 0, 640, 720), (640, 0, 640, 720)]
    many = layouts.custom(json.dumps(SPEC), people(9), 1280, 720, speaker="p5")
    check_well_formed(many)
    assert many.slots[0].participant == "p5" and many.slots[0].rect.as_tuple() == (320, 0, 640, 360)
    assert len(many.slots) == 5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: layouts.gallery(people(3), 1281, 720), "even"),
        (lambda: layouts.gallery(people(3), page=1), "page 1 does not exist"),
        (lambda: layouts.gallery(["a", "a"]), "unique"),
        (lambda: layouts.speaker(people(3), "zz"), "not a participant"),
        (lambda: layouts.speaker(people(3), variant="3+3"), "unknown speaker variant"),
        (lambda: layouts.custom("{nope", people(2)), "not valid JSON"),
        (lambda: layouts.custom({"groups": [{"regions": [{"x": 0.8, "y": 0, "w": 0.5, "h": 1}]}]}, people(2)), "inside the unit square"),
    ],
)
def test_bad_layout_requests_raise_clear_errors(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_preview_draws_a_labelled_picture(tmp_path):
    lay = layouts.speaker(people(5), "p1")
    img = lay.preview(str(tmp_path / "l.png"), scale=0.25)
    assert img.size == (320, 180)
    assert (tmp_path / "l.png").stat().st_size > 0
    main = lay.slots[0].rect
    # The main tile is drawn in its own colour at its place.
    assert img.getpixel((int((main.x + main.w / 2) * 0.25), int((main.y + 10) * 0.25))) == (70, 90, 140)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 60),
    w=st.integers(64, 1920),
    h=st.integers(48, 1080),
    variant=st.sampled_from(sorted(layouts.SPEAKER_VARIANTS)),
    kind=st.sampled_from(["speaker", "presentation"]),
)
def test_speaker_and_presentation_layouts_are_well_formed_at_any_size(n, w, h, variant, kind):
    w, h = 2 * (w // 2), 2 * (h // 2)
    ids = people(n)
    lay = layouts.speaker(ids, ids[n // 2], w, h, variant=variant) if kind == "speaker" else layouts.presentation(ids, ids[0], w, h)
    check_well_formed(lay)
    assert lay.slots[0].participant == (ids[n // 2] if kind == "speaker" else ids[0])
