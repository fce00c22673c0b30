"""Regression tests for the core's memory-safety and validation defects (issue 9).

Each test is named after a defect that was reproduced against the C++ core: the call
used to crash, overflow, read past a buffer, allocate gigabytes, leak a bare pybind11
error or overshoot the limiter. Now the core refuses it with InvalidInputError naming
the argument, and a refused call changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

import reference as ref
from vmedia import InvalidInputError, _core

INT_MAX = 2**31 - 1
THRESHOLD = 0.891


def i420(w, h, value=0, pad=0):
    cw, ch = (w + 1) // 2, (h + 1) // 2
    return tuple(np.full((ph, pw + pad), value, np.uint8)[:, :pw] for pw, ph in ((w, h), (cw, ch), (cw, ch)))


def random_i420(rng, w, h):
    cw, ch = (w + 1) // 2, (h + 1) // 2
    return tuple(rng.integers(0, 256, (ph, pw), dtype=np.uint8) for pw, ph in ((w, h), (cw, ch), (cw, ch)))


def snapshot(planes):
    return [p.copy() for p in planes]


def assert_unchanged(planes, before):
    for p, b in zip(planes, before):
        np.testing.assert_array_equal(p, b)


def refused(canvas, ops, match, threads=1):
    """The op list is refused with a vmedia error, and the canvas keeps every byte."""
    before = snapshot(canvas)
    with pytest.raises(InvalidInputError, match=match):
        _core.compose(canvas, ops, threads)
    assert_unchanged(canvas, before)


# ---------------------------------------------------------------- compose / scale_plane


@pytest.mark.parametrize(
    "crop",
    [(np.nan, 0, 8, 8), (0, np.nan, 8, 8), (0, 0, np.nan, 8), (0, 0, 8, np.nan), (np.inf, 0, 8, 8), (0, 0, np.inf, 8), (-np.inf, 0, 8, 8)],
)
def test_nan_crop_is_refused_not_a_segfault(crop):
    canvas = i420(64, 48, 77)
    src = i420(16, 16, 200)
    refused(canvas, [("fill", (0, 0, 8, 8), (1, 2, 3)), ("scale", src, crop, (0, 0, 16, 16))], "compose op 1 \\(scale\\).*finite")
    dst = np.full((16, 16), 5, np.uint8)
    with pytest.raises(InvalidInputError, match="finite"):
        _core.scale_plane(src[0], crop, dst, (0, 0, 8, 8))
    assert (dst == 5).all()


@pytest.mark.parametrize(
    "op",
    [
        ("fill", (INT_MAX - 1, 0, 4, 4), (0, 0, 0)),
        ("fill", (0, INT_MAX - 1, 4, 4), (0, 0, 0)),
        ("border", (INT_MAX - 1, 0, 4, 4), 2, (0, 0, 0)),
        ("scale", i420(8, 8), (0, 0, 8, 8), (INT_MAX - 1, 0, 8, 8)),
        ("scale", i420(8, 8), (0, 0, 8, 8), (0, 0, INT_MAX - 1, 8)),
        ("blend", (*i420(4, 4), np.zeros((4, 4), np.uint8)), INT_MAX - 1, 0),
        ("blend", (*i420(4, 4), np.zeros((4, 4), np.uint8)), 0, INT_MAX - 1),
    ],
)
def test_rect_near_int_max_does_not_wrap_into_the_canvas(op):
    # check_rect_inside computed x + w in int: 2**31-2 + 4 wrapped negative and passed,
    # and blend only checked the luma rect before writing chroma out of bounds.
    refused(i420(64, 48, 9), [op], "outside the 64x48 canvas")


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 2**70])
def test_rect_ints_beyond_int32_are_refused_naming_the_field(value):
    refused(i420(64, 48), [("fill", (value, 0, 4, 4), (0, 0, 0))], "compose op 0 \\(fill\\) rect x must be")
    refused(i420(64, 48), [("border", (0, 0, 4, 4), value, (0, 0, 0))], "thickness must be")
    refused(i420(64, 48), [("blend", (*i420(4, 4), np.zeros((4, 4), np.uint8)), 0, value)], "\\(blend\\) y must be")


def test_blend_overlay_partly_outside_the_canvas_is_refused():
    overlay = (*i420(6, 6, 255), np.full((6, 6), 255, np.uint8))
    refused(i420(64, 48, 9), [("blend", overlay, 60, 0)], "outside the 64x48 canvas")
    refused(i420(64, 48, 9), [("blend", overlay, 0, 44)], "outside the 64x48 canvas")


def test_crop_at_source_edge_with_tiny_height_reads_no_row_past_the_buffer():
    # The source's last row is 10; the row after it (outside the source view) is 250.
    # A crop starting exactly at the bottom edge used to read that next row.
    backing = np.full((17, 16), 250, np.uint8)
    backing[:16] = 10
    y = backing[:16]
    u, v = np.full((8, 8), 128, np.uint8), np.full((8, 8), 128, np.uint8)
    for crop in [(0, 16, 16, 1e-10), (0, 16, 16, 0.0), (16, 0, 1e-12, 16), (0, 17, 16, 1)]:
        refused(i420(32, 32, 0), [("scale", (y, u, v), crop, (0, 0, 8, 8))], "must lie inside")
    # A sliver just inside the edge is the last row, stretched: no 250 anywhere.
    canvas = i420(32, 32, 0)
    _core.compose(canvas, [("scale", (y, u, v), (0, 16 - 1e-6, 16, 1e-6), (0, 0, 8, 8))])
    assert (canvas[0][:8, :8] == 10).all()
    dst = np.zeros((8, 8), np.uint8)
    _core.scale_plane(y, (3, 16 - 1e-7, 2, 1e-7), dst, (0, 0, 8, 8))
    assert (dst == 10).all()


def test_border_thickness_int_max_fills_the_rect_without_overflow():
    canvas = i420(64, 48, 0)
    _core.compose(canvas, [("border", (8, 4, 20, 16), INT_MAX, (200, 50, 60))])
    want_y = np.zeros((48, 64), np.uint8)
    want_y[4:20, 8:28] = 200
    np.testing.assert_array_equal(canvas[0], want_y)
    want_u = np.zeros((24, 32), np.uint8)
    want_u[2:10, 4:14] = 50
    np.testing.assert_array_equal(canvas[1], want_u)


def test_refused_compose_list_draws_nothing():
    rng = np.random.default_rng(1)
    src = random_i420(rng, 40, 30)
    good = [("fill", (0, 0, 64, 48), (16, 128, 128)), ("scale", src, (0, 0, 40, 30), (0, 0, 32, 24)), ("border", (0, 0, 32, 24), 2, (235, 128, 128))]
    for bad in [("fill", (2, 2, 3, 4), (0, 0, 0)), ("scale", src, (0, 0, 41, 30), (0, 0, 8, 8)), ("fill", (0, 0, 8, 8), (0, 256, 0)), ("nope",)]:
        for threads in (1, 4):
            refused(i420(64, 48, 33), [*good, bad], f"compose op {len(good)}", threads)


def test_source_sharing_memory_with_the_canvas_is_refused():
    canvas = i420(64, 48, 50)
    refused(canvas, [("scale", (canvas[0][:8, :8], canvas[1][:4, :4], canvas[2][:4, :4]), (0, 0, 8, 8), (16, 16, 8, 8))], "shares memory with the canvas")
    alpha = np.zeros((8, 8), np.uint8)
    refused(canvas, [("blend", (canvas[0][8:16, :8], *i420(8, 8)[1:], alpha), 0, 0)], "shares memory with the canvas")
    y = canvas[0]
    with pytest.raises(InvalidInputError, match="shares memory"):
        _core.scale_plane(y[:8, :8], (0, 0, 8, 8), y, (8, 8, 16, 16))


def test_planes_larger_than_max_dimension_are_refused():
    big = np.zeros((1, _core.MAX_DIMENSION + 2), np.uint8)
    with pytest.raises(InvalidInputError, match="at most 16384"):
        _core.scale_plane(big, (0, 0, 8, 1), np.zeros((4, 4), np.uint8), (0, 0, 4, 1))
    with pytest.raises(InvalidInputError, match="at most 16384"):
        _core.compose((np.zeros((2, _core.MAX_DIMENSION + 2), np.uint8),) + i420(_core.MAX_DIMENSION + 2, 2)[1:], [])


def test_huge_downscale_keeps_weights_non_negative_and_c_rows_match_avx2():
    # A 300:1 shrink rounded its Q14 weights so far off that the largest tap went
    # negative: the C row wrapped to 255 where the AVX2 row saturated to 0.
    rng = np.random.default_rng(7)
    src = rng.integers(0, 256, (6, 4800), dtype=np.uint8)
    src[:, ::300] = 255  # bright pixels where the largest taps sit
    out = []
    for mask in (0, -1):
        _core.set_cpu_mask(mask)
        try:
            dst = np.zeros((2, 16), np.uint8)
            _core.scale_plane(src, (0, 0, 4800, 6), dst, (0, 0, 16, 2))
            out.append(dst)
        finally:
            _core.set_cpu_mask(-1)
    np.testing.assert_array_equal(out[0], out[1])
    assert np.abs(out[0] - ref.scale_plane(src, (0, 0, 4800, 6), 16, 2)).max() <= 1.0


def test_compose_threads_give_the_same_bytes():
    rng = np.random.default_rng(5)
    srcs = [random_i420(rng, w, h) for w, h in ((97, 55), (320, 180), (33, 17))]
    alpha = rng.integers(0, 256, (10, 14), dtype=np.uint8)
    ops = [
        ("fill", (0, 0, 128, 96), (16, 128, 128)),
        ("scale", srcs[0], (1.5, 2.25, 90.0, 50.0), (2, 2, 60, 40)),
        ("scale", srcs[1], (0, 0, 320, 180), (64, 0, 64, 36)),
        ("scale", srcs[2], (0, 0, 33, 17), (0, 40, 128, 56)),
        ("border", (0, 40, 128, 56), 3, (235, 16, 240)),
        ("blend", (*random_i420(rng, 14, 10), alpha), 100, 80),
    ]
    results = []
    for threads in (1, 2, 3, 16):
        canvas = i420(128, 96, 1)
        _core.compose(canvas, ops, threads)
        results.append(canvas)
    for r in results[1:]:
        for a, b in zip(results[0], r):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- argument conversion


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: _core.compose(i420(8, 8), [], 2**70), "threads must be 1..16"),
        (lambda: _core.compose(i420(8, 8), [], 0), "threads must be 1..16"),
        (lambda: _core.compose(i420(8, 8), [], "2"), "threads must be an integer"),
        (lambda: _core.compose(i420(8, 8), 5), "ops must be an iterable"),
        (lambda: _core.compose(i420(8, 8), [("fill", (0, 0, 2.5, 2), (0, 0, 0))]), "rect width must be an integer"),
        (lambda: _core.compose(i420(8, 8), [(1, 2)]), "must start with its kind"),
        (lambda: _core.scale_plane(np.zeros((4, 4), np.uint8), (0, 0, "4", 4), np.zeros((4, 4), np.uint8), (0, 0, 4, 4)), "crop width must be a number"),
        (lambda: _core.set_cpu_mask(2**40), "mask must be"),
        (lambda: _core.set_cpu_mask(None), "mask must be an integer"),
        (lambda: _core.AudioMixer(max_mixed=2**40), "max_mixed must be 1..64"),
        (lambda: _core.AudioMixer(max_mixed=0), "max_mixed must be 1..64"),
        (lambda: _core.AudioMixer(frame_size=-960), "frame_size must be"),
        (lambda: _core.AudioMixer(sample_rate=2**33), "sample_rate must be"),
        (lambda: _core.AudioMixer(detector=None), "detector must be a DetectorParams"),
        (lambda: _core.AudioMixer().add(2**70), "id must be"),
        (lambda: _core.AudioMixer().add("7"), "id must be an integer"),
        (lambda: _core.AudioMixer().set_gain(1, "x"), "gain must be a number"),
        (lambda: _core.AudioMixer().set_muted(1, 2), "muted"),
        (lambda: _core.AudioMixer().process([1.5], np.zeros((1, 960), np.float32)), "integer participant ids"),
        (lambda: _core.Limiter(lookahead=2**31), "lookahead must be 1..48000"),
        (lambda: _core.Limiter(release_ms=float("nan")), "release_ms must be finite"),
        (lambda: _core.Limiter(release_ms=-5), "release_ms must be in"),
        (lambda: _core.Limiter(sample_rate=2**33), "sample_rate must be"),
        (lambda: setattr(_core.DetectorParams(), "floor_window", 2**40), "floor_window must be"),
        (lambda: setattr(_core.DetectorParams(), "floor_fall", float("nan")), "floor_fall must be finite"),
        (lambda: setattr(_core.DetectorParams(), "active_snr_db", 1e300), "active_snr_db must fit a float32"),
        (lambda: setattr(_core.DetectorParams(), "min_dwell", "1"), "min_dwell must be an integer"),
    ],
)
def test_out_of_range_ints_raise_invalid_input_naming_the_argument(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_detector_params_out_of_range_are_refused_when_the_mixer_is_built():
    for field, value, match in [("floor_fall", 2.0, "floor_fall must be"), ("floor_percentile", -0.5, "floor_percentile"), ("rhythm_window", 1, "rhythm_window must be 2..")]:
        p = _core.DetectorParams()
        setattr(p, field, value)
        with pytest.raises(InvalidInputError, match=match):
            _core.AudioMixer(detector=p)
        with pytest.raises(InvalidInputError, match=match):
            p.check()


# ---------------------------------------------------------------- audio


def test_limiter_with_huge_lookahead_is_refused_not_8_gib():
    with pytest.raises(InvalidInputError, match="lookahead must be 1..48000, got 2147483647"):
        _core.Limiter(INT_MAX)
    assert _core.Limiter(48000).latency == 47999


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), -1.0, 0.0, 1.5, -float("inf")])
def test_audio_mixer_threshold_nan_inf_or_negative_is_refused(threshold):
    with pytest.raises(InvalidInputError, match="threshold"):
        _core.AudioMixer(threshold=threshold)
    with pytest.raises(InvalidInputError, match="threshold"):
        _core.Limiter(threshold=threshold)


def test_limiter_output_never_exceeds_threshold_for_1e17_pcm():
    rng = np.random.default_rng(11)
    lim = _core.Limiter()
    # Absurd peaks (the sum of released gains loses precision around 1e-17) mixed with
    # ordinary audio, then back to normal.
    x = rng.uniform(-1, 1, 192000).astype(np.float32)
    x[1000:1100] = np.where(np.arange(100) % 2, 1e17, -1e17)
    x[5000] = np.finfo(np.float32).max
    x[9000:9960] = rng.choice([1e30, -3e38, 1e-3, 5.0], 960)
    x[20000:] *= 0.5  # back under the threshold
    y = np.concatenate([lim.process(x[i : i + 960]) for i in range(0, len(x), 960)])
    assert np.isfinite(y).all()
    assert np.abs(y).max() <= np.float32(THRESHOLD)
    # Once the peaks have gone and the gain has released (80 ms time constant from
    # 1e-38), the limiter is transparent again: a pure delay.
    tail = slice(150000, 192000)
    d = lim.latency
    np.testing.assert_array_equal(y[tail], x[tail.start - d : tail.stop - d])


def test_non_finite_samples_do_not_poison_the_limiter():
    # Defined: NaN counts as silence, +-inf as the largest float32 (then limited).
    rng = np.random.default_rng(12)
    x = rng.uniform(-2, 2, 4800).astype(np.float32)
    dirty, clean = x.copy(), x.copy()
    dirty[100:200] = np.nan
    clean[100:200] = 0
    dirty[300], clean[300] = np.inf, np.finfo(np.float32).max
    dirty[400], clean[400] = -np.inf, -np.finfo(np.float32).max
    a, b = _core.Limiter(), _core.Limiter()
    ya = np.concatenate([a.process(dirty[i : i + 480]) for i in range(0, 4800, 480)])
    yb = np.concatenate([b.process(clean[i : i + 480]) for i in range(0, 4800, 480)])
    np.testing.assert_array_equal(ya, yb)
    assert np.isfinite(ya).all() and np.abs(ya).max() <= np.float32(THRESHOLD)
    assert np.isfinite(a.gain)


def speech(rng, n_frames, amp=0.3):
    t = np.arange(n_frames * 960) / 48000
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2  # syllabic
    return (amp * env * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32).reshape(n_frames, 960)


def test_mixer_sanitises_nan_and_absurd_samples_instead_of_stopping_the_room():
    # Defined: NaN counts as silence and samples are clipped to +-MAX_SAMPLE (64), so the
    # mix is exactly what it would be had the attacker sent the sanitised frame.
    rng = np.random.default_rng(13)
    good = speech(rng, 60)
    bad = speech(rng, 60, 0.5)
    bad[10] = np.nan
    bad[20, ::3] = np.inf
    bad[30] = np.float32(1e30)
    bad[40] = -3e38
    bad[50, 5] = 1e17
    sanitised = np.clip(np.nan_to_num(bad, nan=0.0, posinf=64, neginf=-64), -64, 64)
    outs = []
    for attacker in (bad, sanitised):
        m = _core.AudioMixer()
        m.add(1)
        m.add(2)
        m.set_forced(1, True)  # both always mixed: the garbage goes through sum and limiters
        m.set_forced(2, True)
        outs.append([m.process([1, 2], np.stack([good[k], attacker[k]])) for k in range(60)])
    for r, s in zip(*outs):
        for key in ("shared", "minus", "levels", "mixed"):
            np.testing.assert_array_equal(r[key], s[key])
        assert np.isfinite(r["shared"]).all() and np.abs(r["shared"]).max() <= np.float32(THRESHOLD)
        assert np.abs(r["minus"]).max(initial=0) <= np.float32(THRESHOLD)
        assert r["events"] == s["events"]
    # The healthy participant was heard all along: the attacker's own mix (everyone but
    # itself) is participant 1's speech, untouched by the garbage.
    for r in outs[0][5:]:
        assert r["mixed"].tolist() == [1, 2]
        assert np.sqrt(np.mean(r["minus"][1] ** 2)) > 0.05


def test_refused_mixer_call_changes_nothing():
    rng = np.random.default_rng(14)
    frames = speech(rng, 30)
    a, b = _core.AudioMixer(), _core.AudioMixer()
    for m in (a, b):
        m.add(1)
        m.add(2)
    for k in range(30):
        if k % 5 == 0:  # refused calls on `a` only: unknown id, duplicate id, wrong shape
            for ids, block in [([1, 99], np.stack([frames[k]] * 2)), ([1, 1], np.stack([frames[k]] * 2)), ([1], frames[k][:480][None])]:
                with pytest.raises(InvalidInputError):
                    a.process(ids, block)
            with pytest.raises(InvalidInputError):
                a.set_gain(1, float("nan"))
        ra, rb = (m.process([1, 2], np.stack([frames[k], frames[(k + 7) % 30]])) for m in (a, b))
        for key in ("shared", "minus", "levels", "voice"):
            np.testing.assert_array_equal(ra[key], rb[key])
        assert ra["events"] == rb["events"]


def test_mixer_membership_queries_during_process_from_another_thread_are_safe():
    # process() runs without the GIL; len() and `in` used to walk the participant map
    # without the mixer's lock while process() erased from it.
    import threading

    rng = np.random.default_rng(15)
    frames = speech(rng, 20)
    m = _core.AudioMixer()
    m.add(1)
    stop = threading.Event()
    seen = []

    def churn():
        k = 100
        while not stop.is_set():
            m.add(k)
            seen.append((len(m), k in m, 1 in m))
            m.remove(k)  # fades out over the next process(), then is erased there
            k += 1

    t = threading.Thread(target=churn)
    t.start()
    try:
        for k in range(400):
            r = m.process([1], frames[k % 20][None])
            assert np.abs(r["shared"]).max() <= np.float32(THRESHOLD)
    finally:
        stop.set()
        t.join()
    assert seen and all(n >= 2 and present and one for n, present, one in seen)
    assert len(m) == 1


def test_one_limiter_shared_by_two_threads_stays_within_its_threshold():
    import threading

    lim = _core.Limiter()
    x = np.random.default_rng(16).uniform(-3, 3, 960).astype(np.float32)
    peaks = []

    def run():
        for _ in range(200):
            peaks.append(float(np.abs(lim.process(x)).max()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(peaks) == 400 and max(peaks) <= np.float32(THRESHOLD)
