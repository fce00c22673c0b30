"""Scenario: three aiortc clients (a process of their own) join the server of `vmedia
serve` and measure what they receive; the server side notes when each sender's flashes
and beeps enter the mixer and leave in the composite. Runs inside `unshare -n` (see
netns.py); prints RESULT {json} for tests/test_webrtc.py to judge."""

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
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from netns import loopback_only_network  # noqa: E402

from vmedia import Room  # noqa: E402
from vmedia.webrtc.server import DRIVER_KEY, make_app, peers  # noqa: E402

HERE = Path(__file__).parent
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


async def run_client_process(url: str, specs: list[dict], seconds: float, warmup: float) -> dict:
    arg = json.dumps({"url": url, "clients": specs, "seconds": seconds, "warmup": warmup})
    proc = await asyncio.create_subprocess_exec(sys.executable, str(HERE / "webrtc_clients.py"), arg,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), seconds + 30)
    lines = [line for line in out.decode().splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"clients failed ({proc.returncode}): {err.decode()[-3000:]}"
    return json.loads(lines[0][len("RESULT ") :])


async def conference(clients: list[dict], seconds: float, warmup: float) -> dict:
    room = ProbedRoom({c["pid"]: c["beep"] for c in clients}, room_type="administrative", layout="gallery")
    sockets_before = open_sockets()
    async with serving(room) as (app, url):
        driver = app[DRIVER_KEY]
        driver.add_output(lambda out: room.watch_output(out, room.mixer.time))
        seen = {}

        async def keep_peers():  # the peers leave with their clients; keep their stats
            while True:
                seen.update(peers(app))
                await asyncio.sleep(0.2)

        keeper = asyncio.ensure_future(keep_peers())
        received = await run_client_process(url, clients, seconds, warmup)
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        for _ in range(50):  # the clients hung up: their peers leave the room
            if not peers(app) and not room.participants:
                break
            await asyncio.sleep(0.1)
        left = {"peers": list(peers(app)), "participants": room.participants}
        stats = driver.stats
    await asyncio.sleep(0.1)
    return {
        "received": received,
        "flash_in": room.flash_in, "beep_in": room.beep_in, "flash_out": room.flash_out,
        "peers": {pid: {k: (v.__dict__ if hasattr(v, "__dict__") else v) for k, v in p.stats.items()} for pid, p in seen.items()},
        "left": left,
        "driver": {"ticks": stats.ticks, "video_frames_dropped": stats.video_frames_dropped, "errors": stats.errors,
                   "lateness_p99": stats.lateness_percentile(99)},
        "leftover_tasks": [repr(t) for t in asyncio.all_tasks() if t is not asyncio.current_task()],
        "sockets_before": sockets_before, "sockets_after": open_sockets(),
    }


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    loopback_only_network()
    print("RESULT " + json.dumps(asyncio.run(conference(args["clients"], args["seconds"], args["warmup"]))))
