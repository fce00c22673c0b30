"""Labels for real names: the bundled font covers Nordic, Cyrillic, Greek and Arabic
(no .notdef boxes), Arabic is shaped right-to-left, long names are ellipsised, uncovered
scripts fall back to "?"; the tile cards checked on their pixels."""

import unicodedata

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from vmedia.media import labels
from vmedia.media.color import rgb_to_yuv
from vmedia.video.compositor import Overlay

NAMES = {
    "nordic": "Åse Ødegård Æbelø Björk Sjöström Mäkinen Þórður Guðrún Ærø",
    "nordic_caps": "ÆØÅÄÖÜÐÞæøåäöüðþéÉ",
    "cyrillic": "Дмитрий Иванович Щукин Юлия Ёлкина",
    "greek": "Νίκος Παπαδόπουλος Ελένη Ωμέγα",
    "arabic": "محمد بن عبد الله فاطمة الزهراء",
}


def notdef_mask(size):
    """The font's .notdef box, drawn for a private-use character it has no glyph for."""
    font = ImageFont.truetype(str(labels.FONT_PATH), size)
    assert labels.missing_glyphs("\ue000") == ["\ue000"]
    return np.asarray(font.getmask("\ue000"))


@pytest.mark.parametrize("script", sorted(NAMES))
def test_the_bundled_font_has_a_glyph_for_every_character_of_real_names(script):
    assert labels.missing_glyphs(NAMES[script]) == []
    box = notdef_mask(24)
    font = ImageFont.truetype(str(labels.FONT_PATH), 24)
    for c in set(NAMES[script]) - {" "}:
        glyph = np.asarray(font.getmask(c))
        assert glyph.shape != box.shape or not np.array_equal(glyph, box), f"{c!r} ({unicodedata.name(c)}) is a box"


def test_a_label_is_the_text_drawn_with_the_bundled_font_on_its_box():
    text, size = "Åse Ødegård", 24
    got = labels.render_label(text, size, color="#FFFFFF", box="#000000", box_alpha=150)
    font = ImageFont.truetype(str(labels.FONT_PATH), size, layout_engine=ImageFont.Layout.RAQM if labels.raqm() else ImageFont.Layout.BASIC)
    left, top, right, bottom = font.getbbox(text)
    pad = size // 4
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    want = Image.new("RGBA", (w + w % 2, h + h % 2), (0, 0, 0, 150))
    ImageDraw.Draw(want).text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 255))
    assert np.array_equal(got, np.asarray(want))
    # ... and not what the old default font drew: the ring of the Å is there
    assert not np.array_equal(labels.render_label("Åse", size), labels.render_label("Ase", size))


def test_arabic_is_shaped_and_laid_out_right_to_left():
    def ink(text):
        return labels.render_label(text, 32)[..., 0] > 128

    shaped = ink("محمد")
    joined = ink("\ufee3\ufea4\ufee4\ufeaa")  # initial meem, medial hah, medial meem, final dal
    isolated = ink("\ufee1\ufea1\ufee1\ufea9")  # the same letters unjoined: what a plain renderer draws
    assert shaped.shape == joined.shape and (shaped == joined).mean() > 0.98
    assert shaped.shape != isolated.shape or (shaped == isolated).mean() < 0.95
    # right to left: the same glyphs drawn plainly left to right in visual order (final dal first)
    font = ImageFont.truetype(str(labels.FONT_PATH), 32, layout_engine=ImageFont.Layout.BASIC)
    img = Image.new("L", (200, 60))
    ImageDraw.Draw(img).text((10, 5), "\ufeaa\ufee4\ufea4\ufee3", font=font, fill=255)
    visual, got, mirror = cropped(np.asarray(img) > 128), cropped(shaped), cropped(np.fliplr(shaped))
    assert abs(visual.shape[0] - got.shape[0]) <= 1 and abs(visual.shape[1] - got.shape[1]) <= 2  # sub-pixel placement
    h, w = min(visual.shape[0], got.shape[0]), min(visual.shape[1], got.shape[1])
    assert (visual[:h, :w] == got[:h, :w]).mean() > 0.9
    assert (visual[:h, :w] == mirror[:h, :w]).mean() < (visual[:h, :w] == got[:h, :w]).mean() - 0.1  # not mirrored


