"""aiortc callers of rooms on a cluster that reconnect as a real client does: when its
pictures stop for RECONNECT_AFTER seconds (the room's process or node died), a caller
closes its connection and re-offers to the cluster's front with the same participant id
and the rejoin token of its first answer, retrying while the room restarts (503). Run by
cluster_failover.py in its network namespace; runs until a line arrives on stdin, then prints RESULT {json}: per caller, each
session (when, on which node, as what) and what it received during it."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
import numpy as np
from aiortc import RTCSessionDescription
from webrtc_clients import Client, band_db

from vmedia import layouts
from vmedia.media.time import SAMPLE_RATE

RECONNECT_AFTER = 3.0  # seconds without a picture
RETRY_EVERY = 0.5
SETTLE = 1.0  # seconds of a session not analysed: the first keyframe, the playout buffers


class Caller:
    """One participant across sessions: a new connection (Client) per session."""

    def __init__(self, front: str, spec: dict, roster: list[str]):
        self.front, self.spec = front, spec
        self.room, self.pid = spec["room"], spec["pid"]
        self.roster = roster  # who is in the room: a gallery of them, in some order
        self.sessions: list[dict] = []
        self.refusals: list[str] = []
        self.client: Client | None = None
        self.rejoin_token: str | None = None  # from the first answer; shown when re-offering

    async def connect(self, pin: str | None, stop: asyncio.Event) -> None:
        """Offer until the room answers (it may be restarting). A re-offer goes without the
        PIN first, as a returning member; asked for one, the caller gives it."""
        self.client = None
        while not stop.is_set():
            media = {k: self.spec[k] for k in ("rgb", "pitch", "beep", "phase", "seed")}
            client = Client(self.pid, seconds=120.0, **media)
            try:
                answer = await offer(client, f"{self.front}/rooms/{self.room}/offer", self.pid, pin, self.rejoin_token)
            except RuntimeError as e:
                await client.close()
                self.refusals.append(str(e)[:200])
                if str(e).startswith("403") and "PIN" in str(e):
                    pin = self.spec.get("pin")
                await asyncio.sleep(RETRY_EVERY)
                continue
            tiles = {s.participant: s.rect.as_tuple() for s in layouts.gallery(self.roster, 1280, 720).slots}
            client.tiles = {f"tile{i}": rect for i, rect in enumerate(tiles.values())}  # whose is which: not known
            self.client = client
            self.rejoin_token = answer["rejoin_token"]
            self.sessions.append({"start": time.monotonic(), "status": answer["status"], "node": answer["node"],
                                  "pin_given": pin is not None})
            return

    async def run(self, stop: asyncio.Event) -> None:
        await self.connect(self.spec.get("pin"), stop)
        while not stop.is_set():
            await asyncio.sleep(0.25)
            c = self.client
            if c is None:
                break
            last = c.video_frames[-1][0] if c.video_frames else self.sessions[-1]["start"]
            if time.monotonic() - last > RECONNECT_AFTER:
                await self.end_session("no pictures")
                await self.connect(None, stop)
        if self.client is not None:
            await self.end_session("hung up")

    async def end_session(self, why: str) -> None:
        c, session = self.client, self.sessions[-1]
        await c.close()
        session["end"] = time.monotonic()
        session["why"] = why
        session.update(analyse(c, session["start"] + SETTLE, session["end"]))


def analyse(c: Client, start: float, end: float) -> dict:
    frames = [(t, m) for t, m in c.video_frames if start <= t <= end]
    times = [t for t, _ in frames]
    audio = np.concatenate(c.audio[len(c.audio) // 4:]) if len(c.audio) > 4 else np.zeros(480, np.float32)
    return {
        "frames": len(frames), "seconds": end - start,
        "fps": (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0,
        "size": c.video_size,
        "tile_luma": sorted(float(np.median([m[k] for _, m in frames])) for k in c.tiles) if frames else [],
        "audio_seconds": len(audio) / SAMPLE_RATE,
        "audio": audio,  # replaced by tone levels once every caller's pitch is known
    }


async def offer(client: Client, url: str, pid: str, pin: str | None, rejoin_token: str | None) -> dict:
    """Client.join with a PIN in the offer, against the cluster's URL scheme."""
    from aiortc import RTCRtpSender

    video = client.pc.addTransceiver(client.camera, direction="sendrecv")
    video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")])
    audio = client.pc.addTransceiver(client.mic, direction="sendrecv")
    audio.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"])
    await client.pc.setLocalDescription(await client.pc.createOffer())
    body = {"sdp": client.pc.localDescription.sdp, "type": "offer", "pid": pid, "name": pid}
    if pin is not None:
        body["pin"] = pin
    if rejoin_token is not None:
        body["rejoin_token"] = rejoin_token
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{resp.status}: {await resp.text()}")
        answer = await resp.json()
    await client.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
    return answer


async def main(front: str, specs: list[dict]) -> dict:
    rosters = {}
    for s in specs:
        rosters.setdefault(s["room"], []).append(s["pid"])
    callers = [Caller(front, s, rosters[s["room"]]) for s in specs]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.run_in_executor(None, lambda: (sys.stdin.readline(), loop.call_soon_threadsafe(stop.set)))
    await asyncio.gather(*(c.run(stop) for c in callers))
    pitches = {s["pid"]: s["pitch"] for s in specs}
    result = {}
    for c in callers:
        for session in c.sessions:
            audio = session.pop("audio")
            session["tone_db"] = {pid: band_db(audio, pitches[pid]) for pid in rosters[c.room]}
        result[c.pid] = {"room": c.room, "sessions": c.sessions, "refusals": c.refusals[-5:], "offers_refused": len(c.refusals)}
    return result


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    print("RESULT " + json.dumps(asyncio.run(main(args["front"], args["clients"]))), flush=True)
