"""Concurrency stress: five threads on one room for a minute, the way a server calls it.
Not a timed test: run by hand, results in RESULTS.md.

    python benchmarks/stress.py --seconds 60

Threads: one ticks (the offline clock, as fast as it can); one pushes healthy pictures and
speech for whoever is in the room; one is an attacker pushing garbage; one joins and
leaves people; one is a host using every control (mute-all, mute, lock, pin, layout,
gain, keyframes, presentation, remove). Refusals are vmedia errors (someone left between
a check and a call, a locked room): counted, expected. Anything else is a bug: counted
with its traceback, and check() fails.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import random
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from hostile_media import Attacker, Chooser  # noqa: E402
from media_helpers import ColourSender  # noqa: E402
from vmedia import Mixer, OutputProfile, Room  # noqa: E402
from vmedia.errors import VmediaError  # noqa: E402
from vmedia.media import synth  # noqa: E402

FPS = 15
PROFILE = OutputProfile("stress", 160, 90, fps=FPS, bitrate=100_000, keyframe_interval=4.0)
POOL = [f"p{i}" for i in range(10)]  # people who come and go


def stress(seconds: float, *, seed: int = 3) -> dict:
    logging.getLogger("vmedia").setLevel(logging.CRITICAL)
    room = Room("administrative", layout="speaker", history=200)
    room.mixer = Mixer([PROFILE], layout="speaker", name=room.name)  # small pictures (Room has no profile option)
    room.join("host", "Host", role="host")
    room.join("x", "X")
    clock = {"t": 0.0}
    stop = threading.Event()
    calls: collections.Counter = collections.Counter()
    refused: collections.Counter = collections.Counter()
    bugs: list[str] = []
    lock = threading.Lock()

    def guarded(name: str, fn) -> None:
        """Run one thread's loop; sort what it raises into refusals and bugs."""
        rng = random.Random(f"{seed}-{name}")
        while not stop.is_set():
            try:
                fn(rng)
                with lock:
                    calls[name] += 1
            except VmediaError as e:
                with lock:
                    calls[name] += 1
                    refused[f"{name}: {type(e).__name__}"] += 1
            except Exception:  # noqa: BLE001  (a bug: what this run looks for)
                with lock:
                    bugs.append(f"{name}: {traceback.format_exc()}")

    def ticker(rng) -> None:
        room.tick(clock["t"])
        clock["t"] += 1 / FPS

    senders = {pid: ColourSender((40 + 20 * i, 90, 200 - 15 * i), 64, 36, fps=FPS) for i, pid in enumerate(["host"] + POOL)}
    voice = synth.frames_of(synth.speech(4.0, 120, -24, seed=1))

    def pusher(rng) -> None:
        t = clock["t"]
        for pid in list(room.participants):
            if pid in senders:
                for p in senders[pid].video_packets(keyframe=rng.random() < 0.05):
                    room.push_video(pid, p, t)
                room.push_audio(pid, voice[int(t / 0.02) % len(voice)], t)
        time.sleep(0.002)

    attacker, choices = Attacker("x"), Chooser(seed=seed)

    def attack(rng) -> None:
        attacker.act(room, clock["t"], choices)
        time.sleep(0)  # let the others in between pushes

    def membership(rng) -> None:
        pid = rng.choice(POOL)
        time.sleep(0.001)
        if pid in room.participants:
            room.leave(pid)
        else:
            room.join(pid, pid.upper(), audio_codec=rng.choice(("opus", "opus", "pcmu")))

    controls = [
        lambda rng: room.mute_all("host", rng.random() < 0.5),
        lambda rng: room.mute("host", rng.choice(POOL), rng.random() < 0.5),
        lambda rng: room.lock("host", rng.random() < 0.2),
        lambda rng: room.pin("host", rng.choice(POOL + [None])),
        lambda rng: room.set_layout("host", rng.choice(("speaker", "gallery"))),
        lambda rng: room.set_gain("host", rng.choice(POOL), rng.choice((0.0, 0.5, 1.0, 2.0))),
        lambda rng: room.request_keyframe(rng.choice(POOL + ["host"])),
        lambda rng: room.start_presentation("host", width=320, height=180, fps=5),
        lambda rng: room.stop_presentation("host"),
        lambda rng: room.remove("host", rng.choice(POOL)),
        lambda rng: room.set_stage("host", rng.choice(POOL)),  # refused: no stage here
    ]

    def host(rng) -> None:
        time.sleep(0.001)
        rng.choice(controls)(rng)

    threads = [threading.Thread(target=guarded, args=(name, fn), name=name)
               for name, fn in (("tick", ticker), ("push", pusher), ("attacker", attack), ("membership", membership),
                                ("host", host))]
    start = time.perf_counter()
    for th in threads:
        th.start()
    time.sleep(seconds)
    stop.set()
    for th in threads:
        th.join(timeout=60)
    alive = [th.name for th in threads if th.is_alive()]
    # The room is still whole: the records agree and it keeps ticking.
    consistent = set(room.participants) == set(room.mixer.participants) - {"#content"}
    due = int((clock["t"] + 0.5) / 0.02 + 1e-9) - room.mixer._audio_index
    last = room.tick(clock["t"] + 0.5)
    room.close()
    return {
        "seconds": seconds, "wall_s": round(time.perf_counter() - start, 1), "media_s": round(clock["t"], 2),
        "calls": dict(calls), "refused": dict(refused), "non_vmedia_exceptions": len(bugs), "bugs": bugs[:5],
        "threads_stuck": alive, "records_consistent": consistent, "frames_after": [len(last.mixes), due],
    }


def check(r: dict) -> None:
    assert r["non_vmedia_exceptions"] == 0, "".join(r["bugs"])
    assert not r["threads_stuck"], r["threads_stuck"]
    assert r["records_consistent"] and r["frames_after"][0] == r["frames_after"][1] > 0
    assert all(r["calls"].get(name, 0) > 0 for name in ("tick", "push", "attacker", "membership", "host")), r["calls"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    r = stress(args.seconds, seed=args.seed)
    print(json.dumps(r, indent=1))
    check(r)
    print("stress: no exception but vmedia's")


if __name__ == "__main__":
    main()
