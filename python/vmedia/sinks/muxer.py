"""The muxer process behind a ContainerSink: `python -m vmedia.sinks.muxer`.

A separate process because FFmpeg opens output URLs holding the GIL and without a
timeout (PyAV's avio_open): a stalled RTMP server would freeze every thread of the room's
process. Here it can only freeze this process, which the sink kills after its timeout.

It reads framed messages on stdin (the sink's wire format below): a JSON header, H.264
access units with pts in 1/fps, 20 ms float mix frames with their sample position; it
encodes the audio to AAC and muxes both. End of input (the room's process died, or the
sink closed) finishes the file. It prints "open" on stdout once the container's header
is written, and one "error: ..." line on stderr before a non-zero exit.
"""

from __future__ import annotations

import json
import signal
import struct
import sys
from fractions import Fraction
from typing import Any, BinaryIO

import numpy as np

HEADER, VIDEO, AUDIO, END = b"H", b"V", b"A", b"E"
_FRAME = struct.Struct("<cI")  # kind, payload length
_VIDEO = struct.Struct("<qB")  # pts (1/fps), keyframe
_AUDIO = struct.Struct("<q")  # first sample, 1/48000 from the stream's start
AAC_FRAME = 1024  # samples per AAC frame


def message(kind: bytes, payload: bytes) -> bytes:
    return _FRAME.pack(kind, len(payload)) + payload


def video_message(pts: int, keyframe: bool, data: bytes) -> bytes:
    return message(VIDEO, _VIDEO.pack(pts, keyframe) + data)


def audio_message(position: int, samples: bytes) -> bytes:
    return message(AUDIO, _AUDIO.pack(position) + samples)


def _read(stream: BinaryIO) -> tuple[bytes, bytes]:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return END, b""  # the room's process is gone: finish what we have
    kind, n = _FRAME.unpack(head)
    payload = stream.read(n)
    return (kind, payload) if len(payload) == n else (END, b"")


def parameter_sets(access_unit: bytes) -> bytes:
    """The SPS and PPS NAL units of an Annex B keyframe, as Annex B extradata."""
    out = []
    starts = []
    i = access_unit.find(b"\x00\x00\x01")
    while i != -1:
        starts.append(i + 3)
        i = access_unit.find(b"\x00\x00\x01", i + 3)
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(access_unit)
        nal = access_unit[s:end].rstrip(b"\x00")  # a 4-byte start code leaves a zero behind
        if nal and nal[0] & 0x1F in (7, 8):
            out.append(b"\x00\x00\x00\x01" + nal)
    return b"".join(out)


class Muxer:
    """H.264 as given plus the mix encoded to AAC, into one container."""

    def __init__(self, config: dict):
        self.config = config
        self.fps = int(config["fps"])
        self.time_base = Fraction(1, self.fps)
        self.container: Any = None  # av's OutputContainer, opened at the first keyframe
        self._audio_encoder: Any = None  # vmedia's AudioEncoder (AAC) for the current run of audio
        self._next_sample: int | None = None
        self._audio_fed = 0  # samples given to the current encoder
        self._audio_base = 0
        self._announced = False

    def _open(self, first_keyframe: bytes) -> None:
        import av

        from vmedia.codecs.audio import AudioEncoder

        c = self.config
        self.av = av
        self.container = av.open(c["target"], "w", format=c["format"], container_options=c["options"], timeout=c["timeout"])
        v = self.container.add_stream("h264", rate=self.fps)
        v.width, v.height, v.pix_fmt = c["width"], c["height"], "yuv420p"
        v.codec_context.extradata = parameter_sets(first_keyframe)
        v.time_base = self.time_base
        self._new_audio_encoder = lambda: AudioEncoder("aac", c["audio_bitrate"])
        probe = self._new_audio_encoder()
        a = self.container.add_stream("aac", rate=48000)
        a.layout = "mono"
        a.codec_context.extradata = probe.context.extradata
        a.time_base = Fraction(1, 48000)
        self.video, self.audio = v, a

    def video_packet(self, pts: int, keyframe: bool, data: bytes) -> None:
        if self.container is None:
            if not keyframe:
                return  # the sink only starts streams at a keyframe; nothing to show before it
            self._open(data)
        packet = self.av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = self.time_base  # not the stream's: the muxer may pick its own (1/15360 in MP4)
        packet.is_keyframe = keyframe
        packet.stream = self.video
        self.container.mux(packet)
        if not self._announced:
            self._announced = True
            print("open", flush=True)

    def audio_frame(self, position: int, samples: bytes) -> None:
        if self.container is None:
            return

        if self._audio_encoder is None or position != self._next_sample:
            self._flush_audio()  # a gap (dropped GOPs): a fresh encoder at the new position
            self._audio_encoder, self._audio_base = self._new_audio_encoder(), position
            self._audio_fed = 0
        x = np.frombuffer(samples, np.float32)
        self._audio_fed += len(x)
        self._next_sample = position + len(x)
        self._mux_audio(self._audio_encoder.encode(x))

    def _mux_audio(self, packets) -> None:
        for p in packets:
            if p.pts is None or p.pts < 0:
                continue  # the encoder's priming: audio starts with the video, not 21 ms before it
            p.pts += self._audio_base
            p.dts = p.pts
            p.stream = self.audio
            self.container.mux(p)

    def _flush_audio(self) -> None:
        if self._audio_encoder is not None:
            # AAC codes 1024-sample frames: pad the last partial one with silence so no
            # mixed audio is left behind in the encoder's FIFO.
            short = -self._audio_fed % AAC_FRAME
            if short:
                self._mux_audio(self._audio_encoder.encode(np.zeros(short, np.float32)))
            self._mux_audio(self._audio_encoder.flush())
            self._audio_encoder = None

    def close(self) -> None:
        if self.container is not None:
            self._flush_audio()
            self.container.close()


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the room's process, which then closes us
    stdin = sys.stdin.buffer
    kind, payload = _read(stdin)
    if kind != HEADER:
        print("error: no header", file=sys.stderr)
        return 2
    muxer = Muxer(json.loads(payload))
    try:
        while True:
            kind, payload = _read(stdin)
            if kind == VIDEO:
                pts, key = _VIDEO.unpack_from(payload)
                muxer.video_packet(pts, bool(key), payload[_VIDEO.size :])
            elif kind == AUDIO:
                (position,) = _AUDIO.unpack_from(payload)
                muxer.audio_frame(position, payload[_AUDIO.size :])
            else:
                break
        muxer.close()
    except Exception as e:  # noqa: BLE001 - one line for the sink, which reports it as an event
        print(f"error: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
