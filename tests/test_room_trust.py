"""Rooms a health service can trust: PINs decide roles, an audit log answers who did
what, and the policy holes found by using a Room as a server would are closed."""

import json
import os
import time
import re

import av
import numpy as np
import pytest

from manual_clock import ManualClock
from media_helpers import ColourSender, decode_h264
from vmedia import InvalidInputError, PermissionDenied, Room
from vmedia.media import synth
from vmedia.rooms.pins import PinLimits, ScryptCost
from vmedia.rooms.policy import RoomPolicy

CHEAP = ScryptCost(n=2**10)  # production uses the default; the rules are the same
HOST_PIN, GUEST_PIN = "4711", "080512"



def pin_room(room_type="sensitive", **kw):
    return Room(room_type, host_pin=HOST_PIN, guest_pin=GUEST_PIN, pin_cost=CHEAP, **kw)


def talk_ticks(room, talkers, seconds, start=0.0):
    """Push `talkers` {pid: [(from, to) seconds of speech]} (relative to `start`) and tick
    for `seconds`; returns the outputs."""
    signals = {pid: synth.frames_of(synth.talk(spurts, seconds + 0.1, f0=100 + 25 * i, level_db=-20, seed=i))
               for i, (pid, spurts) in enumerate(talkers.items())}
    outs = []
    for k in range(int(round(seconds / 0.02))):
        t = start + k * 0.02
        for pid, frames in signals.items():
            room.push_audio(pid, frames[k], t)
        outs.append(room.tick(t + 0.02))
    return outs


def speakers(outs):
    return [e.participant for o in outs for e in o.events if e.kind == "speaker_changed"]


def g711_speech(seconds, seed=5):
    """20 ms PCMU packets (8 kHz) of speech at about -20 dBov, as a phone sends them, and
    the 48 kHz original."""
    speech = synth.speech(seconds, 130, -20, seed=seed)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
    src = av.AudioFrame.from_ndarray(speech[None, :], format="flt", layout="mono")
    src.sample_rate = 48000
    x = np.concatenate([f.to_ndarray().reshape(-1) for f in resampler.resample(src) + resampler.resample(None)])
    ctx = av.CodecContext.create("pcm_mulaw", "w")
    ctx.sample_rate, ctx.layout, ctx.format = 8000, "mono", "s16"
    packets = []
    for k in range(len(x) // 160):
        f = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[None, k * 160 : (k + 1) * 160]), format="s16", layout="mono")
        f.sample_rate, f.pts = 8000, k * 160
        packets += [bytes(p) for p in ctx.encode(f)]
    return packets, speech


def kinds(room, kind):
    return [e for e in room.events if e.kind == kind]


# --- 1. PINs decide roles ---------------------------------------------------------------
def test_pins_decide_roles():
    room = pin_room()
    assert room.join("doc", "Dr. Ada", pin=HOST_PIN) == "admitted"
    assert room.join("pat", "Patient", pin=GUEST_PIN) == "waiting"
    assert room.role_of("doc") == "host" and room.role_of("pat") == "guest"
    room.admit("doc", "pat")  # the host PIN made doc a host
    with pytest.raises(PermissionDenied, match="wrong PIN"):
        room.join("eve", pin="0000")
    with pytest.raises(PermissionDenied, match="needs a PIN"):
        room.join("eve2")
    assert "eve" not in room.participants and "eve" not in room.lobby
    assert [e.participant for e in kinds(room, "pin_failed")] == ["eve", "eve2"]


def test_the_pin_not_the_caller_decides_the_role():
    room = pin_room()
    with pytest.raises(InvalidInputError, match="the PIN decides the role"):
        room.join("pat", pin=GUEST_PIN, role="host")
    assert room.participants == [] and not room.lobby


def test_a_room_without_pins_behaves_as_before():
    room = Room("sensitive")
    assert room.join("doc", role="host") == "admitted"
    assert room.join("pat") == "waiting"


def test_host_pin_only_lets_guests_in_without_one():
    room = Room("administrative", host_pin=HOST_PIN, pin_cost=CHEAP)
    room.join("g")
    room.join("h", pin=HOST_PIN)
    assert room.role_of("g") == "guest" and room.role_of("h") == "host"


