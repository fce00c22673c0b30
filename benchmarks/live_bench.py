"""Real time through the live driver: does a room hold its frame rate on this machine?

N participants' 640x360 H.264 + Opus (the cached files of pipeline_bench.py) are pushed
into a room at their media times by a driver feed, as a WebRTC server would push them,
while the LiveDriver ticks on the wall clock. Reported: how late the ticks started (p50,
p99, max), video frames the lateness policy skipped, audio frames mixed against the
20 ms frames due (the policy never skips audio), and CPU-seconds per media-second.

Rooms of the issue: a 6-person room at 1080p30 (a sensitive room's top profile) and a
25-person room at 720p30 (administrative), speaker layout, one x264 encode per distinct
view (speaker and previous speaker: two), `--threads` x264 threads per encode.

Run: python benchmarks/live_bench.py [--rooms 6x1080 25x720] [--seconds 20] [--threads 1] [--offline]
(--offline: no clock, as fast as the CPU allows: the CPU cost, which a loaded machine
cannot distort the way it distorts lateness.)
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import resource
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_bench import make_inputs  # noqa: E402

from vmedia import Mixer, OutputProfile  # noqa: E402
from vmedia.cli.compose import media_items  # noqa: E402
from vmedia.hosting import LiveDriver  # noqa: E402
from vmedia.media.time import FRAME_SECONDS  # noqa: E402

PROFILES = {
    "720": dict(name="720p", width=1280, height=720, bitrate=2_500_000),
    "1080": dict(name="1080p", width=1920, height=1080, bitrate=4_500_000),
}


def load_items(paths: list[Path]) -> list[tuple[float, str, str, object]]:
    """Every participant's media, (time, pid, kind, item), in time order, in memory."""
    sources = []
    for i, path in enumerate(paths):
        c = av.open(str(path))
        sources.append(list(media_items(f"p{i}", c, c.streams.video[:1] + c.streams.audio[:1])))
    return list(heapq.merge(*sources, key=lambda item: item[0]))


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_cost(n: int, size: str, seconds: float, threads: int) -> dict:
    """The same room ticked as fast as the CPU allows: CPU-seconds per media-second (all
    threads) and the tick's own thread time per frame, whatever else the machine runs."""
    items = load_items(make_inputs(n, seconds))
    profile = OutputProfile(**PROFILES[size], threads=threads)
    mixer = Mixer([profile], layout="speaker", labels=True)
    for i in range(n):
        mixer.add_participant(f"p{i}", f"Person {i}")
    k = pushed = 0
    tick_cpu = []
    c0 = cpu()
    while k / profile.fps <= seconds:
        t = k / profile.fps
        while pushed < len(items) and items[pushed][0] <= t:
            when, pid, kind, item = items[pushed]
            (mixer.push_video if kind == "video" else mixer.push_audio)(pid, item, when)
            pushed += 1
        t0 = time.thread_time()
        mixer.tick(t)
        tick_cpu.append(time.thread_time() - t0)
        k += 1
    used = cpu() - c0
    mixer.close()
    return {"room": f"{n} x {size}p30", "cpu_per_media_second": round(used / seconds, 2),
            "tick_thread_ms": {q: round(float(np.percentile(tick_cpu, q)) * 1000, 1) for q in (50, 99)}}


def run_room(n: int, size: str, seconds: float, threads: int) -> dict:
    items = load_items(make_inputs(n, seconds))
    times = [item[0] for item in items]
    profile = OutputProfile(**PROFILES[size], threads=threads)
    mixer = Mixer([profile], layout="speaker", labels=True)
    for i in range(n):
        mixer.add_participant(f"p{i}", f"Person {i}")
    pushed = 0
    mixed = 0

    def feed(t: float) -> None:  # the tick thread: everything due by t, as a server pushes it
        nonlocal pushed
        end = bisect.bisect_right(times, t)
        for _, pid, kind, item in items[pushed:end]:
            (mixer.push_video if kind == "video" else mixer.push_audio)(pid, item, _)
        pushed = end

    def count(out) -> None:
        nonlocal mixed
        mixed += len(out.mixes)

    driver = LiveDriver(mixer)
    driver.add_feed(feed)
    driver.add_output(count)
    c0, w0 = cpu(), time.monotonic()
    driver.start(until=seconds)
    driver.done.wait(seconds * 3 + 30)
    wall, used = time.monotonic() - w0, cpu() - c0
    driver.stop()
    mixer.close()
    s = driver.stats
    lateness = np.array(list(s.recent))
    return {
        "room": f"{n} x {size}p30", "ticks": s.ticks, "video_frames_dropped": s.video_frames_dropped,
        "video_frames_due": int(seconds * profile.fps) + 1,
        "lateness_ms": {q: round(float(np.percentile(lateness, q)) * 1000, 1) for q in (50, 99, 100)},
        "audio_mixed": mixed, "audio_due": int(seconds / FRAME_SECONDS + 1e-9),
        "cpu_per_media_second": round(used / seconds, 2), "wall": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", nargs="+", default=["6x1080", "25x720"], help="NxSIZE, SIZE 720 or 1080")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=1, help="x264 threads per encode")
    parser.add_argument("--offline", action="store_true", help="tick as fast as possible: the CPU cost only")
    args = parser.parse_args()
    for spec in args.rooms:
        n, size = spec.split("x")
        if args.offline:
            r = cpu_cost(int(n), size, args.seconds, args.threads)
            print(f"{r['room']}: {r['cpu_per_media_second']} CPU-s per media-s, tick thread "
                  f"p50 {r['tick_thread_ms'][50]} ms p99 {r['tick_thread_ms'][99]} ms per frame (budget 33.3)")
            continue
        r = run_room(int(n), size, args.seconds, args.threads)
        print(f"{r['room']}: {r['ticks']} ticks, {r['video_frames_dropped']}/{r['video_frames_due']} video frames skipped, "
              f"lateness p50 {r['lateness_ms'][50]} ms p99 {r['lateness_ms'][99]} ms max {r['lateness_ms'][100]} ms, "
              f"audio {r['audio_mixed']}/{r['audio_due']} frames mixed, {r['cpu_per_media_second']} CPU-s per media-s")


if __name__ == "__main__":
    main()
