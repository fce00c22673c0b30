"""`vmedia compose`: per-participant recordings composed into one meeting file."""

from __future__ import annotations

import argparse
import heapq
import logging
import time
from pathlib import Path

import av

from vmedia.errors import InvalidInputError, SinkError, VmediaError
from vmedia.cli import common
from vmedia.codecs.video import HD, OutputProfile
from vmedia.media.time import EPS

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
    frame rate until every input has ended; returns the number of video frames.
    on_progress(done, total) is called every 15 frames."""
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
        total = max(1, int(round(duration * mixer.fps)))  # an estimate, for progress only
        end = 0.0  # where the last media item ends: the meeting's length
        frame_index = 0

        def tick_until(t):
            nonlocal frame_index
            while frame_index / mixer.fps < t - EPS:
                on_output(mixer.tick(frame_index / mixer.fps))
                frame_index += 1
                if on_progress and frame_index % 15 == 0:
                    on_progress(frame_index, max(total, frame_index))

        for t, pid, kind, item in heapq.merge(*sources, key=lambda x: x[0]):
            tick_until(t)
            length = item.samples / item.sample_rate if kind == "audio" else 1 / mixer.fps
            end = max(end, t + length)
            (mixer.push_video if kind == "video" else mixer.push_audio)(pid, item, t)
        tick_until(end)
        return frame_index
    finally:
        for c in containers:
            c.close()


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("compose", help="compose per-participant media files into one MP4", formatter_class=common.Formatter,
                       description="Compose one recording per participant into one meeting file.")
    p.add_argument("inputs", nargs="+", help="one media file per participant (video and/or audio)")
    common.add_output_options(p, "composed.mp4")
    p.add_argument("--variant", default="1+7", choices=["1+7", "1+21", "2+21", "1+33"], help="speaker layout variant")
    return p


def run(args: argparse.Namespace) -> int:
    summary = compose_files(args.inputs, args.out, layout=args.layout, profile=common.profile(args),
                            show_progress=not args.quiet, variant=args.variant, faststart=args.faststart)
    what = f"{summary['frames']} frames from {len(args.inputs)} inputs in {summary['wall_seconds']:.1f} s"
    if summary["interrupted"]:
        print(f"interrupted: {summary['path']} is finished and playable ({what})")
        return common.EXIT_INTERRUPTED
    print(f"wrote {summary['path']}: {what}")
    return common.EXIT_OK


def compose_files(inputs: list[str], out: str, *, layout: str = "gallery", profile: OutputProfile = HD,
                  show_progress: bool = True, variant: str = "1+7", faststart: bool = False) -> dict:
    """Compose per-participant files into one MP4 (H.264 + AAC). Ctrl-C stops early and
    still finishes the file (summary["interrupted"])."""
    from vmedia.engine.mixer import Mixer
    from vmedia.sinks import ContainerSink

    if not inputs:
        raise InvalidInputError("give at least one input file")
    for path in inputs:
        if not Path(path).is_file():
            raise InvalidInputError(f"no such input file: {path!r}")
    common.check_output(out, inputs)
    started = time.perf_counter()
    mixer = Mixer([profile], layout=layout, speaker_variant=variant)
    sink = ContainerSink(mixer, out, faststart=faststart, realtime=False)
    bar = None

    def report(done, total):
        nonlocal bar
        if bar is None:
            bar = common.Progress(total, "composing", profile.fps, enabled=show_progress)
        bar.update(done)

    interrupted = False
    with common.ctrl_c() as stop:

        def write(tick_output) -> None:  # once per frame: where Ctrl-C stops the loop
            if stop.is_set():
                raise KeyboardInterrupt
            sink.write(tick_output)

        try:
            drive(mixer, inputs, write, on_progress=report)
        except KeyboardInterrupt:
            interrupted = True  # finish the file below: what was composed stays playable
            log.info("interrupted; finishing %s", out)
        finally:
            if bar is not None:
                bar.close()
            stats = sink.close(mixer.close())
    if stats.error:
        raise SinkError(stats.error)
    return {"path": out, "frames": stats.video_frames, "wall_seconds": time.perf_counter() - started, "interrupted": interrupted}
