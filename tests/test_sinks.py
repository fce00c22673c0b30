"""Recordings and streams: bad targets fail at construction, packets are never touched,
a stalled endpoint never blocks the room (whole GOPs dropped, the muxer killed and the
stream reopened at a keyframe), a sink opened on a running room starts A/V together,
and a recording killed with SIGKILL or stopped with Ctrl-C still plays."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest

from media_helpers import ColourSender
from vmedia import Mixer, OutputProfile
from vmedia.errors import SinkError
from vmedia.media import synth
from vmedia.sinks import ContainerSink

FPS = 15
PROFILE = OutputProfile("test", 160, 90, fps=FPS, bitrate=200_000, keyframe_interval=2.0)


class Room:
    """One talking participant, ticked on the offline clock."""

    def __init__(self, profile=PROFILE):
        self.mixer = Mixer([profile], labels=False)
        self.mixer.add_participant("a")
        self.sender = ColourSender((150, 128, 128), fps=profile.fps)
        self.talk = synth.frames_of(synth.speech(30.0, 120, -20, seed=2))
        self.fps = profile.fps
        self.i = 0

    def tick(self):
        t = self.i / self.fps
        for p in self.sender.video_packets():
            self.mixer.push_video("a", p, t)
        for k in range(round(t / 0.02), round((t + 1 / self.fps) / 0.02)):
            self.mixer.push_audio("a", self.talk[k % len(self.talk)], k * 0.02)
        self.i += 1
        return self.mixer.tick(t)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_back(path):
    """(pts, keyframe) of the pictures and (pts, seconds) of the audio frames, decoded as a
    player would: up to the end, or to a fragment cut short by a crash."""
    video, audio = [], []
    with av.open(str(path)) as c:
        try:
            for packet in c.demux():
                for f in packet.decode():
                    if packet.stream.type == "video":
                        video.append((f.pts * f.time_base, f.key_frame))
                    else:
                        audio.append((f.pts * f.time_base, f.samples / f.sample_rate))
        except av.error.InvalidDataError:
            pass  # the tail of a fragment being written when the process died
    return video, audio


@pytest.mark.parametrize("target, kwargs, needle", [
    ("x.webm", {}, "webm"),
    ("x.mp4", {"format": "no-such-format"}, "no-such-format"),
    ("missing-dir/x.mp4", {}, "No such file or directory"),
    ("x.unknownext", {}, "give format="),
])
def test_bad_targets_are_clear_errors_at_construction(tmp_path, target, kwargs, needle):
    room = Room()
    with pytest.raises(SinkError, match=needle):
        ContainerSink(room.mixer, str(tmp_path / target), **kwargs)


def test_a_server_that_refuses_the_connection_is_an_error_at_construction():
    room = Room()
    started = time.monotonic()
    with pytest.raises(SinkError, match="cannot connect"):
        ContainerSink(room.mixer, f"rtmp://127.0.0.1:{free_port()}/live/key", timeout=2.0)
    assert time.monotonic() - started < 2.0


def test_the_packets_handed_to_participants_are_not_modified(tmp_path):
    room = Room()
    sink = ContainerSink(room.mixer, tmp_path / "a.mp4")
    for _ in range(5):
        out = room.tick()
        before = [(p.pts, p.dts, p.time_base, bytes(p), p.stream) for p in out.video["test"]]
        sink.write(out)
        assert [(p.pts, p.dts, p.time_base, bytes(p), p.stream) for p in out.video["test"]] == before
    sink.close(room.mixer.close())


def test_a_sink_opened_on_a_running_room_starts_at_a_keyframe_with_audio_and_video_together(tmp_path):
    room = Room()
    for _ in range(5 * FPS + 7):  # 5.5 s in: mid-GOP, the mix long running
        room.tick()
    events = []
    sink = ContainerSink(room.mixer, tmp_path / "late.mp4", realtime=False, on_event=events.append)
    for _ in range(3 * FPS):
        sink.write(room.tick())
    stats = sink.close(room.mixer.close())
    video, audio = read_back(tmp_path / "late.mp4")
    assert video[0] == (0, True)  # the mixer was asked for an IDR; no broken first pictures
    assert abs(float(audio[0][0])) <= 0.02  # audio starts with the video, not 5.5 s earlier
    last_tick = float(video[-1][0])  # the mix is made up to the tick's time, the last picture starts there
    audio_end = float(audio[-1][0]) + audio[-1][1]
    assert last_tick <= audio_end <= last_tick + 0.022  # + the padding of the last AAC frame
    assert len(video) == stats.video_frames >= 3 * FPS - 3
    assert [e.kind for e in events] == ["sink_connected", "sink_closed"]


class StalledServer:
    """Accepts a TCP connection and never reads from it: a server frozen with SIGSTOP."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_stalled_server_never_blocks_the_room_gops_are_dropped_and_nothing_leaks():
    server = StalledServer()
    room = Room(OutputProfile("test", 320, 180, fps=FPS, bitrate=2_000_000, keyframe_interval=0.5))
    fds, threads = open_fds(), threading.active_count()
    events = []
    sink = ContainerSink(room.mixer, f"tcp://127.0.0.1:{server.port}?send_buffer_size=4096", format="flv",
                         timeout=1.0, queue_seconds=0.5, backoff=(0.2, 0.5), on_event=events.append)
    slowest = 0.0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not {"sink_dropping", "sink_disconnected"} <= {e.kind for e in events}:
        out = room.tick()
        started = time.perf_counter()
        sink.write(out)
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(1 / FPS / 4)  # faster than real time, slower than a busy loop
    closing = time.monotonic()
    stats = sink.close(room.mixer.close())
    kinds = [e.kind for e in events]
    assert "sink_dropping" in kinds and "sink_disconnected" in kinds and kinds[-1] == "sink_closed"
    assert stats.dropped_gops >= 1 and stats.dropped_frames > 0 and "no progress" in stats.error
    assert slowest < 0.5  # a copy into a queue (a blocked write would take the 1 s timeout or more)
    assert time.monotonic() - closing < 5
    server.close()
    assert open_fds() <= fds and threading.active_count() <= threads


