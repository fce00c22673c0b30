"""Small Encoder/Decoder classes around PyAV codec contexts, and the output profiles."""

from vmedia.codecs.audio import AudioDecoder, AudioEncoder
from vmedia.codecs.video import FULL_HD, HD, LOW, OutputProfile, VideoDecoder, VideoEncoder

__all__ = ["FULL_HD", "HD", "LOW", "AudioDecoder", "AudioEncoder", "OutputProfile", "VideoDecoder", "VideoEncoder"]
