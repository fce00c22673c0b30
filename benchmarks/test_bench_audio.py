"""Per-20 ms audio work of a room: vmedia (levels + detection + K-mix + mix-minus +
limiters) vs FFmpeg's amix filter graph (one plain mix) on the same frames.

Run: pytest benchmarks/test_bench_audio.py --benchmark-only --benchmark-group-by=group
"""

import itertools

import numpy as np
import pytest

from peers import FfmpegAmix
from vmedia.media import synth
from vmedia.audio import AudioMixer

ROOMS = [9, 30, 100]
FRAMES = 50


def room_audio(n):
    """n participants; five of them talk, the rest send quiet room noise."""
    rows = []
    for i in range(n):
        x = synth.speech(1.0, 90 + 11 * i, -24, seed=i) if i < 5 else synth.noise(1.0, -55, seed=i)
        rows.append(synth.frames_of(x)[:FRAMES])
    return np.stack(rows, axis=1)  # FRAMES x n x 960


@pytest.mark.parametrize("n", ROOMS)
def test_vmedia_audio_room(benchmark, n):
    benchmark.group = f"audio {n} participants"
    audio = room_audio(n)
    names = [f"p{i}" for i in range(n)]
    mixer = AudioMixer()
    for p in names:
        mixer.add(p)
    frames = itertools.cycle([dict(zip(names, block)) for block in audio])
    for _ in range(FRAMES):  # warm up: talkers detected and mixed
        mixer.process(next(frames))
    out = benchmark(lambda: mixer.process(next(frames)))
    assert 1 <= len(out.minus) <= 6 and len(out.levels) == n
    assert np.abs(out.shared).max() <= 0.891 + 1e-6


@pytest.mark.parametrize("n", ROOMS)
def test_ffmpeg_amix(benchmark, n):
    benchmark.group = f"audio {n} participants"
    audio = room_audio(n)
    amix = FfmpegAmix(n)
    blocks = itertools.cycle(list(audio))
    for _ in range(3):
        amix.mix(next(blocks))
    out = benchmark(lambda: amix.mix(next(blocks)))
    assert sum(f.samples for f in out) in (0, 960, 1024, 1920)