def _run_demo(out, *extra):
    """A demo far longer than the test: it is stopped (or killed) long before it would end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "vmedia", "demo", "-n", "2", "-t", "120", "--size", "160x90",
                             "--fps", "15", "-o", str(out), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True, text=True)


def _wait_for_fragments(path, n, proc, limit=60):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"moof") >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} never got {n} fragments")


def test_a_recording_killed_with_sigkill_plays_up_to_its_last_fragment(tmp_path):
    out = tmp_path / "crash.mp4"
    proc = _run_demo(out, "-q")
    _wait_for_fragments(out, 3, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the room's process and its muxer, mid-write
    proc.wait()
    fragments = out.read_bytes().count(b"moof")
    video, audio = read_back(out)
    assert video and video[0][1] and audio
    # every complete fragment (1 s each) plays; the one being written may be lost
    assert len(video) >= (fragments - 1) * FPS
    assert float(video[-1][0]) == pytest.approx(float(audio[-1][0]), abs=1.1)


def test_ctrl_c_finishes_the_file_and_says_so(tmp_path):
    out = tmp_path / "stopped.mp4"
    proc = _run_demo(out, "-q")
    _wait_for_fragments(out, 2, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stdout and "playable" in stdout
    video, audio = read_back(out)
    frames = int(stdout.split("playable (")[1].split(" frames")[0])
    assert len(video) == frames and frames >= FPS


def test_faststart_and_muxer_options_pass_through_to_ffmpeg(tmp_path):
    def record(name, **kwargs):
        room = Room()
        sink = ContainerSink(room.mixer, tmp_path / name, realtime=False, **kwargs)
        for _ in range(2 * FPS):
            sink.write(room.tick())
        sink.close(room.mixer.close())
        return (tmp_path / name).read_bytes()

    default, short, faststart = record("a.mp4"), record("b.mp4", options={"frag_duration": "250000"}), record("c.mp4", faststart=True)
    assert 2 <= default.count(b"moof") <= 4  # about one fragment a second
    assert short.count(b"moof") >= 2 * default.count(b"moof")
    assert b"moof" not in faststart and faststart.index(b"moov") < faststart.index(b"mdat")
    for data, name in ((default, "a.mp4"), (short, "b.mp4"), (faststart, "c.mp4")):
        video, audio = read_back(tmp_path / name)
        assert len(video) == 2 * FPS and audio
