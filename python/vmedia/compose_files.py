"""Compose per-participant recordings into one meeting file (`vmedia compose`)."""

from __future__ import annotations

import heapq
import time
from pathlib import Path

import av

from vmedia.errors import InvalidInputError, VmediaError
from vmedia.video_codecs import HD, OutputProfile


def _open(path: str):
    try:
        return av.open(path)
    except (av.error.FFmpegError, OSError) as e:
        raise VmediaError(f"cannot read {path!r}: {e}") from e


def compose_files(inputs: list[str], out: str, *, layout: str = "gallery", profile: OutputProfile = HD,
                  show_progress: bool = True, variant: str = "1+7") -> dict:
    """Each input file is one participant. H.264 video goes in as packets (so invisible
    participants are not decoded), other codecs as decoded frames; audio is decoded."""
    from vmedia.demo import progress
    from vmedia.mixer import Mixer
    from vmedia.sinks import ContainerSink

    if not inputs:
        raise InvalidInputError("give at least one input file")
    containers = [_open(p) for p in inputs]
    mixer = Mixer([profile], layout=layout, speaker_variant=variant)
    streams = []
    duration = 0.0
    for i, (path, c) in enumerate(zip(inputs, containers)):
        pid = f"p{i}"
        mixer.add_participant(pid, Path(path).stem)
        chosen = [s for s in (c.streams.video[:1] + c.streams.audio[:1])]
        if not chosen:
            raise InvalidInputError(f"{path!r} has neither video nor audio")
        streams.append((pid, c, chosen))
        if c.duration:
            duration = max(duration, c.duration / av.time_base)
    sink = ContainerSink(mixer, out)

    def media(pid, c, chosen):
        """(time, pid, kind, item) in presentation order for one file."""
        video = next((s for s in chosen if s.type == "video"), None)
        # H.264 from MP4/MKV is length-prefixed; the room takes Annex B, like RTP gives.
        annexb = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", video) if video and video.codec_context.name == "h264" else None
        for packet in c.demux(chosen):
            if packet.pts is None or packet.size == 0:
                continue
            t = float(packet.pts * packet.time_base)
            if packet.stream.type == "audio":
                for frame in packet.decode():
                    yield (t, pid, "audio", frame)
            elif annexb is not None:
                for p in annexb.filter(packet):
                    yield (t, pid, "video", bytes(p))
            else:
                for frame in packet.decode():
                    yield (t, pid, "video", frame)

    merged = heapq.merge(*(media(*s) for s in streams), key=lambda item: item[0])
    total = max(1, int(duration * profile.fps))
    started = time.perf_counter()
    frame_index = 0
    for t, pid, kind, item in merged:
        while frame_index / profile.fps < t:
            sink.write(mixer.tick(frame_index / profile.fps))
            frame_index += 1
            if show_progress and frame_index % 15 == 0:
                progress(min(frame_index, total), total, started, "composing")
        (mixer.push_video if kind == "video" else mixer.push_audio)(pid, item, t)
    while frame_index < total:
        sink.write(mixer.tick(frame_index / profile.fps))
        frame_index += 1
    if show_progress:
        progress(total, total, started, "composing")
    sink.close(mixer.close())
    for c in containers:
        c.close()
    return {"path": out, "frames": frame_index, "wall_seconds": time.perf_counter() - started}
