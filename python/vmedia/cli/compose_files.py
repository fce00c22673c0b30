"""Compose per-participant recordings into one meeting file (`vmedia compose`)."""

from __future__ import annotations

import heapq
import logging
import time
from pathlib import Path

import av

from vmedia.errors import InvalidInputError, VmediaError
from vmedia.codecs.video import HD, OutputProfile

log = logging.getLogger("vmedia.compose")


def _open(path: str):
    try:
        return av.open(path)
    except (av.error.FFmpegError, OSError) as e:
        raise VmediaError(f"cannot read {path!r}: {e}") from e


def media_items(pid: str, container, streams):
    """(time, pid, kind, item) in presentation order for one participant's file. H.264
    goes in as Annex B packets (so invisible participants are never decoded), other video
    codecs as decoded frames; audio as decoded frames."""
    video = next((s for s in streams if s.type == "video"), None)
    # H.264 from MP4/MKV is length-prefixed; the room takes Annex B, as RTP gives it.
    annexb = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", video) if video and video.codec_context.name == "h264" else None
    seconds = {s.index: float(s.time_base) for s in streams}  # float maths, not Fractions, per packet
    try:
        for packet in container.demux(streams):
            if packet.pts is None or packet.size == 0:
                continue
            t = packet.pts * seconds[packet.stream.index]
            if packet.stream.type == "audio":
                for frame in packet.decode():
                    yield (t, pid, "audio", frame)
            elif annexb is not None:
                for p in annexb.filter(packet):
                    yield (t, pid, "video", bytes(p))
            else:
                for frame in packet.decode():
                    yield (t, pid, "video", frame)
    except av.error.FFmpegError as e:
        # A damaged file ends that participant's media; the others go on.
        log.warning("participant %s: input ends early: %s", pid, e)


def drive(mixer, inputs: list[str], on_output, *, on_progress=None) -> int:
    """Add one participant per file, feed their media in time order, tick the mixer at its
    frame rate until every input has ended; returns the number of video frames."""
    containers = []
    try:
        for p in inputs:
            containers.append(_open(p))
        sources = []
        duration = 0.0
        for i, (path, c) in enumerate(zip(inputs, containers)):
            pid = f"p{i}"
            mixer.add_participant(pid, Path(path).stem)
            streams = c.streams.video[:1] + c.streams.audio[:1]
            if not streams:
                raise InvalidInputError(f"{path!r} has neither video nor audio")
            sources.append(media_items(pid, c, streams))
            if c.duration:
                duration = max(duration, c.duration / av.time_base)
        total = max(1, int(round(duration * mixer.fps)))
        frame_index = 0

        def tick_until(t):
            nonlocal frame_index
            while frame_index / mixer.fps < t and frame_index < total:
                on_output(mixer.tick(frame_index / mixer.fps))
                frame_index += 1
                if on_progress and frame_index % 15 == 0:
                    on_progress(frame_index, total)

        for t, pid, kind, item in heapq.merge(*sources, key=lambda x: x[0]):
            tick_until(t)
            (mixer.push_video if kind == "video" else mixer.push_audio)(pid, item, t)
        tick_until(float("inf"))
        return frame_index
    finally:
        for c in containers:
            c.close()


def compose_files(inputs: list[str], out: str, *, layout: str = "gallery", profile: OutputProfile = HD,
                  show_progress: bool = True, variant: str = "1+7") -> dict:
    """Compose per-participant files into one MP4 (H.264 + AAC)."""
    from vmedia.cli.demo import progress
    from vmedia.engine.mixer import Mixer
    from vmedia.sinks import ContainerSink

    if not inputs:
        raise InvalidInputError("give at least one input file")
    for path in inputs:
        if not Path(path).is_file():
            raise InvalidInputError(f"no such input file: {path!r}")
    started = time.perf_counter()
    mixer = Mixer([profile], layout=layout, speaker_variant=variant)
    sink = ContainerSink(mixer, out)
    report = (lambda done, total: progress(done, total, started, "composing")) if show_progress else None
    frames = drive(mixer, inputs, sink.write, on_progress=report)
    if report:
        report(frames, frames)
    sink.close(mixer.close())
    return {"path": out, "frames": frames, "wall_seconds": time.perf_counter() - started}
