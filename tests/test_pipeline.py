"""End to end: H.264/Opus in, a room's composite and mixes out, decoded again and checked."""

import numpy as np
import pytest

from media_helpers import ColourSender, decode_h264, decode_opus, y_at
from vmedia import Mixer, OutputProfile
from vmedia.media import synth

FPS = 15
PROFILE = OutputProfile("test", 320, 180, fps=FPS, bitrate=400_000, keyframe_interval=1.0)
COLOURS = [(60, 90, 160), (110, 200, 100), (170, 80, 80), (220, 128, 128)]


def centre(rect):
    return rect.x + rect.w // 2, rect.y + rect.h // 2


def run(mixer, senders, seconds, *, video=None, audio=None, on_tick=None, start=0.0):
    """Drive the room from media time `start`: each sender sends a frame every 1/FPS."""
    outs = []
    audio_k = round(start / 0.02)
    for i in range(int(seconds * FPS)):
        t = start + i / FPS
        if on_tick:
            on_tick(i, t)
        for pid, s in senders.items():
            if pid in mixer.participants and (video is None or video(pid, i)):
                for p in s.video_packets():
                    mixer.push_video(pid, p, t)
        while audio_k * 0.02 < t + 1 / FPS - 1e-9:
            for pid, s in senders.items():
                if pid in mixer.participants:
                    x = audio(pid, audio_k) if audio else np.zeros(960, np.float32)
                    if x is not None:
                        for p in s.audio_packets(x):
                            mixer.push_audio(pid, p, audio_k * 0.02)
            audio_k += 1
        outs.append(mixer.tick(t))
    return outs


def test_gallery_round_trip_places_every_participant_for_the_whole_duration():
    senders = {f"p{i}": ColourSender(c) for i, c in enumerate(COLOURS)}
    with Mixer([PROFILE], layout="gallery", labels=False) as mixer:
        for pid in senders:
            mixer.add_participant(pid)
        outs = run(mixer, senders, 2.0)
        packets = [p for o in outs for p in o.video["test"]] + mixer.close().video["test"]
        layout = mixer.layout()
    frames = decode_h264(packets)
    assert len(frames) == 2 * FPS
    assert (frames[-1].width, frames[-1].height) == (320, 180)
    last = frames[-1]
    for slot, colour in zip(layout.slots, COLOURS):
        assert abs(y_at(last, *centre(slot.rect)) - colour[0]) <= 6, slot
    shared = [p for o in outs for p in o.shared_audio]
    samples, _ = decode_opus(shared)
    last_tick = (2 * FPS - 1) / FPS  # audio is produced in whole 20 ms frames due by then
    assert abs(len(samples) / 48000 - 0.02 * int(last_tick / 0.02 + 1e-9)) <= 0.02


@pytest.mark.parametrize("trim", [0.0, 0.1])
def test_av_sync_is_within_one_audio_frame(trim):
    flash_at = 1.0  # the sender flashes white and beeps at the same media time
    s = ColourSender((40, 128, 128))
    beep = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(960) / 48000)).astype(np.float32)
    talk = synth.frames_of(synth.speech(3.0, 110, -26, seed=1))  # so the detector mixes it
    with Mixer([PROFILE], layout="gallery", labels=False) as mixer:
        mixer.add_participant("a")
        mixer.add_participant("listener")
        mixer.set_av_offset("a", trim)  # a lip-sync trim moves the audio, not the video
        quiet = {"listener": ColourSender()}
        outs = []
        for i in range(int(2.0 * FPS)):
            t = i / FPS
            yuv = (235, 128, 128) if t >= flash_at else None
            for p in s.video_packets(yuv):
                mixer.push_video("a", p, t)
            for p in quiet["listener"].video_packets():
                mixer.push_video("listener", p, t)
            for k in range(round(t / 0.02), round((t + 1 / FPS) / 0.02)):
                x = talk[k] * 0.2 + (beep if abs(k * 0.02 - flash_at) < 1e-9 else 0)
                for p in s.audio_packets(x.astype(np.float32)):
                    mixer.push_audio("a", p, k * 0.02)
            outs.append(mixer.tick(t))
        rect = mixer.layout().rect_of("a")
    frames = decode_h264([p for o in outs for p in o.video["test"]])
    video_t = next(i / FPS for i, f in enumerate(frames) if y_at(f, *centre(rect)) > 200)
    heard, start = decode_opus([p for o in outs for p in o.audio_for("listener")])
    env = np.abs(heard)
    onset = np.flatnonzero(env > 0.3)[0]
    audio_t = start + onset / 48000
    assert abs(audio_t - video_t - trim) <= 0.02


