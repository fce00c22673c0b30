"""Driving a Mixer or Room on the wall clock, asyncio-friendly.

The same `tick(t)` the offline tools call, paced by the event loop; the work itself runs
in a thread (the core and FFmpeg release the GIL), so the loop stays responsive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from vmedia.engine.mixer import TickOutput


async def run_live(engine, on_output: Callable[[TickOutput], Awaitable[None] | None], *, fps: int = 30,
                   duration: float | None = None) -> None:
    """Call engine.tick(t) every 1/fps seconds of wall time, t counting from now, and hand
    each output to on_output. A tick that runs late is followed at once, never skipped:
    media time stays continuous. Stops after `duration` seconds, or when cancelled."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    k = 0
    while duration is None or k / fps <= duration:
        due = start + k / fps
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        out = await loop.run_in_executor(None, engine.tick, k / fps)
        result = on_output(out)
        if asyncio.iscoroutine(result):
            await result
        k += 1
