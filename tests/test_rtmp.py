"""Streaming to a real RTMP server: Debian's nginx with libnginx-mod-rtmp on 127.0.0.1
(installed by .ci/run), read back with PyAV while the room streams; the server killed
mid-stream and restarted."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import av
import pytest

from test_sinks import Room
from vmedia import OutputProfile
from vmedia.sinks import ContainerSink

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
if not (shutil.which("nginx") and RTMP_MODULE.exists()):
    if os.environ.get("CI"):
        raise RuntimeError("CI needs nginx with libnginx-mod-rtmp (.ci/run installs them)")
    pytest.skip("needs nginx and libnginx-mod-rtmp (apt-get install nginx libnginx-mod-rtmp)", allow_module_level=True)

CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
load_module {module};
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        application live {{
            live on;
            record off;
            wait_key on;
            wait_video on;
        }}
    }}
}}
"""


class Nginx:
    """An RTMP server on a free local port, started and killed by the test."""

    def __init__(self, workdir: Path):
        self.dir = workdir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (workdir / "nginx.conf").write_text(CONFIG.format(dir=workdir, module=RTMP_MODULE, port=self.port))
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-e",
                                      str(self.dir / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start: {(self.dir / 'error.log').read_text()}")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def url(self, key="room"):
        return f"rtmp://127.0.0.1:{self.port}/live/{key}"


@pytest.fixture
def nginx(tmp_path):
    server = Nginx(tmp_path)
    yield server
    server.kill()


class Reader(threading.Thread):
    """A viewer: decodes the stream with PyAV until it goes quiet for a few seconds."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.video, self.audio, self.codecs, self.error = [], [], None, None
        self.start()

    def run(self):
        try:
            with av.open(self.url, timeout=(20, 3)) as c:
                v, a = c.streams.video[0], c.streams.audio[0]
                self.codecs = (v.codec_context.name, a.codec_context.name)
                for packet in c.demux(v, a):
                    for f in packet.decode():
                        if packet.stream.type == "video":
                            self.video.append((float(f.pts * f.time_base), f.key_frame))
                        else:
                            self.audio.append((float(f.pts * f.time_base), f.samples / f.sample_rate))
        except (av.error.ExitError, av.error.EOFError, TimeoutError, av.error.OSError):
            pass  # the stream went quiet: the publisher left
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def test_twenty_seconds_stream_through_nginx_and_read_back_at_the_same_time(nginx):
    reader = Reader(nginx.url())  # waits on the server for the publisher
    time.sleep(0.5)
    room = Room(OutputProfile("test", 320, 180, fps=30, bitrate=500_000, keyframe_interval=2.0))
    sink = ContainerSink(room.mixer, nginx.url(), realtime=False)  # offline clock: faster than real time, lossless
    for _ in range(20 * 30):
        sink.write(room.tick())
    stats = sink.close(room.mixer.close())
    reader.join(30)
    assert reader.error is None and not reader.is_alive()
    assert reader.codecs == ("h264", "aac")
    assert stats.video_frames == 600 and stats.dropped_frames == 0
    assert len(reader.video) >= 0.99 * 600
    assert reader.video[0][1]  # a viewer starts at a keyframe
    start_v, start_a = reader.video[0][0], reader.audio[0][0]
    assert abs(start_v - start_a) <= 0.02
    last_tick = reader.video[-1][0]
    audio_end = reader.audio[-1][0] + reader.audio[-1][1]
    assert -0.02 <= audio_end - last_tick <= 0.02 + 0.022  # + the padding of the last AAC frame


def test_the_room_keeps_time_while_the_server_is_dead_and_the_stream_resumes_when_it_returns(nginx):
    fps = 15
    room = Room(OutputProfile("test", 160, 90, fps=fps, bitrate=200_000, keyframe_interval=1.0))
    events = []
    sink = ContainerSink(room.mixer, nginx.url(), timeout=2.0, backoff=(0.2, 1.0), on_event=events.append)
    start = time.monotonic()
    lateness, slowest_write = [], 0.0

    def tick_until(seconds_from_start, stop=lambda: False):
        nonlocal slowest_write
        while room.i / fps < seconds_from_start and not stop():
            due = start + room.i / fps
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            lateness.append(time.monotonic() - due)
            out = room.tick()
            began = time.perf_counter()
            sink.write(out)
            slowest_write = max(slowest_write, time.perf_counter() - began)

    def connects():
        return sum(e.kind == "sink_connected" for e in events)

    tick_until(10, stop=lambda: connects() >= 1)
    assert connects() == 1
    tick_until(room.i / fps + 1.0)
    nginx.kill()
    killed_at = len(lateness)
    tick_until(room.i / fps + 3.0)  # the server is dead: the room must not notice
    dead = lateness[killed_at:]
    # on time: a write that blocked on the dead server would show the 2 s timeout (it once showed 5 s)
    assert len(dead) >= 3 * fps - 1 and max(dead) < 0.5 and slowest_write < 0.5
    assert any(e.kind == "sink_disconnected" for e in events)
    nginx.start()
    tick_until(room.i / fps + 15, stop=lambda: connects() >= 2)
    assert connects() == 2
    viewer = Reader(nginx.url())
    tick_until(room.i / fps + 15, stop=lambda: len(viewer.video) >= 2 * fps)
    sink.close(room.mixer.close())
    viewer.join(15)
    assert viewer.error is None and viewer.codecs == ("h264", "aac")
    assert viewer.video[0][1] and len(viewer.video) >= 1.5 * fps  # decodes from the next IDR on