def test_join_and_leave_while_running():
    senders = {f"p{i}": ColourSender(c) for i, c in enumerate(COLOURS[:3])}
    with Mixer([PROFILE], layout="gallery", labels=False) as mixer:
        mixer.add_participant("p0")
        mixer.add_participant("p1")

        def membership(i, t):
            if i == 10:
                mixer.add_participant("p2")
            if i == 20:
                mixer.remove_participant("p0")

        outs = run(mixer, senders, 2.0, on_tick=membership)
        final_layout = mixer.layout()
    events = [(e.kind, e.participant) for o in outs for e in o.events]
    assert ("joined", "p2") in events and ("left", "p0") in events
    assert sum(1 for k, _ in events if k == "layout_changed") >= 3
    assert [s.participant for s in final_layout.slots] == ["p1", "p2"]
    frames = decode_h264([p for o in outs for p in o.video["test"]])
    assert len(frames) == 2 * FPS - 1 or len(frames) == 2 * FPS  # the encoder may hold the last one
    last = outs[-1].composites["test"]
    for slot in final_layout.slots:
        want = COLOURS[int(slot.participant[1])][0]
        assert abs(int(last.y[centre(slot.rect)[::-1]]) - want) <= 4


def test_a_stalled_participant_shows_its_last_frame_then_the_placeholder():
    senders = {"a": ColourSender((200, 128, 128)), "b": ColourSender((90, 128, 128))}
    with Mixer([PROFILE], layout="gallery", labels=False, stall_after=0.3, placeholder_after=1.0) as mixer:
        for pid in senders:
            mixer.add_participant(pid)
        outs = run(mixer, senders, 2.5, video=lambda pid, i: pid == "b" or i < 8)  # a stops at ~0.5 s
        rect = mixer.layout().rect_of("a")
    y = [int(o.composites["test"].y[centre(rect)[::-1]]) for o in outs]
    assert y[10] == pytest.approx(200, abs=4)  # 0.67 s: stalled, still the last good picture
    assert y[-1] == 40  # 2.5 s: the placeholder
    kinds = [(e.kind, e.participant) for o in outs for e in o.events]
    assert ("video_stalled", "a") in kinds and ("video_stalled", "b") not in kinds


def test_garbage_from_one_participant_only_degrades_its_tile():
    rng = np.random.default_rng(0)
    good = ColourSender((150, 128, 128))
    with Mixer([PROFILE], layout="gallery", labels=False) as mixer:
        mixer.add_participant("good")
        mixer.add_participant("bad")
        outs = []
        for i in range(2 * FPS):
            t = i / FPS
            for p in good.video_packets():
                mixer.push_video("good", p, t)
            junk = b"\x00\x00\x00\x01\x65" + rng.bytes(300)  # claims to be an IDR slice
            mixer.push_video("bad", junk, t)
            mixer.push_audio("bad", rng.bytes(40), t)  # not Opus either
            outs.append(mixer.tick(t))
        layout = mixer.layout()
    last = outs[-1].composites["test"]
    assert abs(int(last.y[centre(layout.rect_of("good"))[::-1]]) - 150) <= 4
    assert int(last.y[centre(layout.rect_of("bad"))[::-1]]) == 40  # placeholder
    assert len(decode_h264([p for o in outs for p in o.video["test"]])) >= 2 * FPS - 1


def test_resolution_change_mid_stream():
    s = ColourSender((100, 128, 128), 160, 90)
    with Mixer([PROFILE], layout="gallery", labels=False) as mixer:
        mixer.add_participant("a")
        outs = []
        for i in range(2 * FPS):
            if i == FPS:
                s.resize(320, 240)
                s.yuv = (200, 128, 128)
            for p in s.video_packets():
                mixer.push_video("a", p, i / FPS)
            outs.append(mixer.tick(i / FPS))
    mid = outs[FPS - 1].composites["test"]
    end = outs[-1].composites["test"]
    assert int(mid.y[90, 160]) == pytest.approx(100, abs=4)
    assert int(end.y[90, 160]) == pytest.approx(200, abs=4)
    # Gallery tiles fill: the 4:3 picture is cropped to cover the whole tile, edge to edge.
    assert int(end.y[90, 8]) == pytest.approx(200, abs=4)


def test_invisible_participants_are_not_decoded_and_ask_for_a_keyframe_when_shown():
    senders = {f"p{i}": ColourSender((30 + 20 * i, 128, 128)) for i in range(10)}
    with Mixer([PROFILE], layout="speaker", speaker_variant="1+7", labels=False) as mixer:
        for pid in senders:
            mixer.add_participant(pid)
        run(mixer, senders, 1.0)
        hidden = [p for p in senders if p not in mixer.layout().visible]
        assert len(hidden) == 2
        assert all(mixer.input_stats(p)["video"]["decoded"] == 0 for p in hidden)
        assert all(mixer.input_stats(p)["video"]["decoded"] > 0 for p in mixer.layout().visible)
        mixer.pin(hidden[0])
        shown = hidden[0]
        outs = run(mixer, senders, 0.5, start=1.0)
        needed = [e for o in outs for e in o.events if e.kind == "keyframe_needed"]
        assert [e.participant for e in needed] == [shown]
        rect = mixer.layout().rect_of(shown)
        # No keyframe yet (the senders' GOP is long): the placeholder, not a broken picture.
        assert int(outs[-1].composites["test"].y[centre(rect)[::-1]]) == 40
        for p in senders[shown].video_packets(keyframe=True):
            mixer.push_video(shown, p, 1.5)
        out = mixer.tick(1.5 + 1 / FPS)
        assert int(out.composites["test"].y[centre(rect)[::-1]]) == pytest.approx(30 + 20 * int(shown[1:]), abs=4)


