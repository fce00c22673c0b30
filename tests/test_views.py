"""Views: every receiver gets its own right picture, sound and codec, encoded once per
distinct view — checked on decoded pixels and samples."""

import av
import numpy as np
import pytest

from media_helpers import ColourSender, decode_h264, decode_opus
from vmedia import InvalidInputError, Mixer, OutputProfile, PermissionDenied, Room
from vmedia.codecs.audio import G711Encoder
from vmedia.media import synth
from vmedia.media.frames import I420Frame

FPS = 10
SMALL = OutputProfile("small", 320, 180, fps=FPS, bitrate=300_000, keyframe_interval=10.0)
TINY = OutputProfile("tiny", 160, 90, fps=FPS, bitrate=100_000, keyframe_interval=10.0)


def drive(room, seconds, *, video=None, audio=None, start=0.0, content=None):
    """Run `room` (a Room or a Mixer) from `start`: video[pid] is a ColourSender, audio(pid,
    k) gives 20 ms frame k (float PCM or encoded payloads) or None, content(i) a frame."""
    outs = []
    k = round(start / 0.02)
    for i in range(round(seconds * FPS)):
        t = start + i / FPS
        for pid, sender in (video or {}).items():
            for p in sender.video_packets():
                room.push_video(pid, p, t)
        if content is not None:
            room.push_content(content(i), t)
        while k * 0.02 < t + 1 / FPS - 1e-9:
            for pid in list(room.participants):
                x = audio(pid, k) if audio else None
                for payload in x if isinstance(x, list) else ([] if x is None else [x]):
                    room.push_audio(pid, payload, k * 0.02)
            k += 1
        outs.append(room.tick(t))
    return outs


def main_centre(layout):
    r = next(s.rect for s in layout.slots if s.main)
    return r.y + r.h // 2, r.x + r.w // 2


def talking(script, seconds):
    """script: {pid: [(start, end), ...]} -> audio(pid, k) with speech in those spurts."""
    tracks = {pid: synth.frames_of(synth.talk(spurts, seconds, f0=90 + 25 * i, level_db=-22, seed=i))
              for i, (pid, spurts) in enumerate(script.items())}
    return lambda pid, k: tracks[pid][k] if pid in tracks and k < len(tracks[pid]) else np.zeros(960, np.float32)


# --- speaker layouts ---------------------------------------------------------------------
def test_the_speaker_sees_the_previous_speaker_and_everyone_else_sees_the_speaker():
    colours = {f"p{i}": 30 + 20 * i for i in range(9)}
    senders = {pid: ColourSender((y, 128, 128)) for pid, y in colours.items()}
    with Mixer([SMALL], layout="speaker", labels=False) as mixer:
        for pid in senders:
            mixer.add_participant(pid)
        audio = talking({"p3": [(0.0, 2.0)], "p5": [(2.5, 5.0)]}, 5.0)
        outs = drive(mixer, 5.0, video=senders, audio=audio)
        assert mixer.dominant == "p5"
        last = outs[-1]
        # Two views for nine people: the speaker's and everyone else's.
        assert len(set(last.view_of.values())) == 2 and len(last.views) == 2
        for pid in senders:
            expected = "p3" if pid == "p5" else "p5"  # never themselves in the main tile
            y, x = main_centre(mixer.layout_for(pid))
            assert int(last.picture_for(pid).y[y, x]) == pytest.approx(colours[expected], abs=4), pid
        # What p5 and p0 receive, decoded as a receiver would: continuous H.264 whose
        # last picture has the right person in the main tile.
        for pid, expected in (("p5", "p3"), ("p0", "p5")):
            frames = decode_h264([p for o in outs for p in o.video_for(pid)])
            assert len(frames) == len(outs)
            y, x = main_centre(mixer.layout_for(pid))
            assert int(I420Frame.from_av(frames[-1]).y[y, x]) == pytest.approx(colours[expected], abs=6)


