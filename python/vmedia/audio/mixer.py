"""The room's audio: every participant hears everyone but themselves.

A thin wrapper over the C++ AudioMixer that speaks participant names instead of integer
ids. One call per 20 ms frame meters everyone (RFC 6464 levels), updates the speaker
detector, mixes the K loudest talkers and produces one shared mix plus one mix-minus per
mixed talker, all limited; the GIL is released for the whole frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from vmedia import _core
from vmedia.errors import InvalidInputError
from vmedia.media.time import FRAME_SIZE, SAMPLE_RATE

NAME_GRACE_FRAMES = 50  # frames (1 s) a participant who left is still named in events


@dataclass
class MixFrame:
    """What one 20 ms tick of the mixer produced."""

    participants: list[str]  # everyone in the room, in the order of the arrays below
    level_array: np.ndarray  # uint8 RFC 6464 audio level: 0 (loud) .. 127 (silence), -dBov
    voice_array: np.ndarray  # bool: voice activity this frame
    shared: np.ndarray  # float32 x 960: the mix for everyone not in `minus`
    minus: dict[str, np.ndarray]  # the mixed talkers' own mixes, without themselves
    events: list[tuple[str, str]] = field(default_factory=list)  # (kind, participant)
    dominant: str | None = None

    @property
    def levels(self) -> dict[str, int]:
        return dict(zip(self.participants, self.level_array.tolist()))

    @property
    def voice(self) -> dict[str, bool]:
        return dict(zip(self.participants, self.voice_array.tolist()))

    def heard_by(self, participant: str) -> np.ndarray:
        """The audio this participant should receive."""
        return self.minus.get(participant, self.shared)


class AudioMixer:
    """Audio core of one room. Participants are named by strings."""

    def __init__(self, max_mixed: int = 3, *, threshold: float = 0.891, detector: _core.DetectorParams | None = None):
        if max_mixed < 1:
            raise InvalidInputError(f"max_mixed must be >= 1, got {max_mixed}")
        self._core = _core.AudioMixer(max_mixed, FRAME_SIZE, SAMPLE_RATE, threshold, detector or _core.DetectorParams())
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._next = 0
        self._frames = 0  # frames processed
        self._gone: list[tuple[int, int]] = []  # (frame it left at, id): names kept a while

    @property
    def latency(self) -> int:
        """Samples the mixes lag the inputs (the limiter's look-ahead)."""
        return self._core.latency

    @property
    def participants(self) -> list[str]:
        return list(self._ids)

    def add(self, participant: str) -> None:
        if participant in self._ids:
            raise InvalidInputError(f"participant {participant!r} is already in the mixer")
        self._ids[participant] = self._next
        self._names[self._next] = participant
        self._core.add(self._next)
        self._next += 1

    def remove(self, participant: str) -> None:
        """Leaves with a fade over the next frame, never a click."""
        self._core.remove(self._id(participant))
        # Its id is never reused, so a late event (the fade-out frame) still names it; the
        # name is forgotten a second later, so a long call's joins and leaves stay bounded.
        self._gone.append((self._frames, self._ids.pop(participant)))

    def set_gain(self, participant: str, gain: float) -> None:
        self._core.set_gain(self._id(participant), float(gain))

    def set_muted(self, participant: str, muted: bool) -> None:
        """Muted: not mixed and never the active speaker; unmuting makes them eligible again."""
        self._core.set_muted(self._id(participant), bool(muted))

    def set_speaker_eligible(self, participant: str, eligible: bool) -> None:
        """Whether this participant may become the active speaker (an auditorium audience
        may not). They are still mixed and metered; voice flags and started/stopped events
        still come."""
        self._core.set_speaker_eligible(self._id(participant), bool(eligible))

    def set_forced(self, participant: str, forced: bool) -> None:
        """Keep in the mix whether or not it sounds like speech (a presenter, a test tune)."""
        self._core.set_forced(self._id(participant), bool(forced))

    def mute_all(self, *, except_: tuple[str, ...] = ()) -> None:
        for p in self._ids:
            self.set_muted(p, p not in except_)

    def process(self, frames: Mapping[str, np.ndarray]) -> MixFrame:
        """Mix one frame. `frames` maps participant to 960 float32 samples (48 kHz mono);
        a participant missing from it has a gap this frame and is faded to silence."""
        names = list(frames)
        ids = np.fromiter((self._id(n) for n in names), np.int64, len(names))
        try:
            block = np.stack(list(frames.values())) if names else np.zeros((0, FRAME_SIZE), np.float32)
            ok = block.shape == (len(names), FRAME_SIZE) and np.issubdtype(block.dtype, np.floating)
        except ValueError:  # ragged: np.stack could not line the frames up
            ok = False
        if not ok:
            for n in names:
                x = np.asarray(frames[n])
                if x.shape != (FRAME_SIZE,) or not np.issubdtype(x.dtype, np.floating):
                    raise InvalidInputError(
                        f"participant {n!r}: a frame is {FRAME_SIZE} float samples (20 ms at 48 kHz mono), got {x.dtype} {x.shape}"
                    )
        r = self._core.process(ids, block.astype(np.float32, copy=False))
        self._frames += 1
        while self._gone and self._gone[0][0] < self._frames - NAME_GRACE_FRAMES:
            self._names.pop(self._gone.pop(0)[1], None)
        name = self._names.__getitem__
        return MixFrame(
            participants=[name(i) for i in r["ids"].tolist()],
            level_array=r["levels"],
            voice_array=r["voice"],
            shared=r["shared"],
            minus={name(i): row for i, row in zip(r["mixed"].tolist(), r["minus"])},
            events=[(kind, name(i)) for kind, i in r["events"]],
            dominant=None if r["dominant"] is None else name(r["dominant"]),
        )

    def _id(self, participant: str) -> int:
        try:
            return self._ids[participant]
        except KeyError:
            raise InvalidInputError(f"participant {participant!r} is not in the mixer") from None