def test_bad_pushes_are_refused_at_the_door_and_the_room_keeps_ticking():
    from vmedia import InvalidInputError

    with Mixer([PROFILE], labels=False) as mixer:
        mixer.add_participant("a")
        with pytest.raises(InvalidInputError, match="finite float"):
            mixer.push_audio("a", np.full(960, np.nan, np.float32), 0.0)
        with pytest.raises(InvalidInputError, match="integer PCM"):
            mixer.push_audio("a", np.zeros(960, np.int16), 0.0)
        with pytest.raises(InvalidInputError, match="H.264 bytes"):
            mixer.push_video("a", "not bytes", 0.0)
        with pytest.raises(InvalidInputError, match="not in the room"):
            mixer.push_video("ghost", b"\x00\x00\x01", 0.0)
        with pytest.raises(InvalidInputError, match="already"):
            mixer.add_participant("a")
        out = mixer.tick(0.5)
        assert len(out.video["test"]) >= 1 and len(out.mixes) == 25


def test_keyframes_come_periodically_and_on_request():
    s = ColourSender()
    with Mixer([PROFILE], labels=False) as mixer:  # keyframe_interval=1 s at 15 fps
        mixer.add_participant("a")
        keyframes = []
        for i in range(40):
            if i == 20:
                mixer.request_keyframe()
            for p in s.video_packets():
                mixer.push_video("a", p, i / FPS)
            out = mixer.tick(i / FPS)
            keyframes += [i for p in out.video["test"] if p.is_keyframe]
    assert keyframes == [0, 15, 20, 35]


@pytest.mark.parametrize("suffix, fmt", [(".mp4", None), (".flv", "flv")])
def test_recordings_and_rtmp_style_flv_carry_the_encoded_video_and_aac(tmp_path, suffix, fmt):
    import av

    from vmedia import ContainerSink

    target = tmp_path / f"room{suffix}"
    s = ColourSender((170, 128, 128))
    talk = synth.frames_of(synth.speech(1.0, 120, -20, seed=2))
    with Mixer([PROFILE], labels=False) as mixer:
        mixer.add_participant("a")
        sink = ContainerSink(mixer, str(target), format=fmt)
        for i in range(FPS):
            for p in s.video_packets():
                mixer.push_video("a", p, i / FPS)
            for k in range(round(i / FPS / 0.02), round((i + 1) / FPS / 0.02)):
                mixer.push_audio("a", talk[k], k * 0.02)
            sink.write(mixer.tick(i / FPS))
        sink.close(mixer.close())
    with av.open(str(target)) as c:
        v = [f for f in c.decode(video=0)]
    with av.open(str(target)) as c:
        a = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    assert len(v) == FPS and (v[0].width, v[0].height) == (320, 180)
    assert abs(y_at(v[-1], 160, 90) - 170) <= 6
    assert np.sqrt(np.mean(a**2)) > 0.01  # the talker is in the recorded mix


def test_pushes_from_another_thread_while_the_room_ticks_and_people_come_and_go():
    import threading

    s = ColourSender((120, 128, 128))
    packets = [s.video_packets() for _ in range(60)]
    talk = synth.frames_of(synth.speech(2.0, 120, -24, seed=3))
    errors = []
    with Mixer([PROFILE], labels=False) as mixer:
        mixer.add_participant("a")
        done = threading.Event()

        def network():  # what a server's RTP thread does
            try:
                for k in range(100):
                    if k < 60:
                        for p in packets[k]:
                            mixer.push_video("a", p, k / FPS)
                    mixer.push_audio("a", talk[k], k * 0.02)
            except Exception as e:  # noqa: BLE001 - the test reports whatever broke
                errors.append(e)
            finally:
                done.set()

        thread = threading.Thread(target=network)
        thread.start()
        outs = []
        for i in range(2 * FPS):
            if i % 5 == 0:
                mixer.add_participant(f"guest{i}")
            if i % 5 == 3:
                mixer.remove_participant(f"guest{i - 3}")
            outs.append(mixer.tick(i / FPS))
        thread.join()
    assert not errors
    assert sum(len(o.video["test"]) for o in outs) >= 2 * FPS - 1
    last_tick = (2 * FPS - 1) / FPS
    assert sum(len(o.mixes) for o in outs) == int(last_tick / 0.02 + 1e-9)  # every 20 ms frame due by then
