"""The room's audio mixer (levels, speaker detection, mix-minus) over the C++ core."""

from vmedia.audio.mixer import AudioMixer, MixFrame

__all__ = ["AudioMixer", "MixFrame"]
