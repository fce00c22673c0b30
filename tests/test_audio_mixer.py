"""The audio core against numpy: levels, mix-minus, the limiter, ramps and gaps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmedia import InvalidInputError, _core
from vmedia.media import synth
from vmedia.audio import AudioMixer
from vmedia.media.time import FRAME_SIZE


def rfc6464(x):
    ms = np.mean(x.astype(np.float64) ** 2)
    return 127 if ms <= 1e-13 else int(np.clip(np.round(-10 * np.log10(ms)), 0, 127))


def test_levels_are_rfc6464_dbov():
    rng = np.random.default_rng(0)
    m = AudioMixer()
    amps = [0.0, 1e-7, 1e-4, 0.01, 0.1, 0.5, 1.0]
    frames = {}
    for i, a in enumerate(amps):
        m.add(f"p{i}")
        frames[f"p{i}"] = (a * rng.standard_normal(FRAME_SIZE)).astype(np.float32)
    square = np.where(np.arange(FRAME_SIZE) % 2, 1.0, -1.0).astype(np.float32)
    m.add("square")
    frames["square"] = square
    r = m.process(frames)
    for name, x in frames.items():
        assert r.levels[name] == rfc6464(x), name
    assert r.levels["square"] == 0 and r.levels["p0"] == 127


def speakers(n, seconds, seed=0, level_db=-30.0):
    """n participants all talking continuously (quiet enough to stay under the limiter)."""
    return {f"p{i}": synth.frames_of(synth.speech(seconds, 90 + 17 * i, level_db, seed + i)) for i in range(n)}


def run(mixer, signals, frames=None):
    names = list(signals)
    total = len(next(iter(signals.values()))) if frames is None else frames
    return [mixer.process({n: signals[n][k] for n in names}) for k in range(total)]


def delayed(x, d):
    return np.concatenate([np.zeros(d, x.dtype), x[: len(x) - d]])


def test_mix_minus_is_total_minus_own_and_nobody_hears_themselves():
    sig = speakers(5, 4.0)
    m = AudioMixer(max_mixed=3)
    for n in sig:
        m.add(n)
    out = run(m, sig)
    d = m.latency
    stable = [k for k in range(2, len(out)) if set(out[k].minus) == set(out[k - 1].minus) == set(out[k - 2].minus)]
    assert len(stable) > 100
    for k in stable[-50:]:
        mixed = set(out[k].minus)
        assert 1 <= len(mixed) <= 3
        # Stitch the previous frame on so the limiter's look-ahead delay can be undone.
        def two(n):
            return np.concatenate([sig[n][k - 1], sig[n][k]])
        total = sum(two(n).astype(np.float64) for n in mixed)
        want_shared = delayed(total, d)[FRAME_SIZE:]
        np.testing.assert_allclose(out[k].shared, want_shared, atol=2e-6)
        for n in sig:
            heard = out[k].heard_by(n)
            own = two(n) if n in mixed else 0.0
            np.testing.assert_allclose(heard, delayed(total - own, d)[FRAME_SIZE:], atol=2e-6)


def test_limiter_holds_ten_people_shouting_under_the_threshold_without_clipping():
    sig = speakers(10, 3.0, level_db=-3.0)
    m = AudioMixer(max_mixed=10)
    for n in sig:
        m.add(n)
    out = run(m, sig)
    shared = np.concatenate([o.shared for o in out])
    raw_peak = np.abs(sum(s.reshape(-1).astype(np.float64) for s in sig.values())).max()
    assert raw_peak > 2.0  # the raw sum would clip hard
    assert np.abs(shared).max() <= 0.891 + 1e-6
    # Limiting, not clipping: peaks touch the threshold one sample at a time, never as
    # the flat tops a clipper makes.
    pinned = (np.abs(shared) > 0.891 - 1e-4).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.r_[0, pinned, 0]))
    assert (edges[1::2] - edges[::2]).max() <= 2
    for o in out:
        for row in o.minus.values():
            assert np.abs(row).max() <= 0.891 + 1e-6


def test_limiter_is_transparent_below_threshold_and_smooth_above():
    lim = _core.Limiter()
    x = (0.5 * np.sin(2 * np.pi * 300 * np.arange(48000) / 48000)).astype(np.float32)
    y = lim.process(x)
    np.testing.assert_array_equal(y[lim.latency :], x[: len(x) - lim.latency])
    loud = (3.0 * np.sin(2 * np.pi * 300 * np.arange(48000) / 48000)).astype(np.float32)
    lim2 = _core.Limiter()
    y2 = np.concatenate([lim2.process(loud[i : i + 960]) for i in range(0, len(loud), 960)])
    assert np.abs(y2).max() <= 0.891 + 1e-6
    # A steady loud tone settles to a steady level: no pumping from cycle to cycle.
    peaks = np.abs(y2[24000:]).reshape(-1, 160).max(axis=1)
    assert peaks.max() - peaks.min() < 0.02 * peaks.max()
    # The gain never steps: consecutive output/input ratios move by at most 1/lookahead.
    gain = y2[lim2.latency + 100 :] / np.where(np.abs(loud[100 : len(loud) - lim2.latency]) > 0.1, loud[100 : len(loud) - lim2.latency], np.nan)
    steps = np.abs(np.diff(gain))
    assert np.nanmax(steps) <= 1 / 64 + 1e-4


def max_step(x):
    return np.abs(np.diff(x)).max()


def warbling_tone(seconds, freq=100.0, amp=0.3):
    """A low tone swelling like irregular syllables: the detector takes it for speech,
    and its own sample-to-sample slope is tiny, so any click stands out."""
    t = np.arange(int(seconds * 48000)) / 48000
    x = amp * (0.02 + 0.98 * synth.syllable_envelope(seconds, seed=5)) * np.sin(2 * np.pi * freq * t)
    return synth.frames_of(x.astype(np.float32))


@pytest.mark.parametrize("change", ["leave", "mute", "gap", "gain"])
def test_changes_ramp_without_clicks(change):
    tone = warbling_tone(3.0)
    quiet = np.zeros(FRAME_SIZE, np.float32)
    m = AudioMixer()
    m.add("talker")
    m.add("listener")
    out = []
    for k in range(len(tone)):
        frames = {"talker": tone[k], "listener": quiet}
        if k == 100:
            {"leave": lambda: m.remove("talker"), "mute": lambda: m.set_muted("talker", True),
             "gain": lambda: m.set_gain("talker", 0.2), "gap": lambda: None}[change]()
        if (change == "leave" and k >= 100) or (change == "gap" and 100 <= k < 103):
            del frames["talker"]
        out.append(m.process(frames))
    assert "talker" in out[99].minus  # it was in the mix when the change came
    heard = np.concatenate([o.heard_by("listener") for o in out[90:115]])
    natural = max_step(tone[90:115].reshape(-1))
    assert max_step(heard) < 2 * natural
    def loudness(a, b):  # heard peak relative to the talker's own peak
        heard = np.abs(np.concatenate([o.heard_by("listener") for o in out[a:b]])).max()
        return heard / np.abs(tone[a:b]).max()

    assert loudness(95, 100) == pytest.approx(1.0, abs=0.02)
    if change in ("leave", "mute"):
        assert loudness(102, 110) < 1e-6  # and it really went silent
    elif change == "gain":
        assert loudness(102, 110) == pytest.approx(0.2, abs=0.02)
    else:
        assert loudness(105, 110) == pytest.approx(1.0, abs=0.02)  # back after the gap


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 200), k=st.integers(1, 5), seed=st.integers(0, 1000), muted_frac=st.floats(0, 0.5))
def test_any_room_size_gains_and_mutes(n, k, seed, muted_frac):
    rng = np.random.default_rng(seed)
    talkers = min(n, 6)  # only a few talk; the rest are quiet rooms of listeners
    sig = {f"p{i}": synth.frames_of(synth.speech(1.2, 90 + 13 * i, -32.0, seed + i)) for i in range(talkers)}
    quiet = (1e-4 * rng.standard_normal((60, FRAME_SIZE))).astype(np.float32)
    for i in range(talkers, n):
        sig[f"p{i}"] = quiet
    m = AudioMixer(max_mixed=k)
    gains = {}
    muted = set()
    for name in sig:
        m.add(name)
        gains[name] = float(rng.uniform(0.2, 1.5))
        m.set_gain(name, gains[name])
        if rng.uniform() < muted_frac:
            m.set_muted(name, True)
            muted.add(name)
    out = run(m, sig, 60)
    d = m.latency
    for kk in range(2, 59):
        o = out[kk]
        # Settled: the same mix-minus set two frames before and one after. (New talkers can
        # displace other sound in free slots on consecutive frames, so a set that is about
        # to change is still mid hand-over.)
        settled = set(o.minus) == set(out[kk - 1].minus) == set(out[kk - 2].minus) == set(out[kk + 1].minus)
        # K are mixed; during a hand-over the one fading out keeps its own mix-minus too.
        assert len(o.minus) <= (k if settled else 2 * k)
        assert not (set(o.minus) & muted) or set(o.minus) & muted <= set(out[kk - 1].minus)
        assert set(o.levels) == set(sig)
        for row in [o.shared, *o.minus.values()]:
            assert np.abs(row).max() <= 0.891 + 1e-6
        if settled and not (set(o.minus) & muted):
            total = sum(gains[p] * np.concatenate([sig[p][kk - 1], sig[p][kk]]).astype(np.float64) for p in o.minus)
            for p in o.minus:
                own = gains[p] * np.concatenate([sig[p][kk - 1], sig[p][kk]])
                np.testing.assert_allclose(o.minus[p], delayed(total - own, d)[FRAME_SIZE:], atol=1e-5)


@pytest.mark.parametrize(
    "frames, match",
    [
        ({"a": np.zeros(480, np.float32)}, "960 float samples"),
        ({"a": np.zeros(1920, np.float32)}, "960 float samples"),
        ({"a": np.zeros(960, np.int16)}, "960 float samples"),
        ({"zz": np.zeros(960, np.float32)}, "not in the mixer"),
    ],
)
def test_bad_frames_raise_clear_errors(frames, match):
    m = AudioMixer()
    m.add("a")
    with pytest.raises(InvalidInputError, match=match):
        m.process(frames)


def test_core_refuses_non_contiguous_and_wrong_dtype_buffers():
    core = _core.AudioMixer()
    core.add(1)
    strided = np.zeros((1, 1920), np.float32)[:, ::2]
    with pytest.raises(InvalidInputError, match="C-contiguous"):
        core.process([1], strided)
    with pytest.raises(InvalidInputError, match="float32"):
        core.process([1], np.zeros((1, 960), np.float64))
    with pytest.raises(InvalidInputError, match="2 rows for 1 ids|1 rows for 2 ids"):
        core.process([1], np.zeros((2, 960), np.float32))
    with pytest.raises(InvalidInputError, match="twice"):
        core.add(2)
        core.process([2, 2], np.zeros((2, 960), np.float32))


def test_membership_errors():
    m = AudioMixer()
    m.add("a")
    with pytest.raises(InvalidInputError, match="already"):
        m.add("a")
    with pytest.raises(InvalidInputError, match="gain"):
        m.set_gain("a", -1)
    with pytest.raises(InvalidInputError, match="not in the mixer"):
        m.remove("b")
