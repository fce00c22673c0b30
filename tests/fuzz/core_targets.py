"""Fuzz targets for vmedia's C++ core (`vmedia._core`): bytes in, invariants checked.

Each target decodes its input into a call (or a sequence of calls) on one entry point,
mostly well-formed with the odd hostile value (NaN, 2**31-2, a ragged buffer...), then
checks the core's promises:

- a call either works or raises InvalidInputError, never anything else (and never crashes:
  run under an ASan build, see docs/reliability.md);
- a refused call changes nothing (canvas bytes, mixer state);
- compose with threads=1 and threads=N give identical bytes, and so do the AVX2 and the
  plain C rows (`_core.set_cpu_mask(0)`); nothing outside the destination is written;
- the limiter's output never exceeds its threshold, and is always finite.

A broken promise raises AssertionError: atheris reports it as a crash with the input,
and tests/test_fuzz_smoke.py fails. The targets are plain functions so that the smoke
test can run them without atheris.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from vmedia import InvalidInputError, _core

WEIRD_FLOATS = (
    math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1e-300, 1e-10, 0.5, 1.0, 1e17, -1e17,
    1e30, 3.4e38, -3.4e38, 2.0**31, -1.0, 1e308,
)
WEIRD_INTS = (0, -1, 1, 2, 3, 2**31 - 2, 2**31 - 1, 2**31, -(2**31), 2**63, -(2**63) - 1, 2**70, 16384, 16386, 65535)


class Input:
    """Reads typed values from fuzzer bytes; once they run out, everything is zero."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        b = self.data[self.pos]
        self.pos += 1
        return b

    def int(self, lo: int, hi: int) -> int:
        """lo..hi inclusive (small ranges: one or two bytes)."""
        span = hi - lo + 1
        v = self.byte() if span <= 256 else self.byte() | self.byte() << 8
        return lo + v % span

    def chance(self, one_in: int) -> bool:
        """True once in `one_in`; false when the input has run out (so it ends well-formed)."""
        return self.byte() % one_in == one_in - 1

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def weird_int(self, lo: int, hi: int):
        """Mostly lo..hi; now and then a hostile int (or not an int at all)."""
        if self.chance(12):
            return self.pick(WEIRD_INTS + (1.5, "2", None))
        return self.int(lo, hi)

    def weird_float(self, lo: float, hi: float):
        if self.chance(10):
            return self.pick(WEIRD_FLOATS)
        if self.chance(30):
            raw = bytes(self.byte() for _ in range(8))
            return struct.unpack("<d", raw)[0]
        return lo + (hi - lo) * self.int(0, 1023) / 1023

    def bytes(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out + bytes(n - len(out))

    def plane(self, w: int, h: int, pad: int | None = None) -> np.ndarray:
        """A uint8 plane of w x h, a view into a wider array (PyAV pads its rows)."""
        pad = self.int(0, 17) if pad is None else pad
        seed = self.int(0, 65535)
        backing = np.random.default_rng(seed).integers(0, 256, (h, w + pad), dtype=np.uint8)
        return backing[:, :w]

    def samples(self, n: int) -> np.ndarray:
        """n float32 samples: speech-like levels, raw bytes (NaN, inf, denormals) or absurd."""
        mode = self.int(0, 3)
        if mode == 0:
            raw = self.bytes(4 * n)
            x = np.frombuffer(raw, np.float32).copy()
        else:
            rng = np.random.default_rng(self.int(0, 65535))
            amp = (0.01, 0.5, 4.0)[mode - 1]
            x = (amp * rng.standard_normal(n)).astype(np.float32)
        for _ in range(self.int(0, 3) if n else 0):
            with np.errstate(over="ignore"):
                x[self.int(0, n - 1)] = np.float32(self.pick(WEIRD_FLOATS))
        return x


def _copy(planes):
    return [p.base.copy()[:, : p.shape[1]] if p.base is not None else p.copy() for p in planes]


def _backing(p: np.ndarray) -> np.ndarray:
    return p.base if p.base is not None else p


def _same(a, b) -> bool:
    return all(np.array_equal(_backing(x), _backing(y)) for x, y in zip(a, b))


def _refused(fn) -> bool:
    try:
        fn()
    except InvalidInputError:
        return True
    return False


def _with_mask(mask: int, fn):
    before = _core.cpu_mask()
    _core.set_cpu_mask(mask)
    try:
        return fn()
    finally:
        _core.set_cpu_mask(before)


# ---------------------------------------------------------------------------- compose


def _source(d: Input):
    w, h = d.int(1, 40), d.int(1, 40)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    planes = [d.plane(w, h), d.plane(cw, ch), d.plane(cw, ch)]
    if d.chance(16):  # a malformed picture: wrong chroma size or a non-uint8 plane
        planes[d.int(0, 2)] = d.pick([d.plane(w, h), np.zeros((ch, cw), np.float32), np.zeros(cw, np.uint8), "x"])
    return tuple(planes), w, h


def _rect(d: Input, cw: int, ch: int):
    x, y = 2 * d.int(0, cw // 2 - 1), 2 * d.int(0, ch // 2 - 1)
    w, h = 2 * d.int(1, max(1, (cw - x) // 2)), 2 * d.int(1, max(1, (ch - y) // 2))
    r = [x, y, w, h]
    if d.chance(8):
        r[d.int(0, 3)] = d.weird_int(-4, 100)
    return tuple(r)


def _crop(d: Input, w: int, h: int):
    x = d.weird_float(0, w - 0.5)
    y = d.weird_float(0, h - 0.5)
    cw = d.weird_float(0.01, max(0.01, w - x)) if isinstance(x, float) and math.isfinite(x) else d.weird_float(0, w)
    chh = d.weird_float(0.01, max(0.01, h - y)) if isinstance(y, float) and math.isfinite(y) else d.weird_float(0, h)
    return (x, y, cw, chh)


def _colour(d: Input):
    c = [d.int(0, 255), d.int(0, 255), d.int(0, 255)]
    if d.chance(20):
        c[d.int(0, 2)] = d.weird_int(0, 255)
    return tuple(c)


def _on(ops: list, canvas) -> list:
    """The op list for one canvas copy (aliasing ops point into that copy)."""
    return [op(canvas) if callable(op) else op for op in ops]


def compose_ops(d: Input, cw: int, ch: int) -> list:
    ops = []
    for _ in range(d.int(0, 6)):
        kind = d.int(0, 9)
        if kind <= 1:
            ops.append(("fill", _rect(d, cw, ch), _colour(d)))
        elif kind <= 5:
            src, w, h = _source(d)
            crop, rect = _crop(d, w, h), _rect(d, cw, ch)
            if d.chance(40):  # a source inside the canvas's own memory: made per canvas copy
                ops.append(lambda c, crop=crop, rect=rect: ("scale", tuple(p[: (p.shape[0] + 1) // 2] for p in c), crop, rect))
            else:
                ops.append(("scale", src, crop, rect))
        elif kind <= 7:
            ops.append(("border", _rect(d, cw, ch), d.weird_int(1, 12), _colour(d)))
        elif kind == 8:
            src, w, h = _source(d)
            alpha = d.plane(w, h)
            x, y = 2 * d.int(0, max(0, cw - w) // 2), 2 * d.int(0, max(0, ch - h) // 2)
            if d.chance(8):
                x = d.weird_int(0, cw)
            ops.append(("blend", (*src, alpha), x, y))
        else:
            ops.append(d.pick([("wipe", 1), (), ("fill",), ("fill", (0, 0, 2, 2)), 7, ("scale", None, None, None)]))
    return ops


def compose_target(data: bytes) -> None:
    d = Input(data)
    cw, ch = 2 * d.int(1, 40), 2 * d.int(1, 30)
    pad = d.int(0, 9)
    canvas = [d.plane(cw, ch, pad), d.plane(cw // 2, ch // 2, pad), d.plane(cw // 2, ch // 2, pad)]
    ops = compose_ops(d, cw, ch)
    threads = d.int(2, 16)
    before = _copy(canvas)

    first = _copy(canvas)
    if _refused(lambda: _core.compose(first, _on(ops, first), 1)):
        assert _same(first, before), "a refused compose changed the canvas"
        # The same refusal whatever the threads or rows: nothing is drawn.
        other = _copy(canvas)
        assert _with_mask(0, lambda: _refused(lambda: _core.compose(other, _on(ops, other), threads)))
        assert _same(other, before), "a refused compose (threads, C rows) changed the canvas"
        return
    # Padding past each row's width is never written.
    for p, b in zip(first, before):
        np.testing.assert_array_equal(_backing(p)[:, p.shape[1] :], _backing(b)[:, b.shape[1] :])
    many = _copy(canvas)
    _core.compose(many, _on(ops, many), threads)
    assert _same(first, many), f"threads=1 and threads={threads} differ"
    c_rows = _copy(canvas)
    _with_mask(0, lambda: _core.compose(c_rows, _on(ops, c_rows), threads))
    assert _same(first, c_rows), "C rows and optimised rows differ"


# ---------------------------------------------------------------------------- scale_plane


def scale_plane_target(data: bytes) -> None:
    d = Input(data)
    sw, sh = d.int(1, 48), d.int(1, 48)
    src = d.plane(sw, sh)
    if d.chance(24):
        src = d.pick([np.zeros((sh, sw), np.int16), np.zeros(sw, np.uint8), src.T, np.zeros((0, 4), np.uint8)])
    dw, dh = d.int(1, 48), d.int(1, 48)
    dst = d.plane(dw, dh)
    crop = _crop(d, sw, sh)
    x, y = d.int(0, dw - 1), d.int(0, dh - 1)
    rect = (x, y, d.int(1, dw - x), d.int(1, dh - y))
    if d.chance(8):
        rect = tuple(d.weird_int(-2, 50) if d.chance(2) else v for v in rect)
    backing = _backing(dst).copy()

    results = []
    for mask in (-1, 0):
        out = backing.copy()
        view = out[:, :dw]
        if _with_mask(mask, lambda: _refused(lambda: _core.scale_plane(src, crop, view, rect))):
            assert np.array_equal(out, backing), "a refused scale_plane changed the destination"
            assert not results, "C rows refused what optimised rows accepted"
            return
        results.append(out)
    assert np.array_equal(results[0], results[1]), "C rows and optimised rows differ"
    x, y, w, h = rect
    outside = np.ones(backing.shape, bool)
    outside[y : y + h, x : x + w] = False
    assert np.array_equal(results[0][outside], backing[outside]), "scale_plane wrote outside its rect"


# ---------------------------------------------------------------------------- audio


def limiter_target(d: Input) -> None:
    args = dict(
        lookahead=d.weird_int(1, 300),
        threshold=d.weird_float(0.05, 1.0),
        release_ms=d.weird_float(1, 500),
        sample_rate=d.pick([48000, 8000, 16000, d.weird_int(8000, 96000)]),
    )
    try:
        lim = _core.Limiter(**args)
    except InvalidInputError:
        return
    thr = np.float32(lim.threshold)
    for _ in range(d.int(1, 6)):
        y = lim.process(d.samples(d.int(0, 400)))
        assert np.isfinite(y).all(), "limiter output is not finite"
        assert np.abs(y).max(initial=0) <= thr, f"limiter output {np.abs(y).max()} above its threshold {thr}"
        assert math.isfinite(lim.gain)


def detector_params(d: Input):
    p = _core.DetectorParams()
    ints = ["floor_window", "rhythm_window", "rhythm_min_lag", "rhythm_max_lag", "modulation_frames", "short_frames",
            "long_frames", "start_short", "stop_silent", "switch_long", "switch_margin", "min_dwell"]
    floats = ["floor_rise_db", "floor_fall", "floor_percentile", "max_rhythm", "active_snr_db", "active_min_db", "min_modulation_db"]
    for _ in range(d.int(0, 3)):
        if d.chance(2):
            name, value = d.pick(ints), d.weird_int(0, 120)
        else:
            name, value = d.pick(floats), d.weird_float(-70, 70)
        before = getattr(p, name)
        try:
            setattr(p, name, value)
        except InvalidInputError:
            assert getattr(p, name) == before, "a refused parameter changed"
    return p


def mixer_target(d: Input) -> None:
    frame = d.pick([960, 960, 120, 480])
    args = dict(max_mixed=d.weird_int(1, 4), frame_size=frame, threshold=d.weird_float(0.1, 1.0), detector=detector_params(d))
    try:
        a = _core.AudioMixer(**args)
    except InvalidInputError:
        return
    b = _core.AudioMixer(**args)  # the twin gets only the calls `a` accepted
    thr = np.float32(args["threshold"])
    for _ in range(d.int(1, 24)):
        op = d.int(0, 9)
        ident = d.weird_int(0, 5)
        if op == 0:
            call = ("add", ident)
        elif op == 1:
            call = ("remove", ident)
        elif op == 2:
            call = ("set_gain", ident, d.weird_float(0, 4))
        elif op == 3:
            call = ("set_muted", ident, d.pick([True, False, 1, 2, "x"]))
        elif op == 4:
            call = ("set_forced", ident, d.pick([True, False]))
        else:
            ids = [d.weird_int(0, 5) for _ in range(d.int(0, 4))]
            try:
                block = np.stack([d.samples(frame) for _ in ids]) if ids else np.zeros((0, frame), np.float32)
            except ValueError:
                block = np.zeros((0, frame), np.float32)
            if d.chance(16):
                with np.errstate(invalid="ignore", over="ignore"):
                    block = d.pick([block[:, : frame // 2], block.astype(np.float64), block[:1], block.T.copy()])
            call = ("process", ids, block)
        try:
            ra = getattr(a, call[0])(*call[1:])
        except InvalidInputError:
            continue
        rb = getattr(b, call[0])(*call[1:])
        if call[0] != "process":
            continue
        for key in ("ids", "levels", "voice", "mixed", "shared", "minus"):
            assert np.array_equal(ra[key], rb[key]), f"a refused call changed the mixer ({key} differs)"
        assert ra["events"] == rb["events"] and ra["dominant"] == rb["dominant"]
        for row in (ra["shared"], *ra["minus"]):
            assert np.isfinite(row).all(), "mix is not finite"
            assert np.abs(row).max(initial=0) <= thr, f"mix {np.abs(row).max()} above the threshold {thr}"


def audio_target(data: bytes) -> None:
    d = Input(data)
    if d.chance(3):
        limiter_target(d)
    else:
        mixer_target(d)


TARGETS = {"compose": compose_target, "scale_plane": scale_plane_target, "audio": audio_target}
