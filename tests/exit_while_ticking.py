"""Exits while daemon threads tick rooms busy in the core: python tests/exit_while_ticking.py SECONDS

Before the exit hook in vmedia.engine.mixer this aborted about one run in three
("terminate called without an active exception"); tests/test_room_safety.py runs it."""

import sys
import threading
import time

import av

from vmedia import Mixer, OutputProfile, Room

BIG = OutputProfile("big", 1920, 1080, fps=5, bitrate=100_000, preset="ultrafast")


def busy_mixer() -> Mixer:
    """Nine 720p pictures scaled into a 1080p gallery: most of a tick is in the core."""
    m = Mixer([BIG], labels=False, layout="gallery")
    picture = av.VideoFrame(1280, 720, "yuv420p")
    for i in range(9):
        m.add_participant(f"p{i}")
        m.push_video(f"p{i}", picture, 0.0)
    return m


def tick_forever(engine) -> None:
    k = 0
    while True:
        engine.tick(k / 5)
        k += 1


room = Room("administrative", layout="gallery")  # a Room too: its lock sits above the mixer's
room.join("a")
for engine in (busy_mixer(), busy_mixer(), room):
    threading.Thread(target=tick_forever, args=(engine,), daemon=True).start()
time.sleep(float(sys.argv[1]))
