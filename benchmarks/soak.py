"""Soak: a long meeting on the offline clock, with joins, leaves, stalls, host controls and
an attacker sending garbage all along. Not a timed test: run by hand, results in RESULTS.md.

    python benchmarks/soak.py --minutes 21            # the issue-9 soak (a few minutes of CPU)
    python benchmarks/soak.py --minutes 1 --json out.json

A 9-person room in the speaker layout (small pictures keep it affordable on 2 cores):
a host and seven guests sending pictures (H.264) and speech (Opus, one G.711 phone, one
float PCM), one attacker (tests/hostile_media.py). Every minute a guest leaves and a new
one joins 10 s later; every 90 s a guest's video stalls for 5 s; every 2 minutes the host
mutes everyone, pins someone, locks the room, and undoes it; the attacker leaves and comes
back every 5 minutes. Checked (check() raises AssertionError):

- every tick produces exactly the audio and video frames due; each receiver's audio packet
  pts and video pts are consecutive while it is in the room (no gap, no duplicate);
- the A/V offset of a receiver present all along stays within one frame, without drift;
- every per-room collection stays bounded (sampled every media minute);
- RSS growth after warm-up is reported (target < 1 MB per 10 minutes of media).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from hostile_media import Attacker, Chooser  # noqa: E402
from vmedia import Mixer, OutputProfile, Room  # noqa: E402
from vmedia.codecs.audio import AudioEncoder, G711Encoder  # noqa: E402
from vmedia.errors import VmediaError  # noqa: E402
from vmedia.media import synth  # noqa: E402
from vmedia.media.frames import I420Frame  # noqa: E402

FPS = 15
PROFILE = OutputProfile("soak", 160, 90, fps=FPS, bitrate=100_000, keyframe_interval=4.0)
LOOP = 20.0  # seconds of each sender's media, looped
COLOURS = [(200, 60, 60), (60, 200, 60), (60, 60, 200), (200, 200, 60), (200, 60, 200), (60, 200, 200),
           (120, 120, 120), (230, 150, 40)]
CODECS = ["opus", "opus", "opus", "pcmu", "opus", "pcm", "opus", "opus"]  # "pcm": float samples


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sender:
    """One healthy participant's media: a looped H.264 clip and a looped speech track in its
    codec, encoded once (each loop starts at an IDR)."""

    def __init__(self, index: int, codec: str, loop: float = LOOP):
        self.codec = codec
        n = round(loop * FPS)
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 64, 36, "yuv420p"
        ctx.time_base, ctx.framerate = Fraction(1, FPS), Fraction(FPS)
        ctx.gop_size, ctx.thread_count = n, 1
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "repeat-headers=1"}
        ctx.open()
        self.video = []
        for i in range(n):
            y, u, v = COLOURS[index % len(COLOURS)]
            frame = I420Frame.blank(64, 36, (y, u, v)).av_frame
            frame.pts = i
            self.video.append([bytes(p) for p in ctx.encode(frame)])
        # Turns of about 4 s, a different slot per sender, so the floor moves around.
        start = index * 2.5 % loop
        spurts = [(start, start + 3.5), ((start + 10) % loop, (start + 10) % loop + 2.0)]
        speech = synth.frames_of(synth.talk(spurts, loop + 0.02, f0=100 + 15 * index, level_db=-24, seed=index))
        if codec == "opus":
            enc = AudioEncoder("opus")
            self.audio = [bytes(enc.encode(x)[0]) for x in speech]
        elif codec == "pcmu":
            g711 = G711Encoder("pcmu")
            self.audio = [bytes(g711.encode(x, None, k)[0]) for k, x in enumerate(speech)]
        else:
            self.audio = list(speech)

    def video_at(self, i: int) -> list[bytes]:
        return self.video[i % len(self.video)]

    def audio_at(self, k: int):
        return self.audio[k % len(self.audio)]


def room_collections(room: Room) -> dict[str, int]:
    """The size of everything a room keeps per participant, event or view."""
    m = room.mixer
    sizes = {
        "room.roles": len(room.roles), "room._muted": len(room._muted), "room.events": len(room.events),
        "mixer._members": len(m._members), "mixer._video_in": len(m._video_in), "mixer._audio_in": len(m._audio_in),
        "mixer._hidden": len(m._hidden), "mixer._views": len(m._views), "mixer._view_of": len(m._view_of),
        "mixer._keyframe_for": len(m._keyframe_for), "mixer._history": len(m._history),
        "mixer._pending_events": len(m._pending_events), "mixer._extradata": len(m._extradata),
        "audio._ids": len(m._audio._ids), "audio._names": len(m._audio._names),
        "rx_audio._opus": len(m._rx_audio._opus), "rx_audio._heard": len(m._rx_audio._heard),
        "max video queue": max((v.queued for v in m._video_in.values()), default=0),
        "max audio frames held": max((len(a._frames) for a in m._audio_in.values()), default=0),
    }
    pending = getattr(room.audit, "_pending", None)
    if pending is not None:
        sizes["audit._pending"] = len(pending)
    return sizes


def soak(minutes: float, *, seed: int = 7, attacker_rate: int = 4, scale: float = 1.0, loop: float = LOOP,
         log=print) -> dict:
    """Run the meeting; `scale` shrinks the schedule's periods and `loop` the senders'
    clips (the short test). Returns what check() checks."""
    logging.getLogger("vmedia").setLevel(logging.ERROR)  # the attacker's stream errors
    room = Room("administrative", layout="speaker", history=200)
    room.mixer = Mixer([PROFILE], layout="speaker", name=room.name)  # small pictures (Room has no profile option)
    senders = {}
    host = "host"
    guests = [f"g{i}" for i in range(7)]
    for i, pid in enumerate([host] + guests):
        senders[pid] = Sender(i, CODECS[i], loop)
    room.join(host, "Host", role="host")
    for pid in guests:
        room.join(pid, pid.upper(), audio_codec="pcmu" if senders[pid].codec == "pcmu" else "opus")
        if senders[pid].codec == "pcm":
            room.mixer._audio_in[pid].codec = "pcm"  # float PCM pushes need no decoder
    attacker, choices = Attacker("x"), Chooser(seed=seed)
    room.join("x", "X")

    every = lambda seconds: max(1, round(seconds * scale * FPS))  # noqa: E731  (in video frames)
    n_frames = round(minutes * 60 * FPS)
    left: dict[str, int] = {}  # guest id -> the frame it comes back (under a new id)
    stalled: dict[str, int] = {}
    generation = {pid: 0 for pid in guests}
    joined_at: dict[str, tuple[int, int]] = {host: (0, 0), "x": (0, 0)} | {pid: (0, 0) for pid in guests}
    streams: dict[str, Stream] = {}  # per stay in the room: what it received (O(1) memory)
    offsets = Offsets(first=60 * FPS)
    frame_errors: list = []
    rss, sizes_max, samples = [], {}, []
    expected_audio = expected_video = produced_audio = produced_video = 0
    k = 0  # next 20 ms audio frame to push
    start = time.perf_counter()
    for i in range(n_frames):
        t = i / FPS
        # --- the schedule -------------------------------------------------------------
        if i and i % every(60) == 0:  # a guest leaves; a new one (same sender) joins 10 s later
            pid = guests[(i // every(60)) % len(guests)]
            current = f"{pid}.{generation[pid]}" if generation[pid] else pid
            if current in room.roles:
                room.leave(current)
                left[pid] = i + every(10)
        for pid, back in list(left.items()):
            if i >= back and not room.locked:  # a locked room keeps them out until it opens
                generation[pid] += 1
                new = f"{pid}.{generation[pid]}"
                room.join(new, new, audio_codec="pcmu" if senders[pid].codec == "pcmu" else "opus")
                if senders[pid].codec == "pcm":
                    room.mixer._audio_in[new].codec = "pcm"
                joined_at[new] = (i, room.mixer._audio_index)
                del left[pid]
        if i and i % every(90) == 0:
            stalled[guests[(i // every(90) + 3) % len(guests)]] = i + every(5)
        if i and i % every(120) == 0:
            room.mute_all(host)
            room.pin(host, host)
            room.lock(host)
        if i and i % every(120) == every(20):
            room.mute_all(host, False)
            room.pin(host, None)
            room.lock(host, False)
        if i and i % every(300) == 0 and "x" in room.roles:
            room.leave("x")
        if i % every(300) >= every(15) and "x" not in room.roles and not room.locked:
            room.join("x", "X")
            joined_at["x"] = (i, room.mixer._audio_index)
        # --- media --------------------------------------------------------------------
        present = {pid: (pid.split(".")[0]) for pid in room.roles if pid != "x"}
        for pid, base in present.items():
            if stalled.get(base, -1) <= i:
                for p in senders[base].video_at(i):
                    room.push_video(pid, p, t)
        while k * 0.02 < t + 1 / FPS - 1e-9:
            for pid, base in present.items():
                room.push_audio(pid, senders[base].audio_at(k), k * 0.02)
            k += 1
        if "x" in room.roles:
            for _ in range(attacker_rate):
                attacker.act(room, t, choices)
        # --- the tick -------------------------------------------------------------------
        before_audio, before_video = room.mixer._audio_index, room.mixer._video_index
        out = room.tick(t)
        due_audio = int(t / 0.02 + 1e-9) - before_audio
        expected_audio += due_audio
        expected_video += 1
        produced_audio += len(out.audio_frames)
        produced_video += len(out.video_frames)
        if len(out.audio_frames) != due_audio or len(out.video_frames) != 1:
            frame_errors.append((i, len(out.audio_frames), len(out.video_frames)))
        for pid in room.roles:  # one stream per stay in the room
            stay = pid if pid == host else f"{pid}@{joined_at[pid][0]}"
            if stay not in streams:
                streams[stay] = Stream(160 if room.member(pid).audio_codec in ("pcmu", "pcma") else 960)
            streams[stay].add(out.audio_for(pid), out.video_for(pid))
        h = streams[host]
        if h.audio is not None and h.video is not None:
            offsets.add((h.audio + 960) / 48000 - h.video / FPS)
        if i % (60 * FPS) == 0 or i == n_frames - 1:
            sizes = room_collections(room)
            for name, n in sizes.items():
                sizes_max[name] = max(sizes_max.get(name, 0), n)
            rss.append((round(t / 60, 2), round(rss_mb(), 1)))
            samples.append({"minute": round(t / 60, 2), **sizes})
            log(f"{t / 60:5.1f} min of media  {time.perf_counter() - start:6.1f} s  RSS {rss[-1][1]} MB  "
                f"people {len(room.roles)}  attacker refused {attacker.refused}")
    room.close()
    warm = [r for r in rss if r[0] >= min(3.0, minutes / 3)]
    growth = (warm[-1][1] - warm[0][1]) / max(1e-9, warm[-1][0] - warm[0][0]) * 10 if len(warm) > 1 else 0.0
    return {
        "minutes": minutes, "ticks": n_frames, "wall_s": round(time.perf_counter() - start, 1),
        "expected_audio": expected_audio, "produced_audio": produced_audio,
        "expected_video": expected_video, "produced_video": produced_video, "frame_errors": frame_errors[:10],
        "gaps": {stay: s.gaps for stay, s in streams.items()},
        "host_audio_packets": streams[host].audio_packets, "host_video_packets": streams[host].video_packets,
        "av_offset": [round(offsets.low, 4), round(offsets.high, 4)],
        "av_offset_first_minute": offsets.first_mean(), "av_offset_last_minute": offsets.last_mean(),
        "rss_mb": rss, "rss_growth_mb_per_10_min": round(growth, 2), "collections_max": sizes_max,
        "collections": samples, "attacker_refused": attacker.refused,
    }


class Stream:
    """What one receiver got during one stay: packet counts and the places where two
    consecutive packets are not one frame apart (holes or duplicates)."""

    def __init__(self, audio_step: int):
        self.audio_step = audio_step  # pts per 20 ms: 960 (Opus, 48 kHz) or 160 (G.711, 8 kHz)
        self.audio = self.video = None  # last pts
        self.audio_packets = self.video_packets = self.gaps = 0

    def add(self, audio, video) -> None:
        for p in audio:
            self.gaps += self.audio is not None and p.pts - self.audio != self.audio_step
            self.audio, self.audio_packets = p.pts, self.audio_packets + 1
        for p in video:
            self.gaps += self.video is not None and p.pts - self.video != 1
            self.video, self.video_packets = p.pts, self.video_packets + 1


class Offsets:
    """Range of the A/V offset, and its mean over the first and the last `first` ticks."""

    def __init__(self, first: int):
        self.low, self.high = float("inf"), float("-inf")
        self.first, self.count, self.first_sum = first, 0, 0.0
        self.last: collections.deque = collections.deque(maxlen=first)

    def add(self, x: float) -> None:
        self.low, self.high = min(self.low, x), max(self.high, x)
        if self.count < self.first:
            self.first_sum += x
        self.count += 1
        self.last.append(x)

    def first_mean(self) -> float:
        return round(self.first_sum / max(1, min(self.count, self.first)), 5)

    def last_mean(self) -> float:
        return round(sum(self.last) / max(1, len(self.last)), 5)


def check(r: dict, *, people: int = 9) -> None:
    """The invariants of the soak (AssertionError names what broke)."""
    assert not r["frame_errors"], f"ticks that did not produce what was due: {r['frame_errors']}"
    assert r["produced_audio"] == r["expected_audio"] and r["produced_video"] == r["expected_video"]
    assert r["host_audio_packets"] == r["expected_audio"], "the host missed audio packets"
    assert r["host_video_packets"] == r["expected_video"], "the host missed video frames"
    assert not any(r["gaps"].values()), f"receivers with gaps or duplicates: {r['gaps']}"
    lo, hi = r["av_offset"]
    assert hi - lo <= 1 / FPS + 0.02 + 1e-6, f"A/V offset moved by {hi - lo:.4f} s"
    assert abs(r["av_offset_first_minute"] - r["av_offset_last_minute"]) < 0.005, "A/V offset drifts"
    bounded = {name: n for name, n in r["collections_max"].items() if name not in ("room.events", "max video queue",
                                                                                      "max audio frames held")}
    too_big = {name: n for name, n in bounded.items() if n > 2 * people + 4}
    assert not too_big, f"per-room collections beyond the room's size: {too_big}"
    assert r["collections_max"]["room.events"] <= 200  # the history's bound
    from vmedia.inputs.audio import MAX_AHEAD_FRAMES
    from vmedia.inputs.video import MAX_QUEUED

    assert r["collections_max"]["max video queue"] <= MAX_QUEUED
    assert r["collections_max"]["max audio frames held"] <= MAX_AHEAD_FRAMES + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=21.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--attacker-rate", type=int, default=4, help="garbage pushes per video frame")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    r = soak(args.minutes, seed=args.seed, attacker_rate=args.attacker_rate)
    summary = {k: v for k, v in r.items() if k != "collections"}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    check(r)
    print("soak: all invariants hold")


if __name__ == "__main__":
    main()
