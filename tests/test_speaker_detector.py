"""The dominant-speaker detector on scripted conversations with known ground truth."""

import numpy as np
import pytest

from conversations import meeting, run_detector, score
from vmedia.media import synth
from vmedia.audio import AudioMixer

SECONDS = 12.0


def run(tracks):
    m = AudioMixer()
    frames = {p: synth.frames_of(x) for p, x in tracks.items()}
    for p in frames:
        m.add(p)
    out = [m.process({p: f[k] for p, f in frames.items()}) for k in range(len(next(iter(frames.values()))))]
    events = [(k, kind, who) for k, o in enumerate(out) for kind, who in o.events]
    return out, events


def changes(events):
    return [(k, who) for k, kind, who in events if kind == "speaker_changed"]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_meeting_with_distractions_is_followed(seed):
    conv = meeting("synth", seed)
    s = score(conv, run_detector(conv))
    assert s.accuracy >= 0.8
    assert s.false_switches_per_min <= 1.0
    assert s.mean_latency <= 1.5 and s.max_latency <= 3.0


def test_backchannels_do_not_take_the_floor():
    a = synth.talk([(0.2, SECONDS)], SECONDS, f0=120, seed=1)
    b = synth.talk([(t, t + 0.4) for t in np.arange(2.0, SECONDS - 1, 1.7)], SECONDS, f0=200, seed=2)
    _, events = run({"A": a, "B": b})
    assert [who for _, who in changes(events)] == ["A"]
    assert ("started_speaking", "B") in {(kind, who) for _, kind, who in events}  # heard, not promoted


def test_coughs_keyboard_and_a_door_slam_are_ignored():
    a = synth.talk([(0.2, SECONDS)], SECONDS, f0=120, seed=1)
    b = np.zeros_like(a)
    for t in (3.0, 6.0, 9.0):  # coughs: loud short noise bursts
        burst = synth.noise(0.25, -12, seed=int(t), pink=False) * np.exp(-np.linspace(0, 5, 12000)).astype(np.float32)
        b[int(t * 48000) : int(t * 48000) + len(burst)] += burst
    slam = synth.noise(0.3, -3, seed=9) * np.exp(-np.linspace(0, 8, 14400)).astype(np.float32)
    b[int(7.5 * 48000) : int(7.5 * 48000) + len(slam)] += slam
    c = np.zeros_like(a)
    for t in np.arange(1.0, SECONDS, 1 / 8):  # typing, 8 keys a second
        click = synth.noise(0.006, -10, seed=int(t * 100), pink=False)
        c[int(t * 48000) : int(t * 48000) + len(click)] += click
    _, events = run({"A": a, "B": b, "C": c})
    assert [who for _, who in changes(events)] == ["A"]


@pytest.mark.parametrize("background", ["fan", "music"])
@pytest.mark.parametrize("onset", [0.0, 4.0])
def test_steady_noise_and_music_never_take_the_floor(background, onset):
    n = int((SECONDS - onset) * 48000)
    x = np.zeros(int(SECONDS * 48000), np.float32)
    x[len(x) - n :] = synth.noise(SECONDS - onset, -35, seed=4)[:n] if background == "fan" else synth.tune(SECONDS - onset, -30)[:n]
    talker = synth.talk([(0.2, 3.0), (3.6, 7.0), (7.5, SECONDS)], SECONDS, f0=120, level_db=-24, seed=1)
    out, events = run({"bg": x, "talker": talker})
    voice = np.array([o.voice["bg"] for o in out])
    settled = int((onset + 2.0) * 50)
    assert voice[settled:].mean() < 0.05  # once it has been heard for 2 s it is not voice
    assert [who for _, who in changes(events)] == ["talker"]


def test_a_quiet_talker_gets_the_floor():
    loud = synth.talk([(0.2, 5.0)], SECONDS, f0=120, level_db=-16, seed=1)
    quiet = synth.talk([(5.5, SECONDS)], SECONDS, f0=220, level_db=-42, seed=2)
    quiet += synth.noise(SECONDS, -60, seed=5)  # their own faint room noise
    _, events = run({"loud": loud, "quiet": quiet})
    ch = changes(events)
    assert [who for _, who in ch] == ["loud", "quiet"]
    assert (ch[1][0] - 5.5 * 50) / 50 < 1.5  # seconds to switch


def test_events_come_in_order():
    a = synth.talk([(1.0, 4.0)], 6.0, seed=3)
    _, events = run({"A": a})
    kinds = [kind for _, kind, who in events]
    assert kinds == ["started_speaking", "speaker_changed", "stopped_speaking"]
    k_start, k_stop = events[0][0], events[-1][0]
    assert 1.0 <= k_start / 50 <= 1.5 and 4.0 <= k_stop / 50 <= 4.8


def test_detector_parameters_are_checked():
    from vmedia import InvalidInputError, _core

    p = _core.DetectorParams()
    p.short_frames = 200  # longer than the long window
    with pytest.raises(InvalidInputError, match="short_frames <= long_frames"):
        AudioMixer(detector=p)