def test_a_hundred_person_speaker_room_encodes_two_views_per_profile_not_a_hundred():
    with Mixer([TINY, OutputProfile("tiny2", 128, 72, fps=FPS, bitrate=80_000)], layout="speaker",
               speaker_variant="1+21", labels=False) as mixer:
        for i in range(100):
            mixer.add_participant(f"p{i}", profile="tiny2" if i >= 50 else None)
        out = drive(mixer, 0.3)[-1]
    assert len(out.view_of) == 100
    # The speaker's view and everyone else's on the first profile; on the second, nobody
    # is the speaker, so one view.
    assert sorted(out.views) == ["speaker-1@tiny", "speaker@tiny", "speaker@tiny2"]
    assert out.view_of["p0"] == "speaker-1@tiny" and out.view_of["p42"] == "speaker@tiny"
    assert out.view_of["p77"] == "speaker@tiny2"
    assert all(len(packets) == 1 for packets in out.views.values())  # one frame per view this tick


def test_a_receiver_on_another_profile_gets_that_profiles_view():
    with Mixer([SMALL, TINY], layout="gallery", labels=False) as mixer:
        mixer.add_participant("a")
        mixer.add_participant("b", profile="tiny")
        outs = drive(mixer, 0.2)
        assert outs[-1].view_of == {"a": "gallery@small", "b": "gallery@tiny"}
        assert decode_h264([p for o in outs for p in o.video_for("b")])[0].width == 160
        with pytest.raises(InvalidInputError, match="no output profile"):
            mixer.add_participant("c", profile="4k")


def test_two_plus_21_shows_the_two_latest_speakers_never_the_first_to_join():
    with Mixer([SMALL], layout="speaker", speaker_variant="2+21", labels=False) as mixer:
        for i in range(6):
            mixer.add_participant(f"p{i}")
        drive(mixer, 6.0, audio=talking({"p4": [(0.0, 1.8)], "p3": [(2.0, 3.8)], "p2": [(4.0, 6.0)]}, 6.0))
        mains = lambda pid: [s.participant for s in mixer.layout_for(pid).slots if s.main]  # noqa: E731
        assert mains("p0") == ["p2", "p3"]  # the speaker and the previous speaker
        assert mains("p2") == ["p3", "p4"]  # the speaker sees the two before
        assert mains("p3") == ["p2", "p4"]  # the previous speaker never sees themselves large
        assert len({mixer.layout_for(f"p{i}") for i in range(6)}) == 3


