"""The overhead of the Ray path: the same rooms, fed the same recorded meeting in real time,
hosted (a) by one RoomHost in this process, (b) each in its own Ray actor on a local Ray
(vmedia.hosting.cluster, one node: this machine).

Every participant sends 640x360 H.264 (30 fps) and Opus packets of a scripted meeting
(pipeline_bench.make_inputs), pushed into its room in the room's own process as the room's
clock reaches them (rooms_bench.Feeder; on Ray through Cluster.attach), so both paths
decode, mix, compose and encode exactly the same media. Per point: the CPU of every
process involved (this one; on Ray also the actors, raylet, GCS and Ray's helpers) per
second of wall time, each room's own CPU from its host's accounts, the worst room's p99
tick lateness, video frames dropped. The ratio Ray / plain is the cost of the Ray path.

Run: cd benchmarks && python cluster_bench.py [--kind 4x720p-gallery 9x720p-speaker] [--rooms 1 2] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

import numpy as np

from pipeline_bench import make_inputs
from rooms_bench import LOOP, Feeder, packets_of

HERE = Path(__file__).resolve().parent
KINDS = {  # Rooms (policy, 720p output), as a conferencing server makes them
    "4x720p-gallery": dict(participants=4, layout="gallery"),
    "9x720p-speaker": dict(participants=9, layout="speaker"),
}
TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pids) -> float:
    """utime + stime of these processes (seconds); a process gone counts nothing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def ray_pids() -> list[int]:
    """Every process of the local Ray: raylet, GCS, workers, agents."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if b"ray" in cmd and (b"raylet" in cmd or b"gcs_server" in cmd or b"ray::" in cmd or b"/ray/" in cmd):
                out.append(int(d.name))
    return out


class Meeting:
    """factory(room) for a room: joins the recorded participants, returns their Feeder.
    Runs in the room's process (pickled to the actor on Ray)."""

    def __init__(self, paths: list[str], offset: float):
        self.paths, self.offset = paths, offset

    def __call__(self, room):
        for i in range(len(self.paths)):
            room.join(f"p{i}", f"Person {i}")
        return Feeder(room, [packets_of(p) for p in self.paths], self.offset)


def summary(stats: list[dict], cpu: float, wall: float) -> dict:
    return {
        "cpu": cpu / wall,
        "room_cpu": float(np.median([s["cpu_per_media_second"] for s in stats])),
        "p99": max(s["lateness_p99"] for s in stats),
        "dropped": sum(s["video_frames_dropped"] for s in stats) / max(1, sum(s["ticks"] for s in stats)),
    }


def run_plain(kind: str, rooms: int, seconds: float, paths: list[str]) -> dict:
    from dataclasses import asdict

    from vmedia.hosting import RoomHost

    spec = KINDS[kind]
    host = RoomHost(utilization=1.0)
    host.budget = float("inf")  # the same rooms as on Ray, whatever admission would say
    for r in range(rooms):
        room = host.create_room(f"r{r}", "administrative", participants=spec["participants"], layout=spec["layout"])
        host.add_feed(f"r{r}", Meeting(paths, (r * 0.73) % LOOP)(room))
    host.start()
    time.sleep(1.0)  # the encoders open
    c0, w0 = process_cpu([os.getpid()]), time.monotonic()
    time.sleep(seconds)
    cpu, wall = process_cpu([os.getpid()]) - c0, time.monotonic() - w0
    stats = [asdict(s) for s in host.stats().values()]
    host.close()
    return summary(stats, cpu, wall)


def run_ray(kind: str, rooms: int, seconds: float, paths: list[str]) -> dict:
    from vmedia.hosting.cluster import Cluster

    spec = KINDS[kind]

    async def go():
        # Logical CPUs beyond the cores: the same rooms as the plain run, placed regardless.
        cluster = Cluster("local", num_cpus=64, runtime_env={"env_vars": {"PYTHONPATH": str(HERE)}})
        try:
            for r in range(rooms):
                await cluster.create_room(f"r{r}", "administrative", participants=spec["participants"], layout=spec["layout"])
                await cluster.attach(f"r{r}", Meeting(paths, (r * 0.73) % LOOP))
            await asyncio.sleep(1.0)
            pids = ray_pids() + [os.getpid()]
            c0, w0 = process_cpu(pids), time.monotonic()
            await asyncio.sleep(seconds)
            cpu, wall = process_cpu(pids) - c0, time.monotonic() - w0
            stats = [(await cluster.info(f"r{r}"))["stats"] for r in range(rooms)]
        finally:
            await cluster.close()
        return summary(stats, cpu, wall)

    return asyncio.run(go())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", nargs="+", default=list(KINDS), choices=list(KINDS))
    ap.add_argument("--rooms", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    print("| room | rooms | CPU busy plain / Ray (ratio) | CPU-s/media-s per room plain / Ray "
          "| p99 lateness plain / Ray | frames dropped plain / Ray |")
    print("|---|---|---|---|---|---|")
    for kind in args.kind:
        paths = [str(p) for p in make_inputs(KINDS[kind]["participants"], LOOP)]
        for rooms in args.rooms:
            plain = run_plain(kind, rooms, args.seconds, paths)
            on_ray = run_ray(kind, rooms, args.seconds, paths)
            print(f"| {kind} | {rooms} | {plain['cpu']:.2f} / {on_ray['cpu']:.2f} ({on_ray['cpu'] / plain['cpu']:.2f}) "
                  f"| {plain['room_cpu']:.3f} / {on_ray['room_cpu']:.3f} "
                  f"| {plain['p99'] * 1000:.0f} / {on_ray['p99'] * 1000:.0f} ms "
                  f"| {plain['dropped']:.1%} / {on_ray['dropped']:.1%} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
