"""Fuzz target for a room's push path: bytes in, a short meeting with an attacker out.

The input drives an attacker (tests/hostile_media.py) in a small room with one healthy
sender and one viewer: which garbage it pushes (broken, hostile or huge H.264, pictures the
room cannot use, absurd or non-finite samples, undecodable and empty payloads, mismatched
audio frames), at which impossible timestamps, how many per frame, and whether its voice
is mixed. The room ticks on its own fixed schedule. Invariants:

- only vmedia errors come out of a push (the attacker's refusals), never from a tick;
- every tick produces its audio frames and video frames;
- every per-participant queue stays within its bound;
- the healthy sender's tile is byte-identical to a run without the attacker, and so is
  everything the healthy participants hear while the attacker's voice is at gain 0; at
  gain 1 every mix stays finite and within the limiter's threshold.

A broken promise raises AssertionError: atheris reports it as a crash with the input, and
tests/test_fuzz_smoke.py fails. See docs/reliability.md for how to run it.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/

from hostile_media import Attacker, Chooser, small_idr  # noqa: E402
from vmedia import Mixer, OutputProfile  # noqa: E402
from vmedia.codecs.audio import G711Encoder  # noqa: E402
from vmedia.inputs.audio import MAX_AHEAD_FRAMES  # noqa: E402
from vmedia.inputs.video import MAX_QUEUED, MAX_QUEUED_BYTES  # noqa: E402

FPS = 10
FRAMES = 5  # output video frames per input (0.4 s of media)
PROFILE = OutputProfile("fuzz", 96, 54, fps=FPS, bitrate=50_000, keyframe_interval=10.0)
THRESHOLD = 0.891
_attacker = Attacker("x")  # its hostile streams are made once


@lru_cache(maxsize=1)
def healthy_media() -> tuple[list[list[bytes]], list[bytes]]:
    """The healthy sender's H.264 (per output frame) and G.711 (per 20 ms), made once. The
    healthy side speaks and hears G.711 (cheap to encode); the attacker's payloads go to an
    Opus decoder."""
    import av
    from fractions import Fraction

    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 32, 32, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, FPS), Fraction(FPS)
    ctx.thread_count = 1
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "repeat-headers=1"}
    ctx.open()
    video = []
    for i in range(FRAMES):
        frame = av.VideoFrame(32, 32, "yuv420p")
        for plane, value in zip(frame.planes, (170, 60, 200)):
            np.frombuffer(plane, np.uint8)[:] = value
        frame.pts = i
        video.append([bytes(p) for p in ctx.encode(frame)])
    enc = G711Encoder("pcmu")
    n = np.arange(FRAMES * 5 * 960 + 960)
    voice = (0.3 * np.sin(2 * np.pi * 523.25 * n / 48000)).astype(np.float32)
    audio = [bytes(enc.encode(voice[k * 960 : (k + 1) * 960], None, k)[0]) for k in range(FRAMES * 5 + 1)]
    return video, audio


def meeting(c: Chooser | None):
    """Run the meeting; with c the attacker acts as the bytes say. Returns what the
    invariants compare: per frame the healthy tile, and what h and v heard."""
    video, audio = healthy_media()
    m = Mixer([PROFILE], labels=False, layout="gallery")
    for pid in ("h", "v", "x"):
        m.add_participant(pid, audio_codec="opus" if pid == "x" else "pcmu")
    m.set_forced_audio("h", True)
    loud = c is not None and c.int(0, 3) == 0
    m.set_gain("x", 1.0 if loud else 0.0)
    tiles, heard = [], {"h": [], "v": [], "x": []}
    k = 0
    for i in range(FRAMES):
        t = i / FPS
        for p in video[i]:
            m.push_video("h", p, t)
        while k * 0.02 < t + 1 / FPS - 1e-9:
            m.push_audio("h", audio[k], k * 0.02)
            k += 1
        if c is not None:
            for _ in range(c.int(0, 8)):
                _attacker.act(m, t, c)
            check_bounds(m)
        out = m.tick(t)
        assert len(out.video_frames) == 1 and len(out.mixes) == (5 if i else 0)
        rect = next(s.rect for s in m.layout().slots if s.participant == "h")
        pic = out.pictures[out.broadcast["fuzz"]]
        tiles.append(pic.y[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w].copy())
        for pid in heard:
            heard[pid] += out.pcm_for(pid)
    m.close()
    return tiles, {pid: np.concatenate(x) if x else np.zeros(0, np.float32) for pid, x in heard.items()}, loud


def check_bounds(m: Mixer) -> None:
    for pid in ("h", "v", "x"):
        video, audio = m._video_in[pid], m._audio_in[pid]
        assert video.queued <= MAX_QUEUED and video._queued_bytes <= MAX_QUEUED_BYTES, (pid, video.queued)
        assert len(audio._frames) <= MAX_AHEAD_FRAMES + 1, (pid, len(audio._frames))


@lru_cache(maxsize=1)
def reference():
    tiles, heard, _ = meeting(None)
    return tiles, heard


def room_push(data: bytes) -> None:
    ref_tiles, ref_heard = reference()
    tiles, heard, loud = meeting(Chooser(data))
    for i, (a, b) in enumerate(zip(ref_tiles, tiles)):
        assert np.array_equal(a, b), f"the healthy tile changed in frame {i}"
    for pid, x in heard.items():
        assert len(x) == len(ref_heard[pid]), (pid, len(x))
        assert np.isfinite(x).all() and np.abs(x).max(initial=0.0) <= THRESHOLD, pid
    if not loud:
        for pid in ("h", "v"):
            assert np.array_equal(heard[pid], ref_heard[pid]), f"{pid} heard the attacker"


TARGETS = {"room_push": room_push}
