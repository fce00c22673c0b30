"""Time and audio framing constants, with their units, in one place.

Media time is in seconds from the room's start; packets carry pts in the time bases below.
"""

from fractions import Fraction

SAMPLE_RATE = 48000  # Hz: every mix runs at 48 kHz mono
FRAME_SIZE = 960  # samples per audio frame: 20 ms at 48 kHz
FRAME_SECONDS = FRAME_SIZE / SAMPLE_RATE  # 0.02 s, one audio frame (ptime)
AUDIO_TIME_BASE = Fraction(1, SAMPLE_RATE)  # pts of 48 kHz audio packets
G711_RATE = 8000  # Hz: G.711 (PCMU/PCMA) telephone audio
G711_TIME_BASE = Fraction(1, G711_RATE)
RTP_VIDEO_TIME_BASE = Fraction(1, 90000)  # RTP's video clock
EPS = 1e-9  # seconds: tolerance when comparing float media times on a frame grid


def video_time_base(fps: int) -> Fraction:
    """Output video pts count frames: 1/fps."""
    return Fraction(1, fps)