def test_wrong_pins_back_off_lock_out_and_every_failure_is_an_event_and_audited():
    clock, records = ManualClock(0.0), []
    room = pin_room(pin_limits=PinLimits(backoff_s=1, caller_attempts=3, lockout_s=600), pin_clock=clock, audit=records.append)
    for expected in ("wrong PIN", "try again"):
        with pytest.raises(PermissionDenied, match=expected):
            room.join("eve", pin="9999")
    clock.t += 1
    with pytest.raises(PermissionDenied, match="wrong PIN"):
        room.join("eve", pin="9998")
    clock.t += 2
    with pytest.raises(PermissionDenied, match="locked out"):
        room.join("eve", pin="9997")
    with pytest.raises(PermissionDenied, match="locked out"):
        room.join("eve", pin=HOST_PIN)  # even the right PIN, while locked out
    assert [e.detail.split(":")[0] for e in kinds(room, "pin_failed")] == ["wrong_pin", "backoff", "wrong_pin", "wrong_pin", "locked_out"]
    assert len(kinds(room, "pin_locked_out")) == 1
    assert [r.action for r in records] == ["pin_failed"] * 4 + ["pin_lockout", "pin_failed"]
    assert {r.outcome for r in records} == {"denied"}
    clock.t += 600
    assert room.join("eve", pin=HOST_PIN) == "admitted"


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(host_pin="123"), "4-20 digits"), (dict(host_pin="12a45"), "digits 0-9"), (dict(host_pin="1" * 21), "4-20 digits"),
     (dict(host_pin="2024", guest_pin="2024"), "must differ"), (dict(guest_pin="2024"), "needs a host PIN")],
)
def test_bad_pin_settings_are_clear_errors(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        Room("sensitive", pin_cost=CHEAP, **kwargs)


def test_a_malformed_pin_is_invalid_input_and_nothing_is_half_applied():
    room = pin_room()
    for bad in ("12", "12ab", "1" * 21):
        with pytest.raises(InvalidInputError, match="PIN"):
            room.join("pat", pin=bad)
    assert room.participants == [] and not room.lobby and not kinds(room, "pin_failed")


# --- 2. the audit log -------------------------------------------------------------------
def test_the_audit_log_answers_who_did_what_and_never_holds_a_pin(tmp_path):
    path = tmp_path / "audit.jsonl"
    room = pin_room(name="Psykiatri 3", audit=str(path))
    room.join("doc", "Dr. Ada", pin=HOST_PIN)
    room.join("pat", "Patient", pin=GUEST_PIN)
    with pytest.raises(PermissionDenied):
        room.join("eve", pin="31337")
    with pytest.raises(PermissionDenied):
        room.admit("pat", "pat")  # a guest cannot admit anyone
    room.admit("doc", "pat")
    room.join("pat2", pin=GUEST_PIN)
    room.deny("doc", "pat2")
    room.lock("doc")
    with pytest.raises(PermissionDenied):
        room.lock("pat", False)
    room.lock("doc", False)
    room.mute_all("doc")
    room.mute("doc", "pat", False)
    room.mute_all("doc", False)
    room.mute("pat", "pat")
    with pytest.raises(PermissionDenied, match="only a host may present"):
        room.start_presentation("pat")
    room.start_presentation("doc")
    room.stop_presentation("doc")
    room.start_recording("doc", str(tmp_path / "rec.mp4"))
    room.tick(0.1)
    room.stop_recording("doc")
    room.start_streaming("doc", str(tmp_path / "stream.flv"), format="flv")
    room.tick(0.2)
    room.stop_streaming("doc")
    room.leave("pat")
    room.close()
    text = path.read_text()
    for secret in (HOST_PIN, GUEST_PIN, "31337"):
        assert secret not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]) for r in records)
    assert {r["room"] for r in records} == {"Psykiatri 3"}
    got = [(r["actor"], r["action"], r["target"], r["outcome"]) for r in records]
    assert got == [
        ("doc", "join", "doc", "ok"),
        ("pat", "join", "pat", "ok"),  # to the lobby; detail says so
        ("eve", "pin_failed", "eve", "denied"),
        ("pat", "admit", "pat", "denied"),
        ("doc", "admit", "pat", "ok"),
        ("pat2", "join", "pat2", "ok"),
        ("doc", "reject", "pat2", "ok"),
        ("doc", "lock", None, "ok"),
        ("pat", "unlock", None, "denied"),
        ("doc", "unlock", None, "ok"),
        ("doc", "mute_all", None, "ok"),
        ("doc", "unmute", "pat", "ok"),
        ("doc", "unmute_all", None, "ok"),
        ("pat", "mute", "pat", "ok"),
        ("pat", "presentation_start", None, "denied"),
        ("doc", "presentation_start", None, "ok"),
        ("doc", "presentation_stop", "doc", "ok"),
        ("doc", "recording_start", None, "ok"),
        ("doc", "recording_stop", None, "ok"),
        ("doc", "streaming_start", None, "ok"),
        ("doc", "streaming_stop", None, "ok"),
        ("pat", "leave", "pat", "ok"),
    ]
    assert "waiting" in records[1]["detail"] and "Dr. Ada" in records[0]["detail"]


