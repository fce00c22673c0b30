"""Every receiver's audio as one continuous stream in its own codec, at the cost of one
encode per distinct (codec, mix) — the shared mix, each mixed talker's mix-minus, and
silence for the lobby — never one per receiver.

A receiver moves between mixes when it enters or leaves the mixed set. The mixes
themselves are continuous there (the core ramps gains and starts a talker's limiter from
the shared one); what must not jump is the codec: packets carry the room's frame number
as pts whatever encoder made them, a new mix-minus Opus encoder is primed with what its
receiver heard in the frames before, and G.711 decimation runs over the receiver's own
previous frame.
"""

from __future__ import annotations

from collections.abc import Mapping

import av
import numpy as np

from vmedia.audio.mixer import MixFrame
from vmedia.codecs.audio import AudioEncoder, G711Encoder
from vmedia.media.time import FRAME_SIZE

RECEIVER_CODECS = ("opus", "pcmu", "pcma")
PRIME_FRAMES = 3  # frames of the receiver's past fed to a new mix-minus Opus encoder
SILENCE = np.zeros(FRAME_SIZE, np.float32)


def check_receiver_codec(codec: str) -> str:
    from vmedia.errors import InvalidInputError

    if codec not in RECEIVER_CODECS:
        raise InvalidInputError(f"unknown audio codec {codec!r}; expected one of {list(RECEIVER_CODECS)}")
    return codec


class ReceiverAudio:
    """Encodes one 20 ms frame for every receiver; remembers what each one heard."""

    def __init__(self, opus_bitrate: int = 32000):
        self.opus_bitrate = opus_bitrate
        self._opus: dict[str, AudioEncoder] = {}  # mix ("shared", "minus:<id>", "silence") -> encoder
        self._g711: dict[str, G711Encoder] = {}  # codec -> its (stateless) quantiser
        self._heard: dict[str, list[np.ndarray]] = {}  # receiver -> its last PRIME_FRAMES frames
        self.encodes = 0  # encoder calls, for cost accounting

    def encode(
        self, index: int, mix: MixFrame, receivers: Mapping[str, str], waiting: frozenset[str] | set[str]
    ) -> tuple[list[av.Packet], dict[str, list[av.Packet]]]:
        """(the shared mix as Opus, each receiver's packets) for frame `index`; receivers
        maps id -> codec. Those in `waiting` (the lobby) hear silence, never the room."""
        groups: dict[tuple[str, str], list[str]] = {("opus", "shared"): []}  # shared Opus stays warm
        for pid, codec in receivers.items():
            source = "silence" if pid in waiting else (f"minus:{pid}" if pid in mix.minus else "shared")
            groups.setdefault((codec, source), []).append(pid)
        out: dict[str, list[av.Packet]] = {}
        shared: list[av.Packet] = []
        for (codec, source), pids in groups.items():
            samples = self._samples(mix, source)
            if codec == "opus":
                encoder = self._opus.get(source) or self._new_opus(source, pids)
                packets = encoder.encode(samples, index)
                self.encodes += 1
                self._deliver(pids, samples, packets, out)
                if source == "shared":
                    shared = packets
                continue
            g711 = self._g711.get(codec) or self._g711.setdefault(codec, G711Encoder(codec))
            # Decimation continues each receiver's own waveform: receivers that heard the
            # same previous frame share one encode.
            by_past: dict[int, list[str]] = {}
            for pid in pids:
                by_past.setdefault(id(self._last(pid)), []).append(pid)
            for same in by_past.values():
                self.encodes += 1
                self._deliver(same, samples, g711.encode(samples, self._last(same[0]), index), out)
        # A mix-minus encoder whose talker left the mix is done.
        used = {source for codec, source in groups if codec == "opus"}
        for source in [s for s in self._opus if s not in used]:
            del self._opus[source]
        for pid in [p for p in self._heard if p not in receivers]:
            del self._heard[pid]
        return shared, out

    def _last(self, pid: str) -> np.ndarray | None:
        heard = self._heard.get(pid)
        return heard[-1] if heard else None

    def _deliver(self, pids: list[str], samples: np.ndarray, packets: list[av.Packet], out: dict) -> None:
        for pid in pids:
            out[pid] = packets
            heard = self._heard.setdefault(pid, [])
            heard.append(samples)
            del heard[:-PRIME_FRAMES]

    def _new_opus(self, source: str, pids: list[str]) -> AudioEncoder:
        encoder = self._opus[source] = AudioEncoder("opus", self.opus_bitrate)
        # A talker's new mix-minus encoder is primed with what the talker heard, so its
        # first packet continues the receiver's decoder state instead of starting cold.
        if source.startswith("minus:"):
            for past in self._heard.get(pids[0], []):
                encoder.encode(past)
        return encoder

    @staticmethod
    def _samples(mix: MixFrame, source: str) -> np.ndarray:
        if source == "shared":
            return mix.shared
        if source == "silence":
            return SILENCE
        return mix.minus[source[len("minus:") :]]
