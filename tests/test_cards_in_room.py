"""The tile cards in a running room: a participant without video gets their card, a
layout too small for everyone ends with "+N", and someone alone sees the alone picture."""

import numpy as np

from media_helpers import ColourSender
from vmedia import Mixer, OutputProfile
from vmedia.video import cards

FPS = 15
PROFILE = OutputProfile("test", 640, 360, fps=FPS, bitrate=400_000)


def run(mixer, senders, frames=3):
    out = None
    for i in range(frames):
        for pid, s in senders.items():
            for p in s.video_packets():
                mixer.push_video(pid, p, i / FPS)
        out = mixer.tick(i / FPS)
    return out


def tile(picture, rect):
    return picture.y[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w]


def test_a_participant_without_video_shows_their_card_and_the_others_their_pictures():
    with Mixer([PROFILE], layout="gallery") as mixer:
        mixer.add_participant("cam", "Ada Okafor")
        mixer.add_participant("phone", "Åse Ødegård")  # dialled in: audio only
        out = run(mixer, {"cam": ColourSender((200, 128, 128), fps=FPS)})
        layout = mixer.layout()
        picture = out.composites["test"]
        r = layout.rect_of("phone")
        assert np.array_equal(tile(picture, r), cards.audio_only("Åse Ødegård", r.w, r.h).y)
        cam = layout.rect_of("cam")
        assert abs(int(picture.y[cam.y + cam.h // 3, cam.x + cam.w // 2]) - 200) <= 6  # the camera's picture


def test_a_speaker_layout_too_small_for_the_room_ends_with_plus_n():
    with Mixer([PROFILE], layout="speaker", speaker_variant="1+7") as mixer:
        for i in range(10):
            mixer.add_participant(f"p{i}", f"Person {i}")
        out = run(mixer, {f"p{i}": ColourSender((60 + 10 * i, 128, 128), fps=FPS) for i in range(10)})
        layout = mixer.layout()
        strip = [s for s in layout.slots if not s.main]
        last = strip[-1].rect
        # 8 tiles for 10 people: the last one stands for itself and the 2 not shown
        assert np.array_equal(tile(out.composites["test"], last), cards.overflow(3, last.w, last.h).y)


def test_someone_alone_sees_the_alone_picture():
    with Mixer([PROFILE], layout="gallery", self_view="exclude") as mixer:
        mixer.add_participant("solo", "Ada")
        out = run(mixer, {"solo": ColourSender(fps=FPS)})
        assert np.array_equal(out.picture_for("solo").y, cards.alone(640, 360).y)
