"""Scripted test conversations with known ground truth, for the speaker detector.

Each participant's track is built from talk turns plus the distractions a real room has:
backchannels ("mm", "yes"), coughs, keyboard clicks, a door slam, a fan and music.
Speech is synthetic (vmedia.media.synth) by default, or espeak-ng when `voice="espeak"`.
`transient_meeting` is the hard case for transients: a listener typing heavily all
meeting, coughing fits and door slams, many of them in the pauses between turns.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vmedia.media import synth
from vmedia.media.time import FRAME_SIZE, SAMPLE_RATE

WORDS = (
    "the patient reports mild pain in the left knee since last week and sleeps badly at night "
    "we will adjust the dose and review the blood results together at the next appointment "
    "please remember to bring the list of your current medication and any questions you have"
).split()


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak(text: str, pitch: int, speed: int = 165) -> np.ndarray:
    """espeak-ng speech at 48 kHz float32, unit peak."""
    import av

    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "s.wav"
        subprocess.run(["espeak-ng", "-p", str(pitch), "-s", str(speed), "-w", str(wav), text], check=True)
        with av.open(str(wav)) as f:
            res = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            chunks = [r.to_ndarray().reshape(-1) for fr in f.decode(audio=0) for r in res.resample(fr)]
    x = np.concatenate(chunks)
    return x / (np.abs(x).max() + 1e-9)


@dataclass
class Conversation:
    tracks: dict[str, np.ndarray]
    turns: list[tuple[float, float, str]]  # (start, end, owner)
    distractions: list[tuple[float, str, str]] = field(default_factory=list)  # (time, who, what)

    @property
    def duration(self) -> float:
        return len(next(iter(self.tracks.values()))) / SAMPLE_RATE

    def frames(self) -> dict[str, np.ndarray]:
        return {p: synth.frames_of(x) for p, x in self.tracks.items()}

    def truth(self) -> list[str | None]:
        """Per 20 ms frame: who holds the floor (the latest turn that has started)."""
        n = int(self.duration * SAMPLE_RATE) // FRAME_SIZE
        owner: list[str | None] = [None] * n
        for start, _, who in sorted(self.turns):
            for k in range(int(start * 50), n):
                owner[k] = who
        return owner


def _place(track: np.ndarray, t: float, x: np.ndarray) -> None:
    i = int(t * SAMPLE_RATE)
    j = min(len(track), i + len(x))
    if j > i:
        track[i:j] += x[: j - i]


def _at(level_db: float, x: np.ndarray) -> np.ndarray:
    """Scale to level_db dBFS RMS over the loud part."""
    loud = x[np.abs(x) > 0.05 * np.abs(x).max()] if np.any(x) else x
    rms = np.sqrt(np.mean(loud.astype(np.float64) ** 2)) + 1e-12
    return (x / rms * 10 ** (level_db / 20)).astype(np.float32)


def meeting(voice: str = "synth", seed: int = 0, duration: float = 60.0) -> Conversation:
    """Four people: A and C talk a lot, B has a fan behind them, D is a quiet talker with
    music in the background. Turns overlap a little; listeners backchannel and cough, C
    types while others talk, and a door slams once."""
    rng = np.random.default_rng(seed)
    people = {"A": (120, 30, -20.0), "B": (95, 45, -22.0), "C": (160, 60, -18.0), "D": (210, 80, -34.0)}
    tracks = {p: np.zeros(int(duration * SAMPLE_RATE), np.float32) for p in people}
    plan = [("A", 8), ("B", 7), ("A", 7), ("C", 8), ("D", 8), ("B", 7), ("A", 7), ("C", 8)]
    turns = []
    t = 0.5
    for who, length in plan:
        end = min(duration, t + length)
        if end - t < 1:
            break
        turns.append((t, end, who))
        t = end - rng.uniform(0.0, 0.5)  # next speaker starts a little before the end

    def speech_clip(who: str, seconds: float, k: int) -> np.ndarray:
        f0, pitch, level = people[who]
        if voice == "espeak":
            words = " ".join(rng.choice(WORDS, size=max(3, int(seconds * 2.6))))
            x = espeak(words, pitch)[: int(seconds * SAMPLE_RATE)]
        else:
            x = synth.speech(seconds, f0, 0.0, seed=seed * 1000 + k)
        return _at(level, x)

    for k, (start, end, who) in enumerate(turns):
        _place(tracks[who], start, speech_clip(who, end - start, k))
    distractions = []
    for k, (start, end, who) in enumerate(turns):
        listeners = [p for p in people if p != who]
        for bt in np.arange(start + 1.5, end - 1.0, rng.uniform(2.5, 4.0)):
            lis = rng.choice(listeners)
            kind = rng.choice(["backchannel", "backchannel", "cough"])
            if kind == "backchannel":
                if voice == "espeak":
                    clip = _at(people[lis][2], espeak(str(rng.choice(["yes", "mm hmm", "right", "okay"])), people[lis][1]))
                else:
                    clip = _at(people[lis][2], synth.speech(rng.uniform(0.25, 0.45), people[lis][0], 0.0, seed=int(bt * 100)))
            else:
                clip = _at(-14.0, synth.noise(rng.uniform(0.15, 0.3), 0.0, seed=int(bt * 10), pink=False))
                clip *= np.exp(-np.linspace(0, 5, len(clip))).astype(np.float32)
            _place(tracks[lis], bt, clip)
            distractions.append((float(bt), str(lis), str(kind)))
    # C types on a keyboard during A's turns.
    for start, end, who in turns:
        if who == "A":
            for ct in np.arange(start + 0.5, end - 0.5, 1 / 7):
                click = synth.noise(0.006, -12.0, seed=int(ct * 1000), pink=False) * np.exp(-np.linspace(0, 6, 288)).astype(np.float32)
                _place(tracks["C"], ct + rng.uniform(0, 0.05), click)
            distractions.append((start + 0.5, "C", "keyboard"))
    # A door slams behind B; a fan runs behind B; music plays behind D.
    slam = synth.noise(0.25, -6.0, seed=7, pink=True) * np.exp(-np.linspace(0, 8, int(0.25 * SAMPLE_RATE))).astype(np.float32)
    _place(tracks["B"], turns[0][0] + 3.0, slam)
    distractions.append((turns[0][0] + 3.0, "B", "door slam"))
    tracks["B"] += synth.noise(duration, -45.0, seed=3)
    tracks["D"] += synth.tune(duration, -46.0)
    return Conversation(tracks, turns, distractions)


def keyboard_click(rng: np.random.Generator, level_db: float = -10.0) -> np.ndarray:
    """One key: a 4-8 ms broadband tick with a keycap resonance, at level_db dBFS RMS."""
    n = int(rng.uniform(0.004, 0.008) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    x = rng.standard_normal(n) * np.exp(-np.linspace(0, 6, n))
    x += 2 * np.sin(2 * np.pi * rng.uniform(2000, 4000) * t) * np.exp(-np.linspace(0, 8, n))
    return _at(level_db, x.astype(np.float32))


def typing(track: np.ndarray, start: float, end: float, rng: np.random.Generator, level_db: float = -10.0, rate: float = 7.0) -> None:
    """Heavy typing into `track`: words of 3-8 keys at about `rate` keys a second, each a
    key-down and a softer key-up click, with short pauses between words."""
    t = start
    while t < end:
        for _ in range(int(rng.integers(3, 9))):
            if t >= end:
                break
            _place(track, t, keyboard_click(rng, level_db))
            _place(track, t + rng.uniform(0.05, 0.11), keyboard_click(rng, level_db - 4))
            t += rng.exponential(1 / rate) + 0.03
        t += rng.uniform(0.15, 0.6)


def cough(rng: np.random.Generator, level_db: float = -12.0) -> np.ndarray:
    """A 150-300 ms burst of noise with a fast decay."""
    n = int(rng.uniform(0.15, 0.3) * SAMPLE_RATE)
    return _at(level_db, (rng.standard_normal(n) * np.exp(-np.linspace(0, 5, n))).astype(np.float32))


def door_slam(rng: np.random.Generator, level_db: float = -6.0) -> np.ndarray:
    """A loud 300 ms pink-noise bang."""
    n = int(0.3 * SAMPLE_RATE)
    x = synth.noise(0.3, 0.0, seed=int(rng.integers(1 << 16)), pink=True)[:n] * np.exp(-np.linspace(0, 8, n))
    return _at(level_db, x.astype(np.float32))


def heart_sounds(duration: float, bpm: float = 72.0, level_db: float = -26.0, seed: int = 0) -> np.ndarray:
    """A stethoscope feed: per beat a 'lub' (45-140 Hz, 110 ms) and a 'dub' (60-180 Hz,
    80 ms) 300 ms later, silence between."""
    rng = np.random.default_rng(seed)
    n = int(duration * SAMPLE_RATE)
    x = np.zeros(n)
    for beat in np.arange(0.1, duration, 60.0 / bpm):
        for offset, length, freqs in ((0.0, 0.11, (45, 80, 140)), (0.3, 0.08, (60, 110, 180))):
            m = int(length * SAMPLE_RATE)
            t = np.arange(m) / SAMPLE_RATE
            burst = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs) * np.sin(np.pi * t / length) ** 2
            _place(x, beat + offset, burst)
    return _at(level_db, x.astype(np.float32))


def transient_meeting(seed: int = 0, duration: float = 60.0) -> Conversation:
    """Three talkers taking turns with pauses of 0.3-1.5 s between them; C only types, heavily
    (clicks at -10 dBFS) all meeting; every 3-5 s a listener coughs (up to three coughs in a
    row) and three doors slam. Everyone has a faint room noise."""
    rng = np.random.default_rng(seed)
    people = {"A": (120, -20.0), "B": (95, -22.0), "D": (210, -26.0)}
    tracks = {p: np.zeros(int(duration * SAMPLE_RATE), np.float32) for p in (*people, "C")}
    turns = []
    t = 0.5
    for k, who in enumerate(["A", "B", "A", "D", "B", "A", "D", "B"]):
        end = min(duration, t + rng.uniform(4, 8))
        if end - t < 1:
            break
        turns.append((t, end, who))
        f0, level = people[who]
        _place(tracks[who], t, _at(level, synth.speech(end - t, f0, 0.0, seed=seed * 100 + k)))
        t = end + rng.uniform(0.3, 1.5)
    typing(tracks["C"], 0.2, duration, rng)
    distractions = [(0.2, "C", "keyboard")]
    for ct in np.arange(2.0, duration - 1, rng.uniform(3, 5)):
        who = str(rng.choice(["B", "D", "C"]))
        for j in range(int(rng.integers(1, 4))):
            _place(tracks[who], ct + j * rng.uniform(0.35, 0.6), cough(rng))
        distractions.append((float(ct), who, "cough"))
    for st in rng.uniform(1, duration - 1, 3):
        who = str(rng.choice(["B", "D"]))
        _place(tracks[who], float(st), door_slam(rng))
        distractions.append((float(st), who, "door slam"))
    for k, p in enumerate(tracks):
        tracks[p] += synth.noise(duration, -60.0, seed=seed * 10 + k, pink=False)
    return Conversation(tracks, turns, distractions)


@dataclass
class DetectorScore:
    accuracy: float  # fraction of frames (after the first turn settles) with the right dominant
    false_switches_per_min: float
    mean_latency: float  # seconds from a turn's start to the switch to its owner
    max_latency: float
    switches: int


def score(conv: Conversation, changes: list[tuple[int, str]]) -> DetectorScore:
    """Scores speaker_changed events (frame index, participant) against the turns."""
    truth = conv.truth()
    n = len(truth)
    dominant: list[str | None] = [None] * n
    current = None
    events = dict(changes)
    for k in range(n):
        current = events.get(k, current)
        dominant[k] = current
    first = int((conv.turns[0][0] + 1.0) * 50)
    accuracy = float(np.mean([dominant[k] == truth[k] for k in range(first, n)]))
    owners_at = lambda k: {w for s, e, w in conv.turns if s * 50 - 5 <= k <= e * 50 + 25}  # noqa: E731
    false = sum(1 for k, who in changes if who not in owners_at(k))
    latencies = []
    for start, _, who in conv.turns[1:]:
        k0 = int(start * 50)
        hit = next((k for k, w in changes if k >= k0 and w == who), None)
        if hit is not None:
            latencies.append((hit - k0) / 50)
    return DetectorScore(
        accuracy,
        false / (conv.duration / 60),
        float(np.mean(latencies)) if latencies else float("inf"),
        float(np.max(latencies)) if latencies else float("inf"),
        len(changes),
    )


def run_detector(conv: Conversation, mixer=None) -> list[tuple[int, str]]:
    """Feeds the conversation through an AudioMixer; returns its speaker changes."""
    from vmedia.audio import AudioMixer

    mixer = mixer or AudioMixer()
    frames = conv.frames()
    for p in frames:
        mixer.add(p)
    changes = []
    for k in range(len(next(iter(frames.values())))):
        out = mixer.process({p: f[k] for p, f in frames.items()})
        changes += [(k, who) for kind, who in out.events if kind == "speaker_changed"]
    return changes
