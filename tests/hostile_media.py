"""Hostile media for the reliability tests, the room fuzz target and the soak: what an
attacker (or a broken endpoint) can send into a room."""

from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np


def _nal_units(annexb: bytes) -> list[bytes]:
    """NAL units (without start codes) of an Annex B byte stream."""
    parts = annexb.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [p for p in parts if p]


def _unescape(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00)."""
    out, zeros = bytearray(), 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _escape(rbsp: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


class _BitReader:
    def __init__(self, data: bytes):
        self.bits = "".join(f"{b:08b}" for b in data)
        self.pos = 0

    def u(self, n: int) -> int:
        v = int(self.bits[self.pos : self.pos + n] or "0", 2)
        self.pos += n
        return v

    def ue(self) -> int:
        zeros = 0
        while self.bits[self.pos] == "0":
            zeros += 1
            self.pos += 1
        self.pos += 1
        return (1 << zeros) - 1 + self.u(zeros)


class _BitWriter:
    def __init__(self) -> None:
        self.bits: list[str] = []

    def u(self, n: int, v: int) -> None:
        if n:
            self.bits.append(f"{v:0{n}b}")

    def ue(self, v: int) -> None:
        code = f"{v + 1:b}"
        self.bits.append("0" * (len(code) - 1) + code)

    def raw(self, bits: str) -> None:
        self.bits.append(bits)

    def bytes(self) -> bytes:
        s = "".join(self.bits)
        s += "0" * (-len(s) % 8)
        return bytes(int(s[i : i + 8], 2) for i in range(0, len(s), 8))


def small_idr(width: int = 32, height: int = 32) -> bytes:
    """One baseline-profile IDR access unit (SPS, PPS, slice) of a flat picture."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 15)
    ctx.thread_count = 1
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "x264-params": "repeat-headers=1"}
    ctx.open()
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        np.frombuffer(plane, np.uint8)[:] = 128
    frame.pts = 0
    return b"".join(bytes(p) for p in list(ctx.encode(frame)) + list(ctx.encode(None)))


def huge_sps_stream(width: int = 8192, height: int = 8192, base: bytes | None = None) -> bytes:
    """A real tiny IDR whose SPS is rewritten to announce width x height: a decoder without
    a size cap allocates (and conceals) the whole picture for a few bytes of slice."""
    base = base or small_idr()
    out = b""
    for nal in _nal_units(base):
        if nal[0] & 0x1F == 7:  # SPS (baseline: no chroma_format fields)
            r = _BitReader(_unescape(nal[1:]))
            w = _BitWriter()
            w.u(8, r.u(8))  # profile_idc
            w.u(8, r.u(8))  # constraint flags
            w.u(8, r.u(8))  # level_idc
            w.ue(r.ue())  # seq_parameter_set_id
            w.ue(r.ue())  # log2_max_frame_num_minus4
            poc_type = r.ue()
            w.ue(poc_type)
            if poc_type == 0:
                w.ue(r.ue())
            w.ue(r.ue())  # max_num_ref_frames
            w.u(1, r.u(1))  # gaps_in_frame_num_allowed
            r.ue(), r.ue()  # the real size...
            w.ue(width // 16 - 1)  # ...and the announced one
            w.ue(height // 16 - 1)
            frame_mbs_only = r.u(1)
            w.u(1, frame_mbs_only)
            if not frame_mbs_only:
                w.u(1, r.u(1))
            w.u(1, r.u(1))  # direct_8x8_inference
            if r.u(1):  # cropping: dropped
                for _ in range(4):
                    r.ue()
            w.u(1, 0)
            w.raw(r.bits[r.pos :])  # VUI flag, VUI and the stop bit, as they were
            nal = nal[:1] + _escape(w.bytes().rstrip(b"\x00") or b"\x80")
        out += b"\x00\x00\x00\x01" + nal
    return out


def bayer_frame(width: int = 17, height: int = 15) -> av.VideoFrame:
    """An odd-sized Bayer picture: swscale used to abort the process converting it."""
    frame = av.VideoFrame(width, height, "bayer_rggb8")
    np.frombuffer(frame.planes[0], np.uint8)[:] = 77
    return frame


def audio_frame(samples: np.ndarray, rate: int = 48000, layout: str = "mono") -> av.AudioFrame:
    """An av.AudioFrame of float samples (channels x n), as a WebRTC stack hands them over."""
    x = np.asarray(samples, np.float32)
    x = x.reshape(1, -1) if x.ndim == 1 else x
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x) if layout == "mono" else np.ascontiguousarray(x), format="fltp", layout=layout)
    frame.sample_rate = rate
    return frame


