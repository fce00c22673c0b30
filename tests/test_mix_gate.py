"""The mix gate, on samples against the float reference mix: a talk spurt is mixed from its
first 2.5 ms block (not from when it is classified as speech), and sound that is not speech
(a test tone, music on hold, a stethoscope) is mixed while a slot is free, but never takes
the floor."""

import numpy as np
import pytest

from conversations import heart_sounds
from vmedia.audio import AudioMixer
from vmedia.media import synth
from vmedia.media.time import FRAME_SIZE, SAMPLE_RATE

BLOCK = 120  # the mixer's gate block and onset ramp: 2.5 ms


def mix(tracks, max_mixed=3):
    m = AudioMixer(max_mixed)
    frames = {p: synth.frames_of(x) for p, x in tracks.items()}
    for p in frames:
        m.add(p)
    return m, [m.process({p: f[k] for p, f in frames.items()}) for k in range(len(next(iter(frames.values()))))]


def delayed(x, d):
    return np.concatenate([np.zeros(d, x.dtype), x[: len(x) - d]])


def max_step(x):
    return np.abs(np.diff(x)).max()


@pytest.mark.parametrize("offset", [0, 250, 900])  # where in its 20 ms frame the spurt starts
@pytest.mark.parametrize("floor_db", [None, -70.0])  # digital silence before it, or room noise
def test_a_talk_spurt_is_mixed_from_its_onset(offset, floor_db):
    seconds = 3.0
    n = int(seconds * SAMPLE_RATE)
    a = synth.talk([(0.1, seconds)], seconds, f0=120, level_db=-30, seed=1)
    speech = synth.speech(seconds, 200, -30, seed=7)
    start = int(np.argmax(np.abs(speech[: SAMPLE_RATE // 2])))  # a hard onset, on a pitch pulse
    onset = 75 * FRAME_SIZE + offset
    b = np.zeros(n, np.float32)
    b[onset:] = speech[start : start + n - onset]
    listener = np.zeros(n, np.float32)
    if floor_db is not None:
        for k, x in enumerate((a, b, listener)):
            x += synth.noise(seconds, floor_db, seed=k, pink=False)
    m, out = mix({"A": a, "B": b, "listener": listener})
    heard = np.concatenate([o.heard_by("listener") for o in out])

    # The reference: A, plus B from the block holding its onset, ramped in over the block
    # before it (over the onset block itself when that opens its frame).
    gain = np.zeros(n, np.float32)
    block = onset - onset % BLOCK
    ramp = max(75 * FRAME_SIZE, block - BLOCK)
    gain[ramp : ramp + BLOCK] = np.arange(1, BLOCK + 1) / BLOCK
    gain[ramp + BLOCK :] = 1
    want = delayed(a.astype(np.float64) + b * gain, m.latency)
    i0 = SAMPLE_RATE // 2  # A's own onset has settled
    np.testing.assert_allclose(heard[i0:], want[i0:], atol=2e-6)
    # So the spurt's first 20 ms are heard (all of it unless it starts a frame), and without a click.
    first = slice(onset + m.latency, onset + m.latency + FRAME_SIZE)
    own = heard[first] - delayed(a, m.latency)[first]
    kept = np.sum(own.astype(np.float64) ** 2) / np.sum(delayed(b, m.latency)[first].astype(np.float64) ** 2)
    assert kept > (0.5 if offset == 0 else 0.999)
    around = slice(onset - FRAME_SIZE, onset + 2 * FRAME_SIZE)
    assert max_step(heard[around]) <= 1.5 * max_step(delayed(a + b, m.latency)[around])


def reference(tracks, mixed, k, d):
    """What the shared mix of frame k must be: the float sum of the mixed tracks, delayed."""
    total = sum(tracks[p][(k - 1) * FRAME_SIZE : (k + 1) * FRAME_SIZE].astype(np.float64) for p in mixed)
    return delayed(total, d)[FRAME_SIZE:]


def non_speech(seconds):
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return {
        "tone": (0.07 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),  # a -26 dBFS test tone
        "music": synth.tune(seconds, -30),  # music on hold
        "stethoscope": heart_sounds(seconds, bpm=72, level_db=-28),
    }


def test_a_tone_music_and_a_stethoscope_are_mixed_in_free_slots_but_never_take_the_floor():
    seconds = 8.0
    tracks = {"talker": synth.talk([(0.3, 3.0), (5.0, seconds)], seconds, f0=120, level_db=-26, seed=1),
              **non_speech(seconds), "listener": np.zeros(int(seconds * SAMPLE_RATE), np.float32)}
    m, out = mix(tracks, max_mixed=4)
    sounds = {"tone", "music", "stethoscope"}
    assert all(sounds <= set(o.minus) for o in out[50:])  # heard from the first second on
    assert {who for o in out for kind, who in o.events if kind == "speaker_changed"} == {"talker"}
    assert all(o.dominant in (None, "talker") for o in out)
    for p in sounds:
        assert np.mean([o.voice[p] for o in out]) < 0.05, p
    checked = 0
    for k in range(52, len(out)):
        if set(out[k].minus) == set(out[k - 1].minus) == set(out[k - 2].minus):
            np.testing.assert_allclose(out[k].heard_by("listener"), reference(tracks, out[k].minus, k, m.latency), atol=2e-6)
            checked += 1
    assert checked > 300


def test_speech_keeps_its_slot_when_they_are_full():
    seconds = 8.0
    sounds = non_speech(seconds)
    del sounds["tone"]
    tracks = {"talker": synth.talk([(0.3, 5.0)], seconds, f0=120, level_db=-26, seed=1), **sounds,
              "listener": np.zeros(int(seconds * SAMPLE_RATE), np.float32)}
    _, out = mix(tracks, max_mixed=2)
    for k in range(50, 250):  # while the talker talks: always mixed, one sound beside them
        assert "talker" in out[k].minus
        if set(out[k].minus) == set(out[k - 1].minus):  # not mid hand-over
            assert len(out[k].minus) == 2
    # Once the talker has been quiet for the gate's hold (1 s), both sounds have the slots.
    assert all(set(o.minus) == set(sounds) for o in out[320:])
