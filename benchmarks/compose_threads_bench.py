"""Compose threads per room on a host's shared compose context: 1 (rooms are the
parallelism) or the host's cores (idle compose workers help a room's canvas).

K threads stand for K rooms' tick workers, each composing a 1280x720 1+7 speaker canvas
(a 640x360 picture in the main tile, seven in the strip, name labels, a border) through
one ComposeContext sized to the machine, with `threads` 1 or N. Reported per K: canvases
per second over all callers, and the median time of one canvas. The two settings run
alternately, `--repeat` times, so load from other processes hits both alike.

Run: cd benchmarks && python compose_threads_bench.py [--callers 1 2 4] [--seconds 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import numpy as np

from vmedia import Compositor, I420Frame, Tile, _core
from vmedia.layouts import Rect
from vmedia.video.label_cache import LabelCache


def speaker_tiles(rng) -> list[Tile]:
    def picture():
        y = rng.integers(0, 256, (360, 640), dtype=np.uint8)
        return I420Frame(y, y[::2, ::2].copy(), y[1::2, 1::2].copy())

    labels = LabelCache()
    tiles = [Tile(Rect(0, 0, 1280, 576), picture(), border=4, label=labels.label("Dr. Ada Okafor", 22))]
    for i in range(7):
        tiles.append(Tile(Rect(2 + 182 * i, 596, 180, 102), picture(), "fill", label=labels.label(f"Person {i}", 22)))
    return tiles


def run(callers: int, threads: int, seconds: float, ctx, tiles) -> tuple[float, float]:
    """(canvases per second over all callers, median seconds per canvas)."""
    comp = Compositor(1280, 720, threads=threads, workers=ctx)
    out = [I420Frame.blank(1280, 720) for _ in range(callers)]
    ops = comp.display_list(tiles)
    times: list[list[float]] = [[] for _ in range(callers)]
    stop = time.perf_counter() + seconds

    def loop(i):
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            comp.draw(ops, out[i])
            times[i].append(time.perf_counter() - t0)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(callers)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    flat = [t for ts in times for t in ts]
    return len(flat) / wall, statistics.median(flat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--callers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cores = min(os.cpu_count() or 1, _core.MAX_THREADS)
    print(f"cores: {cores}, load average before: {os.getloadavg()[0]:.2f}")
    tiles = speaker_tiles(np.random.default_rng(0))
    print("| rooms composing | compose threads | canvases/s (runs) | ms per canvas, median | throughput vs threads=1 |")
    print("|---|---|---|---|---|")
    with _core.ComposeContext(cores) as ctx:
        for callers in args.callers:
            got: dict[int, list[tuple[float, float]]] = {1: [], cores: []}
            for _ in range(args.repeat):
                for threads in (1, cores):
                    got[threads].append(run(callers, threads, args.seconds, ctx, tiles))
            base = statistics.median(r for r, _ in got[1])
            for threads, runs in got.items():
                rate = statistics.median(r for r, _ in runs)
                print(f"| {callers} | {threads} | {rate:.0f} ({', '.join(f'{r:.0f}' for r, _ in runs)}) "
                      f"| {statistics.median(m for _, m in runs) * 1000:.2f} | {rate / base:.2f} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