def cropped(mask):
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def test_the_pure_python_shaper_agrees_with_raqm(monkeypatch):
    if not labels.raqm():
        pytest.skip("Pillow without raqm: the pure-Python path is the only one")
    text = "فاطمة الزهراء"
    with_raqm = labels.render_label(text, 28)
    monkeypatch.setattr(labels, "raqm", lambda: False)
    labels._font.cache_clear()
    try:
        fallback = labels.render_label(text, 28)
    finally:
        labels._font.cache_clear()
    assert abs(with_raqm.shape[1] - fallback.shape[1]) <= 4
    w = min(with_raqm.shape[1], fallback.shape[1])
    a, b = with_raqm[:, :w, 0] > 128, fallback[:, :w, 0] > 128
    assert (a & b).sum() > 0.8 * max(a.sum(), b.sum())


def test_scripts_the_font_lacks_fall_back_to_question_marks_not_boxes(caplog):
    assert labels.missing_glyphs("王小明") == list("王小明")
    assert np.array_equal(labels.render_label("王小明 Li", 20), labels.render_label("??? Li", 20))
    assert "add_font" in caplog.text or "CJK" in labels._warned_scripts


def test_long_names_are_ellipsised_to_fit_and_short_ones_are_left_alone():
    long = "Bartholomew Fitzgerald-Worthington"
    label = labels.render_label(long, 20, max_width=150)
    assert label.shape[1] <= 150
    assert labels.fit(long, 20, 120).endswith(labels.ELLIPSIS) and labels.text_width(labels.fit(long, 20, 120), 20) <= 120
    assert labels.fit("Ada", 20, 120) == "Ada"
    assert np.array_equal(labels.render_label("Ada", 20, max_width=150), labels.render_label("Ada", 20))
    overlay = Overlay.text(long, size=20, max_width=150)
    assert overlay.width <= 150


def test_label_size_scales_with_the_output_height():
    sizes = [labels.label_size(h) for h in (180, 360, 720, 1080, 2160)]
    assert sizes == sorted(sizes) and sizes[0] >= 10 and sizes[1] < 18 and sizes[3] > 30


def ink(img, background):
    return np.abs(img.astype(int) - np.asarray(background)).sum(axis=2) > 60


def test_the_audio_only_card_shows_initials_a_microphone_and_the_name_on_a_calm_background():
    w, h = 320, 180
    card = labels.audio_only_card("Dr. Ada Okafor", w, h)
    bg = labels.parse_rgb(labels.CARD_BACKGROUND)
    assert card.shape == (h, w, 3)
    assert (card[0, 0] == bg).all() and (card[-1, -1] == bg).all()
    assert max(bg) - min(bg) < 40 and max(bg) < 100  # muted, dark: calm, never a warning colour
    marks = ink(card, bg)
    assert marks[h // 4 : h * 3 // 5, w // 3 : w * 2 // 3].any()  # the avatar with the initials
    assert marks[int(h * 0.72) : int(h * 0.9), w // 4 : w * 3 // 4].any()  # the name under it
    assert labels.initials("Dr. Ada Okafor") == "AO" and labels.initials("Åse") == "Å" and labels.initials("") == "?"
    other = labels.audio_only_card("Ben Lindqvist", w, h)
    assert not np.array_equal(card, other)


def test_the_overflow_tile_says_how_many_more():
    three, four = labels.overflow_card(3, 200, 112), labels.overflow_card(4, 200, 112)
    bg = labels.parse_rgb(labels.OVERFLOW_BACKGROUND)
    assert ink(three, bg)[30:80, 50:150].sum() > 100 and not np.array_equal(three, four)
    with pytest.raises(labels.InvalidInputError):
        labels.overflow_card(0, 200, 112)


def test_the_alone_picture_and_its_frame():
    pic = labels.alone_card(640, 360)
    bg = labels.parse_rgb(labels.ALONE_BACKGROUND)
    marks = ink(pic, bg)
    assert marks[100:220, 280:360].any() and marks[240:300, 100:540].any()  # the outline and the sentence
    frame = labels.to_frame(pic)
    assert (frame.width, frame.height) == (640, 360)
    assert abs(int(frame.y[5, 5]) - rgb_to_yuv(labels.ALONE_BACKGROUND)[0]) <= 2  # the background, not black