def test_gallery_is_one_view_and_self_exclusion_gives_each_person_the_others():
    colours = {"a": 60, "b": 120, "c": 180}
    senders = {pid: ColourSender((y, 128, 128)) for pid, y in colours.items()}
    with Mixer([SMALL], layout="gallery", labels=False) as mixer:
        for pid in senders:
            mixer.add_participant(pid)
        assert len(drive(mixer, 0.5, video=senders)[-1].views) == 1
    senders = {pid: ColourSender((y, 128, 128)) for pid, y in colours.items()}  # new streams start with an IDR
    with Mixer([SMALL], layout="gallery", self_view="exclude", labels=False) as mixer:
        for pid in senders:
            mixer.add_participant(pid)
        out = drive(mixer, 0.5, video=senders)[-1]
        # One view per person, plus the observers' view (everyone) for recordings.
        assert sorted(out.views) == ["gallery-minus:a@small", "gallery-minus:b@small", "gallery-minus:c@small", "gallery@small"]
        for pid in senders:
            layout = mixer.layout_for(pid)
            seen = {int(out.picture_for(pid).y[s.rect.y + s.rect.h // 2, s.rect.x + s.rect.w // 2]) for s in layout.slots}
            assert {s.participant for s in layout.slots} == set(senders) - {pid}
            assert sorted(seen) == pytest.approx(sorted(y for p, y in colours.items() if p != pid), abs=4), pid


# --- audio per receiver ------------------------------------------------------------------
def _switches(outs, pid):
    flags = [pid in mix.minus for o in outs for mix in o.mixes]
    return [i for i in range(1, len(flags)) if flags[i] != flags[i - 1]]


def test_a_talker_entering_and_leaving_the_mix_receives_one_continuous_opus_stream():
    with Mixer([TINY], layout="gallery", labels=False) as mixer:
        for pid in ("a", "b", "c"):
            mixer.add_participant(pid)
        audio = talking({"a": [(0.5, 2.0), (4.0, 5.5)], "b": [(0.0, 7.0)], "c": [(2.5, 3.5)]}, 7.0)
        outs = drive(mixer, 7.0, audio=audio)
    packets = [p for o in outs for p in o.audio_for("a")]
    frames = sum(len(o.mixes) for o in outs)
    switches = _switches(outs, "a")
    assert len(switches) >= 3  # a entered and left the mixed set (and entered again)
    assert len(packets) == frames  # one packet per 20 ms, none lost or repeated at a switch
    pts = [p.pts for p in packets]
    assert all(b - a == 960 for a, b in zip(pts, pts[1:]))
    # Decoded, the stream follows the float mix a hears, and no switch is audible: the
    # coding error around each switch is no larger than elsewhere.
    heard, _ = decode_opus(packets)
    ref = np.concatenate([x for o in outs for x in o.pcm_for("a")])
    lag = max(range(0, 700), key=lambda d: float(np.dot(heard[d : d + 96000], ref[: 96000])))
    err = heard[lag : lag + len(ref)] - ref[: len(heard) - lag]
    frame_err = np.sqrt(np.mean(err[: len(err) // 960 * 960].reshape(-1, 960) ** 2, axis=1))
    frame_ref = np.sqrt(np.mean(ref[: len(frame_err) * 960].reshape(-1, 960) ** 2, axis=1))
    snr = 20 * np.log10(np.sum(frame_ref) / np.sum(frame_err))
    assert snr > 6, snr
    for s in switches:
        around = frame_err[max(0, s - 2) : s + 3]
        assert around.max() <= 2.5 * np.percentile(frame_err, 95) + 1e-3, (s, around, np.percentile(frame_err, 95))


def g711_decode(packets, codec="pcm_mulaw"):
    dec = av.CodecContext.create(codec, "r")
    dec.sample_rate, dec.layout = 8000, "mono"
    return np.concatenate([f.to_ndarray().reshape(-1) for p in packets for f in dec.decode(av.Packet(bytes(p)))]) / 32768


def test_a_phone_caller_gets_8khz_g711_of_its_own_mix_and_is_decoded_as_g711():
    script = {"phone": [(0.0, 2.0)], "doc": [(2.5, 5.0)]}
    tracks = {pid: synth.frames_of(synth.talk(sp, 5.0, f0=100 + 60 * i, level_db=-22, seed=i)) for i, (pid, sp) in enumerate(script.items())}
    phone_encoder = G711Encoder("pcmu")  # the caller's own phone

    def audio(pid, k):
        x = tracks.get(pid, np.zeros((250, 960), np.float32))[min(k, 249)]
        return [bytes(p) for p in phone_encoder.encode(x, None, k)] if pid == "phone" else x

    room = Room("sensitive", layout="gallery", low_profile=False)
    room.join("doc", "Doctor", role="host")
    assert room.join("phone", "Caller", audio_codec="pcmu") == "waiting"
    room.admit("doc", "phone")  # the lobby kept the caller's codec
    room.join("nurse", "Nurse", role="host")
    outs = drive(room, 5.0, audio=audio)
    packets = [p for o in outs for p in o.audio_for("phone")]
    assert {p.size for p in packets} == {160}
    assert [p.pts for p in packets] == [160 * k for k in range(packets[0].pts // 160, packets[0].pts // 160 + len(packets))]
    heard = g711_decode(packets)
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert rms(heard[int(0.5 * 8000) : 2 * 8000]) < 0.002  # talking: does not hear itself
    assert rms(heard[int(3.0 * 8000) : 5 * 8000]) > 0.02  # hears the doctor
    ref = np.concatenate([x for o in outs for x in o.pcm_for("phone")])[::6]  # float mix, decimated
    lag = max(range(0, 40), key=lambda d: float(np.dot(heard[d : d + 30000], ref[: 30000])))
    err = heard[lag:] - ref[: len(heard) - lag]
    assert 10 * np.log10(np.sum(ref[: len(err)] ** 2) / np.sum(err**2)) > 20  # G.711 plus the band limit
    # The doctor hears the caller's G.711 speech (decoded as PCMU, not noise).
    doc = np.concatenate([x for o in outs for x in o.pcm_for("doc")])
    assert rms(doc[int(0.5 * 48000) : 2 * 48000]) > 0.02 and rms(doc[int(3 * 48000) : 5 * 48000]) < 0.002
    opus_doc = [p for o in outs for p in o.audio_for("doc")]
    assert all(p.size != 160 for p in opus_doc[:5])  # Opus for the others


# --- presentation ------------------------------------------------------------------------
def content_frame(y, w=640, h=360):
    return I420Frame.blank(w, h, (y, 128, 128)).av_frame


def test_presentation_is_a_second_stream_and_in_the_mix_only_for_one_stream_receivers():
    room = Room("administrative", layout="speaker")
    room.join("host", "Host", role="host")
    room.join("guest", "Guest", content="in_mix")
    room.join("phone", "Phone", audio_codec="pcmu")
    before = room.mixer.layout_for("guest")
    room.start_presentation("host")
    assert room.participants == ["host", "guest", "phone"]
    outs = drive(room, 2.0, content=lambda i: content_frame(200))
    content = decode_h264([p for o in outs for p in o.content])
    assert len(content) == 2 * 15 - 1 or len(content) == 2 * 15  # 15 fps, its own rate
    assert (content[-1].width, content[-1].height) == (640, 360)  # the source's size, being smaller
    last = outs[-1]
    for pid in ("guest", "phone"):
        y, x = main_centre(room.mixer.layout_for(pid))
        assert int(last.picture_for(pid).y[y, x]) == pytest.approx(200, abs=4)
    assert last.view_of["guest"] == last.view_of["phone"] != last.view_of["host"]
    host_view = last.picture_for("host").y.astype(int)  # dual stream: the content is not in its picture
    y, x = main_centre(room.mixer.layout_for("host"))
    assert abs(host_view[y, x] - 200) > 20 and np.mean(np.abs(host_view - 200) <= 3) < 0.01
    assert last.broadcast["720p"] == last.view_of["guest"]  # recordings and streams take it in the mix
    room.stop_presentation("host")
    after = drive(room, 0.3, start=2.0)[-1]
    assert room.mixer.layout_for("guest") == before and not after.content
    assert after.view_of["guest"] == after.view_of["phone"] == "speaker@720p"  # back to the people


def test_large_content_is_fitted_into_1080p_and_guests_cannot_present_in_a_sensitive_room():
    room = Room("sensitive", layout="gallery")
    room.join("doc", role="host")
    room.join("pat")
    room.admit("doc", "pat")
    with pytest.raises(PermissionDenied, match="only a host"):
        room.start_presentation("pat")
    with pytest.raises(InvalidInputError, match="no presentation"):
        room.push_content(content_frame(90), 0.0)
    room.start_presentation("doc")
    outs = drive(room, 0.3, content=lambda i: content_frame(90, 2560, 1440))
    frame = decode_h264([p for o in outs for p in o.content])[0]
    assert (frame.width, frame.height) == (1920, 1080)
    with pytest.raises(PermissionDenied):
        room.stop_presentation("pat")
    room.leave("doc")  # the presenter leaving ends the presentation
    out = room.tick(0.4)
    assert room.mixer.content is None and "presentation_stopped" in [e.kind for e in out.events]


# --- the lobby ---------------------------------------------------------------------------
def test_the_lobby_sees_a_holding_picture_hears_silence_and_gives_nothing_to_the_room():
    room = Room("sensitive", name="Dr. Berg's clinic", layout="gallery")
    room.join("doc", "Dr. Berg", role="host")
    room.join("pat", "Pasient Ødegård")
    cams = {"doc": ColourSender((200, 60, 200)), "pat": ColourSender((90, 200, 60))}
    speech = {pid: synth.frames_of(synth.speech(2.0, 120 + 50 * i, -20, seed=i)) for i, pid in enumerate(cams)}
    outs = []
    for i in range(20):
        t = i / FPS
        for pid, cam in cams.items():
            for p in cam.video_packets():
                room.push_video(pid, p, t)  # the lobby's media goes nowhere
        for k in range(round(t / 0.02), round((t + 1 / FPS) / 0.02)):
            for pid in cams:
                room.push_audio(pid, speech[pid][k], k * 0.02)
        outs.append(room.tick(t))
    holding = room.mixer.label_cache.holding(1280, 720, "Dr. Berg's clinic")  # the one all waiting share
    pat_frames = decode_h264([p for o in outs for p in o.video_for("pat")])
    assert len(pat_frames) == sum(len(o.video_frames) for o in outs)
    got = I420Frame.from_av(pat_frames[-1]).y.astype(float)
    assert 10 * np.log10(255**2 / np.mean((got - holding.y) ** 2)) > 35
    assert outs[-1].picture_for("pat") is holding and not (np.abs(holding.y.astype(int) - 200) < 6).all(axis=1).any()
    heard, _ = decode_opus([p for o in outs for p in o.audio_for("pat")])
    assert np.abs(heard).max() < 1e-3  # silence, though the doctor talks
    doc_hears = np.concatenate([x for o in outs for x in o.pcm_for("doc")])
    assert np.abs(doc_hears).max() < 1e-4  # nothing of the waiting patient
    assert all(s.participant != "pat" for s in room.mixer.layout_for("doc").slots)
    room.admit("doc", "pat")
    out = drive(room, 0.3, start=2.0)[-1]
    assert out.view_of["pat"] == out.view_of["doc"] == "gallery@720p"


# --- keyframes and bad input -------------------------------------------------------------
def test_a_receivers_keyframe_request_refreshes_only_its_view():
    with Mixer([TINY], layout="speaker", labels=False) as mixer:
        for pid in ("a", "b", "c"):
            mixer.add_participant(pid)
        drive(mixer, 0.3)
        mixer.request_keyframe_for("c")
        out = drive(mixer, 0.1, start=0.3)[-1]
    assert [p.is_keyframe for p in out.video_for("c")] == [True]
    assert [p.is_keyframe for p in out.video_for("a")] == [False]  # a is on the other view


def test_bad_requests_get_clear_errors_and_the_room_keeps_running():
    room = Room("administrative", layout="speaker")
    room.join("h", role="host")
    with pytest.raises(InvalidInputError, match="unknown audio codec"):
        room.join("x", audio_codec="g729")
    with pytest.raises(InvalidInputError, match="content must be one of"):
        room.join("y", content="sideways")
    with pytest.raises(InvalidInputError, match="not in the room"):
        room.request_keyframe("ghost")
    with pytest.raises(InvalidInputError, match="not in the room"):
        room.mixer.layout_for("ghost")
    with pytest.raises(InvalidInputError, match="no presentation"):
        room.push_content(b"\x00\x00\x01", 0.0)
    with pytest.raises(InvalidInputError, match="not in the room"):
        room.start_presentation("ghost")
    with pytest.raises(InvalidInputError, match="reserved"):
        room.join("#content")
    assert room.participants == ["h"]
    out = room.tick(0.1)
    assert out.view_of == {"h": "speaker-1@720p"} and len(out.audio_for("h")) == 5


def test_shared_views_give_everyone_the_broadcast_composite_at_one_encode_per_profile():
    with Mixer([TINY], layout="speaker", views="shared", labels=False) as mixer:
        for i in range(5):
            mixer.add_participant(f"p{i}")
        out = drive(mixer, 0.3)[-1]
        assert set(out.view_of.values()) == {"speaker@tiny"} and list(out.views) == ["speaker@tiny"]
        assert mixer.video_encodes == 3  # three frames, one view
    with pytest.raises(InvalidInputError, match="views must be"):
        Mixer([TINY], views="some")


def test_a_presentation_started_late_in_a_meeting_is_shown():
    room = Room("administrative", layout="gallery")
    room.join("host", role="host")
    room.join("phone", audio_codec="pcmu")
    drive(room, 5.0)  # the room has been running for a while
    room.start_presentation("host")
    outs = drive(room, 0.5, start=5.0, content=lambda i: content_frame(200))
    assert len(decode_h264([p for o in outs for p in o.content])) >= 6
    y, x = main_centre(room.mixer.layout_for("phone"))
    assert int(outs[-1].picture_for("phone").y[y, x]) == pytest.approx(200, abs=4)


def test_someone_no_layout_shows_never_becomes_the_active_speaker():
    with Mixer([TINY], layout="speaker", labels=False) as mixer:
        mixer.add_participant("stage")
        mixer.add_participant("listener", visible=False)  # an auditorium's audience, unmuted
        drive(mixer, 3.0, audio=talking({"listener": [(0.0, 3.0)]}, 3.0))
        assert mixer.dominant is None
        mixer.set_visible("listener", True)  # brought on stage: eligible again
        drive(mixer, 3.0, audio=talking({"listener": [(3.0, 6.0)]}, 6.0), start=3.0)
        assert mixer.dominant == "listener"
