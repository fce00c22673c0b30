"""A real WebRTC conference on vmedia: three aiortc clients and a headless Chromium join
the server of `vmedia serve` over loopback (in a network namespace of their own, see
netns.py) and what they receive is measured."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("aiortc")
from netns import run_isolated, why_not_isolated  # noqa: E402

ISOLATION = why_not_isolated()
pytestmark = pytest.mark.skipif(ISOLATION is not None, reason=f"real-client tests: {ISOLATION}")

CLIENTS = [  # distinct colour, pitch, beep and flash phase; one caller on G.711
    {"pid": "ann", "rgb": [200, 30, 30], "pitch": 400.0, "beep": 2500.0, "phase": 0.0, "seed": 0},
    {"pid": "ben", "rgb": [30, 160, 30], "pitch": 560.0, "beep": 2800.0, "phase": 0.33, "seed": 1},
    {"pid": "cat", "rgb": [30, 30, 200], "pitch": 730.0, "beep": 3100.0, "phase": 0.66, "seed": 2, "codec": "pcmu"},
]


def luma(rgb) -> float:
    r, g, b = rgb
    return 0.257 * r + 0.504 * g + 0.098 * b + 16


def skews(video: list[float], audio: list[float], settle: float = 1.5) -> list[float]:
    """Video minus audio time of each flash/beep pair (pairs within 0.3 s), once the
    playout has settled (`settle` seconds after the first flash)."""
    out = []
    for v in video:
        if v < video[0] + settle:
            continue
        near = [v - a for a in audio if abs(v - a) < 0.3]
        if near:
            out.append(min(near, key=abs))
    return out


def test_three_clients_see_everyone_and_hear_everyone_but_themselves():
    run = run_isolated("webrtc_conference.py", {"clients": CLIENTS, "seconds": 10.0, "warmup": 2.0}, timeout=90)
    report = []
    for c in CLIENTS:
        got = run["received"][c["pid"]]
        others = [o for o in CLIENTS if o is not c]
        # The composite at full rate, without freezes, with every participant's picture in it.
        assert got["size"] == [1280, 720]
        assert got["fps"] >= 25, got
        assert got["longest_gap"] < 0.5, got
        for o in CLIENTS:
            assert abs(got["tile_luma"][o["pid"]] - luma(o["rgb"])) < 12, (c["pid"], o["pid"], got["tile_luma"])
        # Everyone else's tone, not its own: at least 40 dB apart.
        own = got["tone_db"][c["pid"]]
        quietest_other = min(got["tone_db"][o["pid"]] for o in others)
        assert quietest_other - own >= 40, (c["pid"], got["tone_db"], got["floor_db"])
        latencies = [x for o in others for x in got["flash_latency"][o["pid"]]]
        assert len(latencies) >= 10, got["flash_latency"]
        report.append(f"{c['pid']}: {got['fps']:.1f} fps, own tone {quietest_other - own:.0f} dB below the others, "
                      f"flash-to-composite median {np.median(latencies) * 1000:.0f} ms (max {max(latencies) * 1000:.0f})")
    # Lip sync: each sender's flash and beep (sent together) enter the mix at the same media time.
    for c in CLIENTS:
        pid = c["pid"]
        inside = skews(run["flash_in"][pid], run["beep_in"][pid])
        at_output = skews(run["flash_out"][pid], run["beep_in"][pid])
        assert len(inside) >= 5, (run["flash_in"][pid], run["beep_in"][pid])
        assert abs(np.median(inside)) <= 0.020, (pid, inside)  # single pairs move while the pace settles
        report.append(f"{pid} lip sync: mixer input {np.median(inside) * 1000:+.0f} ms "
                      f"(range {min(inside) * 1000:+.0f}..{max(inside) * 1000:+.0f}), composite vs mix "
                      f"{np.median(at_output) * 1000:+.0f} ms (video is shown at the next 1/30 s frame)")
    driver = run["driver"]
    print("\n" + "\n".join(report) + f"\ndriver: {driver['ticks']} ticks, {driver['video_frames_dropped']} video frames "
          f"dropped, p99 lateness {driver['lateness_p99'] * 1000:.1f} ms\nserver side: {run['peers']}")
    assert driver["errors"] == 0
    # Everyone hung up: the room is empty, nothing of theirs is left running or open.
    assert run["left"] == {"peers": [], "participants": []}
    assert run["leftover_tasks"] == []
    assert run["sockets_after"] <= run["sockets_before"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_a_browser_joins_the_served_page_and_plays_the_composite_and_the_audio():
    run = run_isolated("chromium_session.py", {"seconds": 6.0}, timeout=90)
    first, last = run["samples"]
    assert last["state"] == "connected", run
    assert run["server_peers"] == ["chromium"]
    video, audio = last["in_video"], last["in_audio"]
    # It decoded the composite, steadily: frames rising between the two looks, no freezes.
    assert video["frameWidth"] == 1280 and video["frameHeight"] == 720
    assert video["framesDecoded"] - first["in_video"]["framesDecoded"] >= 25 * 3 * 0.8, (first["in_video"], video)
    assert video.get("freezeCount", 0) == first["in_video"].get("freezeCount", 0), (first["in_video"], video)
    # And it received audio with sound in it (the test room's tune).
    assert audio["totalSamplesReceived"] > first["in_audio"]["totalSamplesReceived"]
    assert audio["totalAudioEnergy"] > first["in_audio"]["totalAudioEnergy"] > 0
    assert "42e01f" in last["codec_video/H264"] or "42001f" in last["codec_video/H264"]
    # The browser sends H.264 the room takes; it left cleanly when it hung up.
    assert last["out_video"]["framesEncoded"] > 0
    assert run["participants_after_leave"] == []
    print(f"\nchromium: joined in {run['joined_after']:.1f} s, {video['framesDecoded']} frames decoded "
          f"({video.get('framesPerSecond')} fps), {video.get('freezeCount', 0)} freezes, "
          f"audio energy {audio['totalAudioEnergy']:.2f}")


def test_bad_peers_get_a_clear_answer_or_event_leave_cleanly_and_the_call_goes_on():
    run = run_isolated("webrtc_bad_peers.py", {}, timeout=90)
    closed = {pid: why for kind, pid, why in run["events"] if kind == "peer_closed"}
    # Keyframes both ways: keyframe_needed -> a PLI at the client's camera; the client's
    # PLI -> a keyframe request for its view.
    assert run["plis"]["to_client"] >= 1 and run["plis"]["sent_by_peer"] >= 1 and run["plis"]["from_client"] >= 1
    # VP8 only: refused before it joins, saying why.
    assert "400" in run["vp8"] and "H.264 only" in run["vp8"] and "VP8" in run["vp8"]
    assert not any(kind == "joined" and pid == "vp8" for kind, pid, _ in run["events"])
    # No audio section: a camera-only participant, admitted, receiving the composite.
    assert run["noaudio_status"] == "admitted" and run["noaudio_frames"] > 30
    # Never sends media: announced once, stays as a viewer.
    assert [e for e in run["events"] if e[0] == "no_media"] == [["no_media", "silent", "no audio or video within 1.5 s"]]
    # Never connects: removed after the connect deadline.
    assert closed["ghost"] == "not connected within 2 s"
    # Killed mid-call: its silence tells, it leaves within the media timeout (+ checks).
    assert closed["gone"] == "no media for 1.5 s: the peer vanished"
    assert run["gone_left_after"] < 1.5 + 1.5
    assert run["participants_after_bad"] == ["good", "noaudio", "silent"]
    # Meanwhile the good client's call went on at full rate.
    assert run["good_fps_during"] >= 15 and run["good_longest_gap"] < 1.0, run
    # In the end every peer left, and nothing of theirs is left running or open.
    assert {"good", "noaudio", "silent"} <= set(closed)
    assert run["driver_errors"] == 0
    assert run["leftover_tasks"] == []
    assert run["sockets_after"] <= run["sockets_before"]
