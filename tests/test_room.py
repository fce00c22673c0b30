"""Room policies: lobby and admission, lock, mute-all, the stage, the test room."""

import numpy as np
import pytest

from media_helpers import ColourSender, decode_opus
from vmedia import InvalidInputError, PermissionDenied, Room
from vmedia.media import synth


def test_sensitive_room_keeps_guests_in_the_lobby_until_a_host_admits_them():
    events = []
    room = Room("sensitive", on_event=events.append)
    assert room.join("doc", "Dr. Ada", role="host") == "admitted"
    assert room.join("pat", "Patient") == "waiting"
    assert room.participants == ["doc"] and "pat" in room.lobby
    room.push_video("pat", b"\x00\x00\x00\x01\x65", 0.0)  # lobby media goes nowhere
    assert room.mixer.participants == ["doc"]
    with pytest.raises(PermissionDenied, match="not a host"):
        room.admit("pat", "pat")
    room.admit("doc", "pat")
    assert room.participants == ["doc", "pat"]
    assert ("admitted", "pat") in [(e.kind, e.participant) for e in events]
    room.join("other", "Someone")
    room.deny("doc", "other")
    assert "other" not in room.lobby and "other" not in room.participants


def test_1080p_is_for_sensitive_rooms_only():
    assert Room("sensitive", hd1080=True).mixer.profiles[0].height == 1080
    with pytest.raises(InvalidInputError, match="1080p"):
        Room("administrative", hd1080=True)


def test_administrative_lock_and_mute_all():
    room = Room("administrative")
    room.join("host", role="host")
    room.join("a")
    room.lock("host")
    with pytest.raises(PermissionDenied, match="locked"):
        room.join("late")
    room.join("cohost", role="host")  # hosts still get in
    with pytest.raises(PermissionDenied):
        room.lock("a")
    room.lock("host", False)
    room.join("late")
    # Mute-all: a guest who talks is never mixed; the host still is.
    room.mute_all("host")
    talk = synth.frames_of(synth.speech(2.0, 110, -22, seed=1))
    mixed = set()
    for k in range(len(talk)):
        for pid in ("host", "a"):
            room.push_audio(pid, talk[k], k * 0.02)
        out = room.tick((k + 1) * 0.02)
        mixed |= {m for mix in out.mixes for m in mix.minus}
    assert mixed == {"host"}


def test_capacity_is_enforced():
    room = Room("sensitive")
    room.join("h", role="host")
    for i in range(29):
        room.join(f"g{i}")
        room.admit("h", f"g{i}")
    with pytest.raises(PermissionDenied, match="at most 30"):
        room.join("one-too-many")


def test_auditorium_shows_and_mixes_only_the_stage():
    room = Room("auditorium", layout="gallery")
    room.join("host", role="host")
    for i in range(5):
        room.join(f"aud{i}")
    assert room.mixer.layout().visible == {"host"}
    room.set_stage("host", "aud2")
    assert room.mixer.layout().visible == {"host", "aud2"}
    room.set_stage("host", "aud2", False)
    assert room.mixer.layout().visible == {"host"}


def test_the_test_room_shows_the_caller_and_plays_a_tune():
    room = Room("test")
    room.join("caller")
    with pytest.raises(PermissionDenied):
        room.join("second")
    cam = ColourSender((180, 128, 128))
    outs = []
    for i in range(30):
        t = i / 15
        for p in cam.video_packets():
            room.push_video("caller", p, t)
        outs.append(room.tick(t))
    slots = room.mixer.layout().slots
    assert [s.participant for s in slots] == ["caller"]
    r = slots[0].rect
    assert int(outs[-1].composites["720p"].y[r.y + r.h // 2, r.x + r.w // 2]) == pytest.approx(180, abs=4)
    heard, _ = decode_opus([p for o in outs for p in o.audio_for("caller")])
    assert np.sqrt(np.mean(heard[24000:] ** 2)) > 0.01  # the tune is playing
    assert all(e.participant != "__test_tune__" for e in room.events)


def test_unknown_room_types_and_roles_are_refused():
    with pytest.raises(InvalidInputError, match="unknown room type"):
        Room("party")
    with pytest.raises(InvalidInputError, match="role"):
        Room().join("x", role="king")
