"""Scenario: while one good client is in a call, bad peers come and go: one that offers VP8
only, one whose SDP has no audio, one that never sends media, one that never completes
the connection, and one (a process of its own) that is killed mid-call. Runs inside
`unshare -n` (see netns.py); prints RESULT {json} for tests/test_webrtc.py to judge."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import time
from pathlib import Path

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

sys.path.insert(0, str(Path(__file__).parent))
from netns import loopback_only_network  # noqa: E402
from webrtc_clients import Client, post_offer  # noqa: E402

from vmedia import Room  # noqa: E402
from vmedia.engine.events import Event, EventKind  # noqa: E402
from vmedia.webrtc import aiortc_internals  # noqa: E402
from vmedia.webrtc.server import DRIVER_KEY, make_app, peers  # noqa: E402

HERE = Path(__file__).parent


def open_sockets() -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if fd.is_symlink() and str(fd.readlink()).startswith("socket:"))


async def offer_only(url: str, pid: str, *, video_codec: str | None = "video/H264", audio: bool = True,
                     apply_answer: bool = True) -> tuple[RTCPeerConnection, dict | str]:
    """A bare peer: what it offers is all that matters. Returns (pc, answer or error text)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if video_codec:
        video = pc.addTransceiver("video", direction="recvonly")
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == video_codec])
    if audio:
        pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    if not apply_answer:
        import aiohttp

        body = {"sdp": pc.localDescription.sdp, "type": "offer", "pid": pid, "name": pid}
        async with aiohttp.ClientSession() as session, session.post(url + "/offer", json=body) as resp:
            return pc, await resp.json()
    try:
        return pc, await post_offer(url, pc, pid, pid)
    except RuntimeError as e:
        return pc, str(e)


async def until(predicate, timeout: float) -> float:
    """Seconds until predicate() held (raises on timeout)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def scenario() -> dict:
    room = Room("administrative", layout="gallery")
    sockets_before = open_sockets()
    app = make_app(room, connect_timeout=2.0, media_timeout=1.5)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    events = []
    app[DRIVER_KEY].subscribe(lambda e: events.append((e.kind, e.participant, e.detail)))
    out: dict = {}

    good = Client("good", (200, 30, 30), 400.0, 2500.0, 0.0, seconds=4.0)  # its tone loops
    await good.join(url)
    await until(lambda: len(good.video_frames) > 10, 10)
    # Keyframes both ways: vmedia's keyframe_needed naming the client becomes a PLI to
    # it; the client's PLI becomes a keyframe of its view.
    peer = peers(app)["good"]
    before = (good.keyframe_requests, peer.keyframes_requested)
    app[DRIVER_KEY].emit(Event(EventKind.KEYFRAME_NEEDED, "good", 0.0, "test"))
    await aiortc_internals.send_pli(good.video_transceiver.receiver)
    await until(lambda: good.keyframe_requests > before[0] and peer.keyframes_requested > before[1], 5)
    out["plis"] = {"to_client": good.keyframe_requests - before[0], "from_client": peer.keyframes_requested - before[1],
                   "sent_by_peer": peer.plis_sent}
    bad_start = time.monotonic()

    # A peer whose only video codec is VP8: refused, with the reason, before joining.
    vp8, vp8_answer = await offer_only(url, "vp8", video_codec="video/VP8")
    out["vp8"] = vp8_answer
    await vp8.close()
    # An SDP without audio: a camera-only device joins and gets the composite.
    mute = Client("noaudio", (30, 160, 30), 560.0, 2800.0, 0.3, send_audio=False, offer_audio=False)
    out["noaudio_status"] = (await mute.join(url))["status"]
    # A peer that never sends media: stays (a viewer), announced once.
    silent, silent_answer = await offer_only(url, "silent")
    out["silent_status"] = silent_answer["status"] if isinstance(silent_answer, dict) else silent_answer
    # A peer that takes the answer but never connects.
    ghost, ghost_answer = await offer_only(url, "ghost", apply_answer=False)
    out["ghost_status"] = ghost_answer.get("status")
    # A client in a process of its own, killed mid-call.
    spec = {"pid": "gone", "rgb": [30, 30, 200], "pitch": 730.0, "beep": 3100.0, "phase": 0.6, "seed": 3}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "webrtc_clients.py"), json.dumps({"url": url, "clients": [spec], "seconds": 60, "warmup": 0}),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await until(lambda: "gone" in peers(app) and peers(app)["gone"].stats["video_in"].played > 20, 20)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    out["gone_left_after"] = await until(lambda: "gone" not in room.participants, 10)
    await until(lambda: "ghost" not in room.participants, 10)
    await until(lambda: any(k == "no_media" and p == "silent" for k, p, _ in events), 10)
    out["participants_after_bad"] = sorted(room.participants)
    bad_end = time.monotonic()
    frames = [t for t, _ in good.video_frames if bad_start <= t <= bad_end]
    out["good_fps_during"] = (len(frames) - 1) / (frames[-1] - frames[0]) if len(frames) > 1 else 0.0
    out["good_longest_gap"] = max(b - a for a, b in zip(frames, frames[1:])) if len(frames) > 1 else None
    out["noaudio_frames"] = len(mute.video_frames)

    for pc in (silent, ghost):
        await pc.close()
    await mute.close()
    await good.close()
    await until(lambda: not room.participants and not peers(app), 10)
    out["events"] = events
    out["driver_errors"] = app[DRIVER_KEY].stats.errors
    await runner.cleanup()
    sock.close()
    await asyncio.sleep(0.1)
    out["leftover_tasks"] = [repr(t) for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    out["sockets_before"], out["sockets_after"] = sockets_before, open_sockets()
    return out


if __name__ == "__main__":
    loopback_only_network()
    print("RESULT " + json.dumps(asyncio.run(scenario()), default=str))
