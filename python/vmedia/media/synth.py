"""Synthetic participants for demos, tests and benchmarks: speech-like audio with known
talk spurts, and moving pictures with a name. All vectorised numpy; made once per clip."""

from __future__ import annotations

import numpy as np

from vmedia.media.time import SAMPLE_RATE

FORMANTS = ((700, 130), (1220, 70), (2600, 160))  # an open vowel: (Hz, bandwidth Hz)


def samples_in(duration: float, sr: int = SAMPLE_RATE) -> int:
    """The number of samples in `duration` seconds, rounded (int() would turn 15 * 48000
    computed as 719999.99 into one sample short)."""
    return max(0, round(duration * sr))


def _resonator_ir(length: int, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Impulse response of a vocal tract: a sum of decaying formant sinusoids."""
    t = np.arange(length) / sr
    ir = np.zeros(length)
    for f, bw in FORMANTS:
        freq = f * rng.uniform(0.85, 1.2)
        ir += np.exp(-np.pi * bw * t) * np.sin(2 * np.pi * freq * t)
    return ir / np.abs(ir).sum()


def voiced(duration: float, f0: float = 120.0, seed: int = 0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A voiced, formant-filtered buzz with natural pitch wobble, unit RMS."""
    rng = np.random.default_rng(seed)
    n = samples_in(duration, sr)
    t = np.arange(n) / sr
    pitch = f0 * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) + 0.02 * rng.standard_normal())
    phase = np.cumsum(pitch) / sr
    pulses = np.diff(np.floor(phase), prepend=0.0)  # one impulse per pitch period
    x = np.convolve(pulses, _resonator_ir(int(0.03 * sr), rng))[:n]
    x += 0.02 * rng.standard_normal(n) * x.std()
    return x / (x.std() + 1e-12)


def syllable_envelope(duration: float, seed: int = 0, rate: float = 4.5, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Talk-spurt loudness: syllables at about `rate` per second with short gaps."""
    rng = np.random.default_rng(seed)
    n = samples_in(duration, sr)
    env = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(sr / rate * rng.uniform(0.6, 1.2))
        gap = int(sr * rng.uniform(0.03, 0.09))
        seg = np.sin(np.linspace(0, np.pi, max(2, length))) ** 0.7 * rng.uniform(0.6, 1.0)
        env[pos : pos + length] = seg[: max(0, min(length, n - pos))]
        pos += length + gap
    return env


def speech(duration: float, f0: float = 120.0, level_db: float = -20.0, seed: int = 0) -> np.ndarray:
    """Speech-like float32 audio at about `level_db` dBFS RMS while talking."""
    x = voiced(duration, f0, seed) * syllable_envelope(duration, seed + 1)
    return (x * 10 ** (level_db / 20) * 1.6).astype(np.float32)


def talk(spurts: list[tuple[float, float]], total: float, *, f0: float = 120.0, level_db: float = -20.0, seed: int = 0) -> np.ndarray:
    """Silence with speech in the given (start, end) seconds: a scripted participant.
    Always exactly samples_in(total) long; spurts are clipped to it."""
    out = np.zeros(samples_in(total), np.float32)
    for k, (a, b) in enumerate(spurts):
        i, j = samples_in(max(0.0, a)), min(len(out), samples_in(b))
        if j > i:
            clip = speech((j - i) / SAMPLE_RATE, f0, level_db, seed + 17 * k)
            out[i : i + len(clip)] += clip[: j - i]  # the clip may round one sample short
    return out


def tune(duration: float, level_db: float = -18.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A gentle test-room tune: an arpeggio of soft sine notes."""
    notes = [261.63, 329.63, 392.0, 523.25, 392.0, 329.63]
    n = samples_in(duration, sr)
    t = np.arange(n) / sr
    note_len = 0.25
    idx = (t // note_len).astype(int) % len(notes)
    freq = np.asarray(notes)[idx]
    local = (t % note_len) / note_len
    env = np.minimum(1, local * 20) * np.exp(-3 * local)
    x = np.sin(2 * np.pi * np.cumsum(freq) / sr) * env
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12) * 10 ** (level_db / 20)).astype(np.float32)


def noise(duration: float, level_db: float = -40.0, seed: int = 0, pink: bool = True) -> np.ndarray:
    """Steady background noise (pink by default), at level_db dBFS RMS."""
    rng = np.random.default_rng(seed)
    n = samples_in(duration)
    white = rng.standard_normal(n)
    if pink:
        spec = np.fft.rfft(white)
        spec[1:] /= np.sqrt(np.arange(1, len(spec)))
        white = np.fft.irfft(spec, n)
    return (white / white.std() * 10 ** (level_db / 20)).astype(np.float32)


def frames_of(signal: np.ndarray, frame: int = 960) -> np.ndarray:
    """Cut a signal into whole 20 ms frames (n_frames x 960)."""
    n = len(signal) // frame
    return np.ascontiguousarray(signal[: n * frame].reshape(n, frame))
