"""The wall-clock driver: the same tick on its own thread, a lateness policy that drops
video (never audio), events handed to asyncio thread-safely."""

import asyncio
import threading
import time

import numpy as np

from vmedia import Room
from vmedia.hosting import LiveDriver, MediaClock, run_live
from vmedia.media.time import FRAME_SECONDS


class Recorder:
    """An engine that notes each tick; `slow` seconds of work on video ticks."""

    def __init__(self, slow: float = 0.0):
        self.ticks = []
        self.slow = slow
        self.threads = set()

    def tick(self, t, *, video=True):
        self.ticks.append((t, video))
        self.threads.add(threading.current_thread().name)
        if video and self.slow:
            time.sleep(self.slow)
        return t


def test_run_live_ticks_on_the_wall_clock_in_order():
    engine = Recorder()
    seen = []
    start = time.monotonic()
    asyncio.run(run_live(engine, seen.append, fps=50, duration=0.3, late_after=1.0))
    media = [t for t, _ in engine.ticks]
    assert media == [k / 50 for k in range(16)]  # every frame of 0..0.3 s, in order
    assert seen == media  # handed to the loop in order
    assert time.monotonic() - start >= 0.3 - 0.01  # paced by the clock
    assert engine.threads == {"vmedia-live"}  # the tick has a thread of its own


def test_run_live_accepts_coroutine_callbacks():
    engine = Recorder()
    got = []

    async def on_output(out):
        await asyncio.sleep(0)
        got.append(out)

    asyncio.run(run_live(engine, on_output, fps=100, duration=0.05, late_after=1.0))
    assert got == [k / 100 for k in range(6)]


def test_a_driver_that_cannot_keep_up_drops_video_ticks_reports_and_catches_up():
    engine = Recorder(slow=0.06)  # 60 ms of work per video frame at 50 fps (20 ms each)
    events = []
    driver = LiveDriver(engine, fps=50, late_after=0.04)
    driver.subscribe(events.append)  # no loop running: called on the tick thread
    driver.start(until=0.6)
    assert driver.done.wait(5)
    times = [t for t, _ in engine.ticks]
    assert times == sorted(times) and times[-1] >= 0.58  # media time kept up with the clock
    skipped = [t for t, video in engine.ticks if not video]
    assert skipped, engine.ticks  # some ticks mixed audio only
    composed = [t for t, video in engine.ticks if video]
    assert len(composed) < 31  # not every frame was composed...
    assert driver.stats.video_frames_dropped + len(composed) == 31  # ...each one either composed or counted dropped
    assert driver.stats.late_ticks == len(skipped)
    assert driver.stats.max_lateness > 0.04
    late = [e for e in events if e.kind == "late"]
    assert late and "skipped" in late[0].detail


def test_room_audio_is_never_dropped_when_video_ticks_are():
    room = Room("administrative", layout="gallery")
    room.join("a", "A", role="host")
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)).astype(np.float32)
    for j in range(40):
        room.push_audio("a", tone[j * 960 : (j + 1) * 960], j * FRAME_SECONDS)
    out = room.tick(0.4, video=False)  # behind: audio only
    assert len(out.mixes) == 20 and not out.video  # 20 ms frames 0..0.4 s mixed, no picture
    out = room.tick(0.8)
    video = out.video_for("a")
    assert len(out.mixes) == 20  # audio continues where it was
    assert [p.pts for p in video] == list(range(13, 25))  # frames 0..12 (up to 0.4 s) were skipped


def test_events_reach_asyncio_listeners_on_the_loop_thread_and_calls_run_between_ticks():
    room = Room("administrative", layout="gallery")

    async def main():
        loop_thread = threading.current_thread()
        got = []
        driver = LiveDriver(room)
        driver.subscribe(lambda e: got.append((e.kind, e.participant, threading.current_thread() is loop_thread)))
        with driver:
            assert room.clock is driver.clock
            status = await driver.run(room.join, "p1", "Pat", role="host")
            await asyncio.sleep(0.2)
        assert status == "admitted"
        assert ("joined", "p1", True) in got  # emitted by the tick thread, delivered on the loop
        assert driver.stats.ticks >= 3

    asyncio.run(main())


def test_media_clock_counts_from_its_start():
    clock = MediaClock(start=time.monotonic() - 2.0)
    assert 2.0 <= clock.now() < 2.5
    assert clock.at(clock.start + 1.5) == 1.5
    assert clock.monotonic(1.5) == clock.start + 1.5
