"""Real WebRTC clients for the tests: aiortc peers that send a known picture and sound and
measure what comes back from the room.

Each client sends a solid colour that flashes white every `FLASH_PERIOD` (its own phase),
and a harmonic tone at its own pitch, shaped in syllables so the room treats it as a voice,
with a beep at its own frequency at every flash (for lip sync). It records when each flash
left, and analyses what it receives without keeping the pictures: per frame, the mean luma
of every participant's tile; all received audio at 48 kHz mono.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from vmedia.media import synth
from vmedia.media.time import FRAME_SIZE, SAMPLE_RATE

FPS = 30
SIZE = (320, 240)
FLASH_PERIOD = 1.0  # seconds between a client's flashes
FLASH_FRAMES = 3
BEEP_SECONDS = 0.1
VIDEO_TIME_BASE = Fraction(1, 90000)


def yuv_of(rgb) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 0.257 * r + 0.504 * g + 0.098 * b + 16
    u = -0.148 * r - 0.291 * g + 0.439 * b + 128
    v = 0.439 * r - 0.368 * g - 0.071 * b + 128
    return round(y), round(u), round(v)


def solid_frame(rgb, size=SIZE) -> np.ndarray:
    """A yuv420p picture as PyAV's (h * 3/2, w) array."""
    w, h = size
    y, u, v = yuv_of(rgb)
    arr = np.empty((h * 3 // 2, w), np.uint8)
    arr[:h] = y
    arr[h : h + h // 4] = u
    arr[h + h // 4 :] = v
    return arr


class FlashCamera(MediaStreamTrack):
    """A paced camera: `rgb` at 30 fps, white for FLASH_FRAMES every FLASH_PERIOD."""

    kind = "video"

    def __init__(self, rgb, phase: float, epoch: list, go: asyncio.Event):
        super().__init__()
        self.go = go
        self.epoch = epoch  # [start]: shared with the microphone, so flash and beep leave together
        self.normal = solid_frame(rgb)
        self.white = solid_frame((255, 255, 255))
        self.phase = phase
        self.flashes: list[float] = []  # monotonic time each flash was handed to aiortc
        self._k = 0

    async def recv(self) -> av.VideoFrame:
        if not self.epoch:
            await self.go.wait()
            self.epoch.append(time.monotonic())
        due = self.epoch[0] + self._k / FPS
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = self._k / FPS
        into = (t - self.phase) % FLASH_PERIOD
        flash = t >= self.phase and into < FLASH_FRAMES / FPS - 1e-9
        if flash and into < 1 / FPS - 1e-9:
            self.flashes.append(time.monotonic())
        frame = av.VideoFrame.from_ndarray(self.white if flash else self.normal, format="yuv420p")
        frame.pts = round(t / VIDEO_TIME_BASE)
        frame.time_base = VIDEO_TIME_BASE
        self._k += 1
        return frame


def voice_signal(pitch: float, beep: float, phase: float, seconds: float, seed: int) -> np.ndarray:
    """A harmonic tone in syllables, always voiced around each flash, plus a beep at it."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    env = synth.syllable_envelope(seconds, seed=seed)
    x = np.sin(2 * np.pi * pitch * t) + 0.5 * np.sin(2 * np.pi * 2 * pitch * t) + 0.3 * np.sin(2 * np.pi * 3 * pitch * t)
    into = (t - phase) % FLASH_PERIOD
    around = (t >= phase) & ((into < BEEP_SECONDS + 0.15) | (into > FLASH_PERIOD - 0.15))
    env = np.where(around, 1.0, env)  # a talk spurt already going when the beep comes
    beeping = (t >= phase) & (into < BEEP_SECONDS)
    y = 0.12 * x * env + 0.12 * np.sin(2 * np.pi * beep * t) * beeping
    return y.astype(np.float32)


class ToneMicrophone(MediaStreamTrack):
    """A paced microphone playing `signal` (float 48 kHz mono) in 20 ms frames, looped."""

    kind = "audio"

    def __init__(self, signal: np.ndarray, epoch: list, go: asyncio.Event):
        super().__init__()
        self.go = go
        self.epoch = epoch
        pcm = np.clip(signal * 32767, -32768, 32767).astype(np.int16)
        self.frames = synth.frames_of(pcm)
        self._k = 0

    async def recv(self) -> av.AudioFrame:
        if not self.epoch:
            await self.go.wait()
            self.epoch.append(time.monotonic())
        due = self.epoch[0] + self._k * FRAME_SIZE / SAMPLE_RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = av.AudioFrame.from_ndarray(self.frames[self._k % len(self.frames)].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._k * FRAME_SIZE
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._k += 1
        return frame


class Client:
    """One aiortc participant. `tiles`: pid -> (x, y, w, h) in the composite, for analysis."""

    def __init__(self, pid: str, rgb, pitch: float, beep: float, phase: float, *, codec: str = "opus",
                 seconds: float = 12.0, seed: int = 0, send_video: bool = True, send_audio: bool = True,
                 offer_audio: bool = True, go: asyncio.Event | None = None):
        self.pid, self.rgb, self.pitch, self.beep, self.phase, self.codec = pid, rgb, pitch, beep, phase, codec
        self.offer_audio = offer_audio  # False: an SDP without an audio section
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        epoch: list[float] = []
        if go is None:
            go = asyncio.Event()
            go.set()
        self.signal = voice_signal(pitch, beep, phase, seconds, seed) if send_audio else None
        self.camera = FlashCamera(rgb, phase, epoch, go) if send_video else None
        self.mic = ToneMicrophone(self.signal, epoch, go) if send_audio else None
        self.tiles: dict[str, tuple[int, int, int, int]] = {}
        self.video_frames: list[tuple[float, dict[str, float]]] = []  # (arrival, pid -> mean luma of its tile)
        self.video_size: tuple[int, int] | None = None
        self.audio: list[np.ndarray] = []
        self.audio_arrivals: list[float] = []
        self._tasks: list[asyncio.Task] = []
        self.pc.on("track", self._on_track)

    async def join(self, url: str, name: str | None = None) -> dict:
        video = self.pc.addTransceiver(self.camera or "video", direction="sendrecv" if self.camera else "recvonly")
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")])
        if self.offer_audio:
            audio = self.pc.addTransceiver(self.mic or "audio", direction="sendrecv" if self.mic else "recvonly")
            mime = {"opus": "audio/opus", "pcmu": "audio/PCMU", "pcma": "audio/PCMA"}[self.codec]
            audio.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == mime])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await post_offer(url, self.pc, self.pid, name or self.pid)
        self.video_transceiver = video
        self.keyframe_requests = 0  # PLI/FIR the room sent to this client's camera
        original = video.sender._send_keyframe

        def counted() -> None:  # (test instrumentation of aiortc's private hook)
            self.keyframe_requests += 1
            original()

        video.sender._send_keyframe = counted
        return answer

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.ensure_future(self._read_video(track) if track.kind == "video" else self._read_audio(track)))

    async def _read_video(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            arrival = time.monotonic()
            self.video_size = (frame.width, frame.height)
            plane = frame.planes[0]
            luma = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)
            means = {}
            for pid, (x, y, w, h) in self.tiles.items():  # the middle of each tile, away from labels
                means[pid] = float(luma[y + h // 4 : y + h // 2, x + w // 4 : x + 3 * w // 4].mean())
            self.video_frames.append((arrival, means))

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.audio_arrivals.append(time.monotonic())
            frame.pts = None
            for f in resampler.resample(frame):
                self.audio.append(f.to_ndarray().reshape(-1).copy())

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def post_offer(url: str, pc: RTCPeerConnection, pid: str, name: str) -> dict:
    """POST the offer the way aiortc's examples do; set the answer; return the JSON."""
    body = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type, "pid": pid, "name": name}
    async with aiohttp.ClientSession() as session, session.post(url + "/offer", json=body) as resp:
        if resp.status != 200:
            raise RuntimeError(f"offer refused ({resp.status}): {await resp.text()}")
        answer = await resp.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
    return answer


def band_db(x: np.ndarray, freq: float, width: float = 0.5) -> float:
    """Power (dB) of x within +-width Hz of freq."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    return float(10 * np.log10(spec[np.abs(f - freq) <= width].sum() + 1e-20))


def onsets(flags: np.ndarray, times: np.ndarray, min_gap: float) -> list[float]:
    """Times where `flags` turns on, at least min_gap apart."""
    out: list[float] = []
    prev = False
    for on, t in zip(flags.tolist(), times.tolist()):
        if on and not prev and (not out or t - out[-1] >= min_gap):
            out.append(t)
        prev = on
    return out


# --- clients in a process of their own (own GIL, like real remote peers) -------------------
def flash_latencies(sender: Client, receiver: Client, threshold: float = 170.0) -> list[float]:
    """Seconds from each of `sender`'s flashes leaving to its tile turning white at `receiver`."""
    if not receiver.video_frames or sender.camera is None:
        return []
    times = np.array([t for t, _ in receiver.video_frames])
    bright = np.array([m.get(sender.pid, 0.0) > threshold for _, m in receiver.video_frames])
    seen = onsets(bright, times, FLASH_PERIOD / 2)
    out = []
    for sent in sender.camera.flashes:
        later = [s - sent for s in seen if 0 <= s - sent < 0.9 * FLASH_PERIOD]
        if later:
            out.append(later[0])
    return out


def summary(clients: list[Client], warmup: float, end: float) -> dict:
    """What each client received in [warmup, end] (monotonic seconds)."""
    result = {}
    for rx in clients:
        frames = [(t, m) for t, m in rx.video_frames if warmup <= t <= end]
        times = [t for t, _ in frames]
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        gaps = float(np.max(np.diff(times))) if len(times) > 1 else float("inf")
        audio = np.concatenate(rx.audio[len(rx.audio) // 3 :]) if rx.audio else np.zeros(FRAME_SIZE, np.float32)
        result[rx.pid] = {
            "fps": fps,
            "frames": len(frames),
            "longest_gap": gaps,
            "size": rx.video_size,
            # median luma of every tile over the window: everyone is in the picture
            "tile_luma": {pid: float(np.median([m[pid] for _, m in frames if pid in m])) for pid in rx.tiles} if frames else {},
            # each tone's carrier, +-0.5 Hz over the whole window: the codec's noise floor
            # in so narrow a band is far below the carriers (compare floor_db)
            "tone_db": {tx.pid: band_db(audio, tx.pitch) for tx in clients},
            "floor_db": band_db(audio, 850.0),
            "audio_seconds": len(audio) / SAMPLE_RATE,
            "flash_latency": {tx.pid: flash_latencies(tx, rx) for tx in clients if tx is not rx},
        }
    return result


async def run_clients(url: str, specs: list[dict], seconds: float, warmup: float) -> dict:
    from vmedia import layouts

    go = asyncio.Event()  # media starts once all have joined, as if they were separate machines
    clients = [Client(**spec, go=go) for spec in specs]
    for c in clients:  # one after the other: the gallery shows them in join order
        await c.join(url)
    go.set()
    tiles = {s.participant: s.rect.as_tuple() for s in layouts.gallery([c.pid for c in clients], 1280, 720).slots}
    for c in clients:
        c.tiles = tiles
    start = time.monotonic()
    await asyncio.sleep(seconds)
    end = time.monotonic()
    for c in clients:  # hang up first: the analysis below would stall the media
        await c.close()
    return summary(clients, start + warmup, end)


if __name__ == "__main__":
    import json
    import sys

    args = json.loads(sys.argv[1])
    out = asyncio.run(run_clients(args["url"], args["clients"], args["seconds"], args["warmup"]))
    print("RESULT " + json.dumps(out))
