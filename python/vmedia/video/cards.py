"""Tile cards as tile sources: the audio-only participant, "+N" more people, and the
picture of an empty room, drawn by vmedia.media.labels and converted to I420. Each call
renders; a LabelCache (vmedia.video.label_cache) keeps them between frames."""

from __future__ import annotations

from vmedia.media import labels
from vmedia.media.frames import I420Frame


def audio_only(name: str, width: int, height: int) -> I420Frame:
    return labels.to_frame(labels.audio_only_card(name, width, height))


def overflow(hidden: int, width: int, height: int) -> I420Frame:
    return labels.to_frame(labels.overflow_card(hidden, width, height))


def alone(width: int, height: int) -> I420Frame:
    return labels.to_frame(labels.alone_card(width, height))
