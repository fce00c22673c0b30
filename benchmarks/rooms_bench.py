"""Rooms per machine in real time: one RoomHost, 1, 2, 3 ... identical rooms ticked on the
wall clock until the machine saturates, for two room kinds:

- "4x360p": 4 people in a 640x360 gallery (one view, one 360p encode per frame);
- "9x720p-speaker": 9 people in a 1280x720 1+7 speaker layout (two views: the speaker
  sees the previous speaker, everyone else the speaker).

Every participant sends 640x360 H.264 (30 fps) and Opus packets of a scripted meeting
(pipeline_bench.make_inputs), fed to the room's inputs on its tick worker as the clock
reaches them, so rooms decode, mix, compose and encode exactly as live. Per point:
the host's CPU use (process CPU-seconds per media-second), each room's own CPU from the
host's accounts, p50/p99 tick lateness (worst room), video frames dropped by lateness or
degrading. A point is "real time" when p99 lateness stays under two frame intervals and
no frame was dropped.

Run: cd benchmarks && python rooms_bench.py [--kind 4x360p 9x720p-speaker] [--seconds 8] [--max-rooms 12] [--cores 2]
     [--compose-threads N: each room's compose on N threads of the host's compose context]
     [--offline: tick as fast as possible and report what each room costs, not lateness]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import av
import numpy as np
from av.bitstream import BitStreamFilterContext

from pipeline_bench import make_inputs
from vmedia.codecs.video import HD, LOW
from vmedia.hosting import RoomHost
from vmedia.hosting.host import HostEventKind

KINDS = {
    "4x360p": dict(participants=4, profile=LOW, layout="gallery"),
    "9x720p-speaker": dict(participants=9, profile=HD, layout="speaker"),
}
LOOP = 10.0  # seconds of recorded meeting, looped


def packets_of(path) -> list[tuple[float, str, bytes]]:
    """(media time, 'video'|'audio', packet bytes) of one participant's file, in order."""
    items = []
    with av.open(str(path)) as c:
        # Matroska carries H.264 length-prefixed; a live sender's RTP depacketizer gives Annex B.
        annexb = BitStreamFilterContext("h264_mp4toannexb", c.streams.video[0])
        for packet in c.demux():
            if packet.size == 0 or packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base)
            if packet.stream.type == "video":
                items += [(t, "video", bytes(p)) for p in annexb.filter(packet)]
            else:
                items.append((t, "audio", bytes(packet)))
    return sorted(items, key=lambda x: x[0])


class Feeder:
    """Pushes each participant's packets into one room as the room's clock reaches them,
    looping the recording (every loop starts with a keyframe)."""

    def __init__(self, mixer, streams, offset: float):
        self.mixer, self.streams, self.offset = mixer, streams, offset
        self.pos = [0] * len(streams)
        self.loop = [0] * len(streams)

    def __call__(self, t: float) -> None:
        for i, items in enumerate(self.streams):
            pid = f"p{i}"
            while True:
                if self.pos[i] == len(items):
                    self.pos[i], self.loop[i] = 0, self.loop[i] + 1
                ts, kind, data = items[self.pos[i]]
                at = ts + self.loop[i] * LOOP - self.offset
                if at > t:
                    break
                self.pos[i] += 1
                if at >= 0:
                    (self.mixer.push_video if kind == "video" else self.mixer.push_audio)(pid, data, at)


def run_point(kind: str, rooms: int, seconds: float, streams, cores: int, offline: bool = False,
              compose_threads: int = 1) -> dict:
    spec = KINDS[kind]
    n = spec["participants"]
    events = []
    host = RoomHost(cores=cores, utilization=1.0, compose_threads=compose_threads)
    host.budget = float("inf")  # admission off: this benchmark goes past saturation on purpose
    host.subscribe(events.append)
    for r in range(rooms):
        room_id = f"{kind}-{r}"
        mixer = host.create_mixer(room_id, [spec["profile"]], participants=n, layout=spec["layout"], labels=True)
        for i in range(n):
            mixer.add_participant(f"p{i}", f"Person {i}")
        feeder = Feeder(mixer, streams, offset=(r * 0.73) % LOOP)
        host.add_feed(room_id, feeder)
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = time.monotonic()
    if offline:  # as fast as the CPU allows: what each room costs, whatever else the machine runs
        host.run_until(seconds)
    else:
        host.start()
        time.sleep(seconds)
        host.stop()
    wall = time.monotonic() - w0
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    stats = host.stats()
    host.close()
    process_cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    fps = spec["profile"].fps
    return {
        "rooms": rooms,
        "host_cpu": process_cpu / wall,
        "speed": sum(s.media_seconds for s in stats.values()) / wall,
        "room_cpu": float(np.median([s.cpu_per_media_second for s in stats.values()])),
        "estimate": next(iter(stats.values())).estimated_cpu,
        "decode_share": sum(s.decode_cpu_seconds for s in stats.values()) / max(1e-9, sum(s.cpu_seconds for s in stats.values())),
        "p50": max(s.lateness_p50 for s in stats.values()),
        "p99": max(s.lateness_p99 for s in stats.values()),
        "dropped": sum(s.video_frames_dropped for s in stats.values())
        / max(1, sum(s.ticks + s.video_frames_dropped for s in stats.values())),
        "degraded": sum(e.kind == HostEventKind.DEGRADED for e in events),
        "realtime": max(s.lateness_p99 for s in stats.values()) < 2 / fps
        and all(s.video_frames_dropped == 0 for s in stats.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", nargs="+", default=list(KINDS), choices=list(KINDS))
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--max-rooms", type=int, default=12)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--offline", action="store_true", help="tick as fast as possible: CPU cost per room, no lateness")
    ap.add_argument("--compose-threads", type=int, default=1, help="threads per room's compose (RoomHost(compose_threads=))")
    args = ap.parse_args()
    print(f"cores: {args.cores} (of {os.cpu_count()}), compose threads per room: {args.compose_threads}, "
          f"load average before: {os.getloadavg()[0]:.2f}")
    for kind in args.kind:
        n = KINDS[kind]["participants"]
        streams = [packets_of(p) for p in make_inputs(n, LOOP)]
        if args.offline:
            print(f"\n{kind}, offline\n| rooms | CPU-s/media-s per room, median (estimate) | decode share | media-s per wall-s, all rooms |")
            print("|---|---|---|---|")
            for rooms in range(1, args.max_rooms + 1):
                p = run_point(kind, rooms, args.seconds, streams, args.cores, offline=True, compose_threads=args.compose_threads)
                print(f"| {rooms} | {p['room_cpu']:.3f} ({p['estimate']:.3f}) | {p['decode_share']:.0%} | {p['speed']:.2f} |", flush=True)
            continue
        print(f"\n{kind}\n| rooms | host CPU (cores busy) | CPU-s/media-s per room (estimate) | tick lateness p50 / p99 "
              "| video frames dropped | degrade steps | real time |")
        print("|---|---|---|---|---|---|---|")
        saturated = 0
        for rooms in range(1, args.max_rooms + 1):
            p = run_point(kind, rooms, args.seconds, streams, args.cores, compose_threads=args.compose_threads)
            print(f"| {rooms} | {p['host_cpu']:.2f} | {p['room_cpu']:.3f} ({p['estimate']:.3f}) "
                  f"| {p['p50'] * 1000:.0f} / {p['p99'] * 1000:.0f} ms | {p['dropped']:.1%} | {p['degraded']} "
                  f"| {'yes' if p['realtime'] else 'no'} |", flush=True)
            saturated += not p["realtime"]
            if saturated >= 2:  # one point past the knee, to show the curve bend
                break
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