def test_a_failing_audit_sink_does_not_break_the_room_and_is_reported():
    def broken(record):
        raise OSError(28, "No space left on device")

    room = Room("administrative", audit=broken)
    room.join("h", role="host")
    room.lock("h")
    assert room.locked
    out = room.tick(0.1)
    assert out.video and len(kinds(room, "audit_failed")) == 2
    assert "No space left" in kinds(room, "audit_failed")[0].detail


def test_room_events_are_bounded():
    room = Room("administrative", history=5)
    for i in range(10):
        room.join(f"p{i}")
    out = room.tick(0.0)
    assert len(out.events) > 5 and list(room.events) == out.events[-5:] and room.events.dropped == len(out.events) - 5


# --- 3. policy holes --------------------------------------------------------------------
def test_admit_respects_capacity():
    room = Room(RoomPolicy.from_dict({"base": "sensitive", "max_participants": 3}))
    room.join("h", role="host")
    for g in ("a", "b", "c"):
        room.join(g)  # the lobby does not count...
    with pytest.raises(PermissionDenied, match="lobby is full"):
        room.join("d")  # ...but it is bounded too
    room.admit("h", "a")
    room.admit("h", "b")
    with pytest.raises(PermissionDenied, match="full"):
        room.admit("h", "c")
    assert "c" in room.lobby and room.participants == ["h", "a", "b"]  # nothing half-applied
    room.leave("a")
    room.admit("h", "c")


def test_the_lobby_keeps_the_callers_codecs_and_preferences():
    room = Room("sensitive")
    room.join("doc", role="host")
    room.join("phone", "Phone", audio_codec="pcmu")
    room.admit("doc", "phone")
    packets, speech = g711_speech(2.0)
    heard, outs = [], []
    for k, packet in enumerate(packets):
        room.push_audio("phone", packet, k * 0.02)
        if k >= 3:  # ticking 60 ms behind, as a jitter buffer would
            outs.append(room.tick((k - 2) * 0.02))
            heard += [m.heard_by("doc") for m in outs[-1].mixes]
    assert not [e for o in outs for e in o.events if e.kind == "stream_error"]  # decoded as G.711, not as Opus
    # the doctor hears what the phone said: the same waveform (a short delay, 4 kHz band) at the same level
    h, x = np.concatenate(heard)[24000:72000], speech[24000:72000]
    xc = np.fft.irfft(np.fft.rfft(h, 2 * len(h)) * np.conj(np.fft.rfft(x, 2 * len(h))))[:4800]  # lags 0..100 ms
    lag = int(np.argmax(np.abs(xc)))
    a, b = h[lag:], x[: len(h) - lag]
    assert np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)) > 0.9
    assert 20 * np.log10(np.std(a) / np.std(b)) == pytest.approx(0, abs=2)


def test_muted_participants_never_become_the_active_speaker():
    room = Room("administrative")
    room.join("a")
    room.join("b")
    room.mute("b", "b")
    # a has the floor, then falls silent while muted b talks on and on
    assert speakers(talk_ticks(room, {"a": [(0, 1.0)], "b": [(1.0, 2.6)]}, 2.6)) == ["a"]
    room.mute("b", "b", False)  # unmuting makes b eligible again
    assert speakers(talk_ticks(room, {"b": [(0, 1.4)]}, 1.4, start=2.6)) == ["b"]


def test_audience_never_becomes_the_active_speaker():
    room = Room("auditorium", layout="speaker")
    room.join("host", role="host")
    room.join("aud")
    assert speakers(talk_ticks(room, {"host": [(0, 1.0)], "aud": [(1.0, 2.6)]}, 2.6)) == ["host"]
    room.set_stage("host", "aud")
    assert speakers(talk_ticks(room, {"aud": [(0, 1.4)]}, 1.4, start=2.6)) == ["aud"]


def mixed_in(outs):
    return {m for o in outs for mix in o.mixes for m in mix.minus}


