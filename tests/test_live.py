"""The wall-clock driver: the same tick, paced by asyncio."""

import asyncio
import time

from vmedia.hosting.live import run_live


class Recorder:
    def __init__(self):
        self.times = []

    def tick(self, t):
        self.times.append((t, time.monotonic()))
        return t


def test_run_live_ticks_on_the_wall_clock_without_skipping():
    engine = Recorder()
    seen = []

    async def main():
        await run_live(engine, seen.append, fps=50, duration=0.3)

    start = time.monotonic()
    asyncio.run(main())
    media = [t for t, _ in engine.times]
    assert media == [k / 50 for k in range(16)]  # every frame of 0..0.3 s, in order
    assert seen == media
    # Paced by the clock: the last tick is not earlier than its media time.
    assert engine.times[-1][1] - start >= 0.3 - 0.01


def test_run_live_accepts_coroutine_callbacks():
    engine = Recorder()
    got = []

    async def on_output(out):
        await asyncio.sleep(0)
        got.append(out)

    asyncio.run(run_live(engine, on_output, fps=100, duration=0.05))
    assert got == [k / 100 for k in range(6)]
