"""Where a room's composite goes besides the participants: recordings (MP4/MKV) and live
streams (RTMP/FLV to YouTube or Vimeo). H.264 packets are muxed as the mixer encoded them
(no second video encode); the shared mix is encoded to AAC once more for the container."""

from __future__ import annotations

from fractions import Fraction

import av

from vmedia.codecs.audio import AudioEncoder
from vmedia.errors import InvalidInputError, VmediaError
from vmedia.engine.mixer import Mixer, TickOutput


class ContainerSink:
    """Muxes one output profile plus the room mix into a file or URL.

    ContainerSink(mixer, "meeting.mp4"), or ContainerSink(mixer, "rtmp://a.rtmp.youtube.com/live2/KEY", format="flv").
    """

    def __init__(self, mixer: Mixer, target: str, *, profile: str | None = None, format: str | None = None, audio_bitrate: int = 96000,
                 faststart: bool = False):
        names = [p.name for p in mixer.profiles]
        profile = profile or names[0]
        if profile not in names:
            raise InvalidInputError(f"no output profile {profile!r}; the mixer has {names}")
        prof = next(p for p in mixer.profiles if p.name == profile)
        self.profile = profile
        try:
            self._container = av.open(target, "w", format=format, options={"movflags": "+faststart"} if faststart else {})
        except (av.error.FFmpegError, ValueError) as e:
            raise VmediaError(f"cannot open {target!r} for writing: {e}") from e
        encoder = mixer._encoders[profile].context
        self._video = self._container.add_stream("h264", rate=prof.fps)
        self._video.width, self._video.height, self._video.pix_fmt = prof.width, prof.height, "yuv420p"
        self._video.codec_context.extradata = encoder.extradata
        self._video.time_base = Fraction(1, prof.fps)
        self._audio_encoder = AudioEncoder("aac", audio_bitrate)
        self._audio = self._container.add_stream("aac", rate=48000)
        self._audio.layout = "mono"
        self._audio.codec_context.extradata = self._audio_encoder.context.extradata
        self._audio.time_base = Fraction(1, 48000)
        self.video_packets = 0

    def write(self, out: TickOutput) -> None:
        for packet in out.video.get(self.profile, []):
            packet.stream = self._video
            self._container.mux(packet)
            self.video_packets += 1
        for mix in out.mixes:
            for packet in self._audio_encoder.encode(mix.shared):
                packet.stream = self._audio
                self._container.mux(packet)

    def close(self, final: TickOutput | None = None) -> None:
        if final is not None:
            self.write(final)
        for packet in self._audio_encoder.flush():
            packet.stream = self._audio
            self._container.mux(packet)
        self._container.close()
