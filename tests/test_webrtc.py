"""A real WebRTC conference on vmedia: aiortc clients in a process of their own join the
server of `vmedia serve` over 127.0.0.1 and measure what they receive."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import av
import numpy as np
import pytest

pytest.importorskip("aiortc")
from aiohttp import web  # noqa: E402

from vmedia import Room  # noqa: E402
from vmedia.webrtc.server import DRIVER_KEY, make_app, peers  # noqa: E402

HERE = Path(__file__).parent
CLIENTS = [  # distinct colour, pitch, beep and flash phase; one caller on G.711
    {"pid": "ann", "rgb": (200, 30, 30), "pitch": 400.0, "beep": 2500.0, "phase": 0.0, "seed": 0},
    {"pid": "ben", "rgb": (30, 160, 30), "pitch": 560.0, "beep": 2800.0, "phase": 0.33, "seed": 1},
    {"pid": "cat", "rgb": (30, 30, 200), "pitch": 730.0, "beep": 3100.0, "phase": 0.66, "seed": 2, "codec": "pcmu"},
]


def luma(rgb) -> float:
    r, g, b = rgb
    return 0.257 * r + 0.504 * g + 0.098 * b + 16


def open_sockets() -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.islink(fd) and os.readlink(fd).startswith("socket:"))


@contextlib.asynccontextmanager
async def serving(room, **peer_options):
    """The `vmedia serve` app for `room` on 127.0.0.1, on a free port."""
    app = make_app(room, **peer_options)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()
        sock.close()


class ProbedRoom(Room):
    """A Room that notes the media times at which each sender's flashes and beeps enter
    the mixer (after the playout mapping), and when flashes leave it in the composite."""

    def __init__(self, beeps: dict[str, float], **kwargs):
        super().__init__(**kwargs)
        self.beeps = beeps
        self.flash_in: dict[str, list[float]] = defaultdict(list)
        self.beep_in: dict[str, list[float]] = defaultdict(list)
        self.flash_out: dict[str, list[float]] = defaultdict(list)
        self._on: dict[tuple[str, str], bool] = {}

    def _edge(self, key, on: bool) -> bool:
        rising = on and not self._on.get(key, False)
        self._on[key] = on
        return rising

    def push_video(self, pid, data, t):
        if isinstance(data, av.VideoFrame):
            plane = data.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(data.height, plane.line_size)[:, : data.width]
            if self._edge((pid, "in"), float(y.mean()) > 170):
                self.flash_in[pid].append(t)
        super().push_video(pid, data, t)

    def push_audio(self, pid, data, t):
        if isinstance(data, av.AudioFrame) and pid in self.beeps:
            channels = data.layout.nb_channels
            x = data.to_ndarray().reshape(-1)[::channels].astype(np.float64) / 32768  # s16, first channel
            rate = data.sample_rate
            # Demodulate at the beep's frequency; a 4 ms average keeps the other tones out.
            z = x * np.exp(-2j * np.pi * self.beeps[pid] * np.arange(len(x)) / rate)
            w = int(0.004 * rate)
            env = np.abs(np.convolve(z, np.ones(w) / w, "same"))
            on = env > 0.03  # the beep's envelope is 0.06
            if self._edge((pid, "beep"), bool(on.any())):
                self.beep_in[pid].append(t + int(np.argmax(on)) / rate)
            self._on[(pid, "beep")] = bool(on[-w:].any())
        super().push_audio(pid, data, t)

    def watch_output(self, out, t):
        if not out.composites:
            return
        frame = next(iter(out.composites.values()))
        y = frame.planes[0]
        for slot in self.mixer.layout().slots:
            r = slot.rect
            bright = float(y[r.y + r.h // 4 : r.y + r.h // 2, r.x + r.w // 4 : r.x + 3 * r.w // 4].mean()) > 170
            if self._edge((slot.participant, "out"), bright):
                self.flash_out[slot.participant].append(t)


def skews(video: list[float], audio: list[float], settle: float = 1.5) -> list[float]:
    """Video minus audio time of each flash/beep pair (pairs within 0.3 s), once the
    playout anchors have settled (`settle` seconds after the first flash)."""
    out = []
    for v in video:
        if v < video[0] + settle:
            continue
        near = [v - a for a in audio if abs(v - a) < 0.3]
        if near:
            out.append(min(near, key=abs))
    return out


async def run_client_process(url: str, specs: list[dict], seconds: float, warmup: float) -> dict:
    arg = json.dumps({"url": url, "clients": specs, "seconds": seconds, "warmup": warmup})
    proc = await asyncio.create_subprocess_exec(sys.executable, str(HERE / "webrtc_clients.py"), arg,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), seconds + 30)
    lines = [line for line in out.decode().splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"clients failed ({proc.returncode}): {err.decode()[-3000:]}"
    return json.loads(lines[0][len("RESULT ") :])


def test_three_clients_see_everyone_and_hear_everyone_but_themselves():
    sockets_before = open_sockets()

    async def main():
        room = ProbedRoom({c["pid"]: c["beep"] for c in CLIENTS}, room_type="administrative", layout="gallery")
        async with serving(room) as (app, url):
            driver = app[DRIVER_KEY]
            driver.add_output(lambda out: room.watch_output(out, room.mixer.time))
            seen = {}

            async def keep_peers():  # the peers leave with their clients; keep their stats
                while True:
                    seen.update(peers(app))
                    await asyncio.sleep(0.2)

            keeper = asyncio.ensure_future(keep_peers())
            result = await run_client_process(url, CLIENTS, seconds=10.0, warmup=2.0)
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            for _ in range(50):  # the clients closed: their peers leave the room
                if not peers(app) and not room.participants:
                    break
                await asyncio.sleep(0.1)
            assert not peers(app) and room.participants == []
            stats = driver.stats
        await asyncio.sleep(0.1)
        leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return room, result, stats, leftover, {pid: p.stats for pid, p in seen.items()}

    room, result, stats, leftover, peer_stats = asyncio.run(main())
    print("\nserver side:", peer_stats)
    report = []
    for c in CLIENTS:
        got = result[c["pid"]]
        others = [o for o in CLIENTS if o is not c]
        # The composite at full rate, without freezes, with every participant's picture in it.
        assert got["size"] == [1280, 720]
        assert got["fps"] >= 25, got
        assert got["longest_gap"] < 0.5, got
        for o in CLIENTS:
            assert abs(got["tile_luma"][o["pid"]] - luma(o["rgb"])) < 12, (c["pid"], o["pid"], got["tile_luma"])
        # Everyone else's tone, not its own: at least 40 dB apart.
        own = got["tone_db"][c["pid"]]
        loudest_other = min(got["tone_db"][o["pid"]] for o in others)
        assert loudest_other - own >= 40, (c["pid"], got["tone_db"], got["floor_db"])
        latencies = [x for o in others for x in got["flash_latency"][o["pid"]]]
        assert len(latencies) >= 10, got["flash_latency"]
        report.append(f"{c['pid']}: {got['fps']:.1f} fps, own tone {loudest_other - own:.0f} dB below, "
                      f"flash-to-composite median {np.median(latencies) * 1000:.0f} ms (max {max(latencies) * 1000:.0f})")
    # Lip sync: each sender's flash and beep (sent together) enter the mix at the same media time.
    for c in CLIENTS:
        pid = c["pid"]
        inside = skews(room.flash_in[pid], room.beep_in[pid])
        at_output = skews(room.flash_out[pid], room.beep_in[pid])
        assert len(inside) >= 5, (room.flash_in[pid], room.beep_in[pid])
        assert abs(np.median(inside)) <= 0.020, (pid, inside)  # single pairs move while a pace settles
        report.append(f"{pid} lip sync: mixer input {np.median(inside) * 1000:+.0f} ms "
                      f"(range {min(inside) * 1000:+.0f}..{max(inside) * 1000:+.0f}), composite vs mix "
                      f"{np.median(at_output) * 1000:+.0f} ms (video is shown at the next 1/30 s frame)")
    assert stats.errors == 0
    print("\n" + "\n".join(report) + f"\ndriver: {stats.ticks} ticks, {stats.video_frames_dropped} video frames dropped, "
          f"p99 lateness {stats.lateness_percentile(99) * 1000:.1f} ms")
    assert not leftover, leftover
    assert open_sockets() <= sockets_before