def test_mute_all_holds_for_later_guests_until_lifted():
    room = Room("administrative")
    room.join("host", role="host")
    room.join("a")
    room.mute_all("host")
    room.join("late")  # joins muted
    room.join("cohost", role="host")  # hosts are not muted
    assert mixed_in(talk_ticks(room, {"late": [(0, 1)], "cohost": [(0, 1)]}, 1.0)) == {"cohost"}
    with pytest.raises(PermissionDenied, match="muted by a host"):
        room.mute("late", "late", False)  # a guest cannot lift the host's mute
    room.mute("host", "late", False)  # a host can
    assert "late" in mixed_in(talk_ticks(room, {"late": [(0, 1)]}, 1.0, start=1.0))
    room.mute_all("host", False)
    room.join("later")
    assert "later" in mixed_in(talk_ticks(room, {"later": [(0, 1)]}, 1.0, start=2.0))


def test_muting_someone_else_needs_a_host():
    room = Room("administrative")
    room.join("h", role="host")
    room.join("a")
    room.join("b")
    with pytest.raises(PermissionDenied, match="not a host"):
        room.mute("a", "b")
    room.mute("a", "a")  # oneself: fine
    room.mute("h", "b")
    assert room.is_muted("a") and room.is_muted("b")


def test_leaving_the_lobby_emits_an_event():
    room = Room("sensitive")
    room.join("doc", role="host")
    room.join("pat")
    room.leave("pat")
    assert [(e.kind, e.participant) for e in room.events][-1] == ("left_lobby", "pat")


def test_listener_exceptions_never_stop_a_tick_lose_its_output_or_starve_other_listeners(caplog):
    got = []

    def broken(event):
        raise RuntimeError("server bug")

    room = Room("administrative", on_event=broken)
    room.subscribe(got.append)
    room.join("a")  # the join event reaches the later listener
    cam = ColourSender()
    for p in cam.video_packets(keyframe=True):
        room.push_video("a", p, 0.0)
    out = room.tick(0.0)  # layout_changed and keyframe_needed make the broken listener raise
    assert decode_h264(out.video_for("a"))  # the tick's IDR reached the caller
    failed = [e for e in out.events if e.kind == "listener_failed"]
    assert failed and "server bug" in failed[0].detail
    assert "joined" in [e.kind for e in got] and "listener_failed" in [e.kind for e in got]
    assert "server bug" in caplog.text