class Chooser:
    """Where the attacker's choices come from: a seeded RNG (tests, soak) or fuzzer bytes."""

    def __init__(self, data: bytes | None = None, seed: int = 0):
        self.data, self.pos = data, 0
        self.rng = np.random.default_rng(seed)

    def int(self, lo: int, hi: int) -> int:
        """lo..hi inclusive. Fuzzer bytes that run out read as zeros."""
        if self.data is None:
            return int(self.rng.integers(lo, hi + 1))
        span = hi - lo + 1
        v = 0
        for _ in range(1 if span <= 256 else 2):
            v = v << 8 | (self.data[self.pos] if self.pos < len(self.data) else 0)
            self.pos += 1
        return lo + v % span

    def exhausted(self) -> bool:
        return self.data is not None and self.pos >= len(self.data)

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def bytes(self, n: int) -> bytes:
        return bytes(self.int(0, 255) for _ in range(n))


WEIRD_TIMES = (math.nan, math.inf, -math.inf, 1e300, -1e300, 1e6, -1e6, 2**63, 0.0)


class Attacker:
    """Sends garbage of every kind a participant can send into a room: broken and hostile
    H.264, pictures the room cannot use, absurd or non-finite samples, undecodable and
    empty payloads, mismatched audio frames, and impossible timestamps. Refusals (vmedia
    errors) are expected and counted; anything else propagates."""

    def __init__(self, pid: str, *, loud: bool = True):
        self.pid = pid
        self.loud = loud  # also absurd but finite samples (clipped, so heard at full scale)
        self.refused = 0
        self.idr = small_idr(32, 32)
        self.bomb = huge_sps_stream(8192, 8192, self.idr)

    def act(self, room, t: float, c: Chooser) -> None:
        """One push (of video or audio) at about media time t."""
        from vmedia.errors import VmediaError

        when = t if c.int(0, 3) else c.pick(WEIRD_TIMES) + (t if c.int(0, 1) else 0.0)
        kind = c.int(0, 1)
        try:
            if kind == 0:
                room.push_video(self.pid, self._video(c), when)
            else:
                room.push_audio(self.pid, self._audio(c), when)
        except VmediaError:
            self.refused += 1

    def _video(self, c: Chooser):
        k = c.int(0, 11)
        if k == 0:
            return c.bytes(c.int(0, 64))
        if k == 1:  # a start code and a slice, SPS or PPS header with junk behind
            return b"\x00\x00\x00\x01" + bytes([c.pick((0x65, 0x67, 0x68, 0x41, 0x06))]) + c.bytes(c.int(0, 48))
        if k == 2:
            return self.idr[: c.int(0, len(self.idr))]  # truncated
        if k == 3:
            b = bytearray(self.idr)
            for _ in range(c.int(1, 8)):
                b[c.int(4, len(b) - 1)] ^= 1 << c.int(0, 7)
            return bytes(b)
        if k == 4:
            return self.bomb
        if k == 5:
            return bayer_frame(c.int(1, 40), c.int(1, 40))
        if k == 6:
            return av.VideoFrame(c.pick((2, 3, 33, 2048)), c.pick((2, 5, 1100)), c.pick(("yuv420p", "gray", "rgb24", "nv12", "pal8")))
        if k == 7:
            return c.pick((None, "h264", 12, np.zeros((4, 4), np.uint8)))
        if k == 8:
            return b""
        return self.idr  # a real picture of its own, now and then

    def _audio(self, c: Chooser):
        k = c.int(0, 11)
        n = c.pick((960, 960, 0, 1, 959, 4800))
        if k == 0:
            return c.bytes(c.int(0, 80))  # an undecodable (or decodable: Opus is forgiving) payload
        if k == 1:
            return b""
        if k == 2:
            return np.full(n, c.pick((math.nan, math.inf, -math.inf)), np.float32)  # refused
        if k == 3:
            return np.zeros(n, c.pick((np.int16, np.int32, np.complex64)))  # refused
        if k == 4:
            return np.zeros((2, n), np.float32)  # refused
        if k == 5:
            return audio_frame(np.full(n, c.pick((math.nan, math.inf, -math.inf, 0.0)), np.float32))
        if k == 6:
            ch = c.int(1, 2)
            return audio_frame(np.zeros((ch, c.pick((0, 441, 882, 960))), np.float32), rate=c.pick((8000, 44100, 48000)),
                               layout="mono" if ch == 1 else "stereo")
        if k == 7:
            return c.pick((None, "opus", 1.5, [0.0] * 960))
        if k == 8 and self.loud:
            return np.full(n, c.pick((1e30, -1e17, 3.0e38)), np.float32)
        if k == 9 and self.loud:
            return np.full(n, 1e39, np.float64)
        return np.zeros(n, np.float32)