# --- 4. Room is the whole surface -------------------------------------------------------
def test_recording_and_streaming_are_burned_into_the_composite(tmp_path):
    room = Room("administrative")
    room.join("h", role="host")
    room.join("g")
    with pytest.raises(PermissionDenied):
        room.start_recording("g", str(tmp_path / "x.mp4"))
    room.start_recording("h", str(tmp_path / "rec.mp4"))
    out = room.tick(0.0)
    comp = out.composites["720p"]
    assert comp.v[: 40, 1000 // 2 :].max() > 200  # the red REC dot, top right
    assert "recording" in room.indicators
    room.stop_recording("h")
    out = room.tick(0.1)
    assert out.composites["720p"].v[: 40, 1000 // 2 :].max() < 160


def test_actions_on_people_not_in_the_room_are_clear_errors_and_change_nothing():
    room = Room("administrative")
    room.join("h", role="host")
    for call in (lambda: room.mute("h", "ghost"), lambda: room.pin("h", "ghost"), lambda: room.set_gain("h", "ghost", 0.5),
                 lambda: room.admit("h", "ghost"), lambda: room.leave("ghost"), lambda: room.request_keyframe("ghost")):
        with pytest.raises(InvalidInputError, match="ghost"):
            call()
    with pytest.raises(PermissionDenied, match="ghost.*not a host|not a host"):
        room.lock("ghost")
    assert room.participants == ["h"] and not room.locked


def test_room_is_the_whole_surface_for_a_server():
    records = []
    room = Room("administrative", name="Styremøte", audit=records.append)
    room.join("h", role="host")
    room.join("g")
    for call in (lambda: room.set_layout("g", "gallery"), lambda: room.pin("g", "g"), lambda: room.set_gain("g", "h", 0.5),
                 lambda: room.rename("g", "mine now")):
        with pytest.raises(PermissionDenied, match="not a host"):
            call()
    room.set_layout("h", "gallery")
    assert room.mixer.layout().name.startswith("gallery")
    room.set_layout("h", "speaker")
    room.pin("h", "g")  # spotlight
    assert [s.participant for s in room.mixer.layout().slots if s.main] == ["g"]
    room.pin("h", None)
    room.rename("h", "Styremøte 2")
    assert room.name == "Styremøte 2"
    room.lock("h")
    assert records[-1].room == "Styremøte 2"
    for bad in (-0.1, 5.0, float("nan"), "1"):
        with pytest.raises(InvalidInputError, match="gain"):
            room.set_gain("h", "g", bad)


def test_per_participant_gain_scales_their_voice_in_the_mix():
    room = Room("administrative")
    room.join("h", role="host")
    room.join("g")
    loud = talk_ticks(room, {"g": [(0, 1.2)]}, 1.2)
    room.set_gain("h", "g", 0.5)
    soft = talk_ticks(room, {"g": [(0, 1.2)]}, 1.2, start=1.2)
    level = lambda outs: np.std(np.concatenate([m.heard_by("h") for o in outs[20:] for m in o.mixes]))  # noqa: E731
    assert 20 * np.log10(level(soft) / level(loud)) == pytest.approx(-6, abs=1.5)


def test_a_keyframe_request_makes_the_next_picture_an_idr():
    room = Room("administrative")
    room.join("a")
    room.tick(0.0)
    out = room.tick(0.1)
    assert not any(p.is_keyframe for p in out.video_for("a"))
    room.request_keyframe("a")
    out = room.tick(0.15)
    assert out.video_for("a")[0].is_keyframe


def test_stage_changes_are_audited_and_refused_without_a_stage():
    records = []
    room = Room("auditorium", audit=records.append)
    room.join("host", role="host")
    room.join("aud")
    with pytest.raises(PermissionDenied):
        room.set_stage("aud", "aud")
    room.set_stage("host", "aud")
    room.set_stage("host", "aud", False)
    assert [(r.actor, r.action, r.target, r.outcome) for r in records[2:]] == [
        ("aud", "stage_on", "aud", "denied"), ("host", "stage_on", "aud", "ok"), ("host", "stage_off", "aud", "ok")]
    with pytest.raises(InvalidInputError, match="no stage"):
        other = Room("administrative")
        other.join("h", role="host")
        other.join("x")
        other.set_stage("h", "x")


def test_a_host_removes_someone_from_the_room_or_the_lobby():
    records = []
    room = Room("sensitive", audit=records.append)
    room.join("doc", role="host")
    room.join("pat")
    room.join("pat2")
    room.admit("doc", "pat")
    with pytest.raises(PermissionDenied, match="not a host"):
        room.remove("pat", "doc")
    room.remove("doc", "pat")
    room.remove("doc", "pat2")
    assert room.participants == ["doc"] and not room.lobby
    with pytest.raises(InvalidInputError, match="ghost"):
        room.remove("doc", "ghost")
    assert [(r.actor, r.action, r.target, r.outcome) for r in records[-4:]] == [
        ("pat", "remove", "doc", "denied"), ("doc", "remove", "pat", "ok"), ("doc", "remove", "pat2", "ok"),
        ("doc", "remove", "ghost", "invalid")]
    assert [e.participant for e in room.events if e.kind == "removed"] == ["pat", "pat2"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_recording_that_fails_is_reported_audited_and_its_badge_removed():
    records = []
    room = Room("administrative", audit=records.append)
    room.join("h", role="host")
    room.start_recording("h", "/dev/full", format="mpegts")  # a disk that is always full
    failed = []
    for i in range(600):  # the writer finds out within a few hundred ms; the room keeps ticking meanwhile
        out = room.tick(i / 30)
        failed += [e for e in out.events if e.kind == "recording_failed"]
        if failed:
            break
        time.sleep(0.005)
    assert failed and "No space left" in failed[0].detail
    assert room.indicators == [] and out.video["720p"]
    assert (records[-1].action, records[-1].outcome) == ("recording_stop", "failed")
    out = room.tick((i + 2) / 30)
    assert out.composites["720p"].v[:40, 500:].max() < 160  # no REC badge any more
    room.start_recording("h", "/dev/null", format="mpegts")  # a host can start again
    room.close()


def test_a_presentation_that_ends_because_its_presenter_goes_is_audited():
    records = []
    room = Room("administrative", audit=records.append)
    room.join("h", role="host")
    room.join("a")
    room.join("b")
    room.start_presentation("a")
    room.start_presentation("b")  # replaces a's
    room.leave("b")  # ends b's
    assert [(r.actor, r.action, r.target, r.detail) for r in records if r.action.startswith("presentation")] == [
        ("a", "presentation_start", None, ""), ("b", "presentation_stop", "a", "replaced by b's presentation"),
        ("b", "presentation_start", None, ""), ("b", "presentation_stop", "b", "the presenter left")]
    assert room.mixer.content is None
