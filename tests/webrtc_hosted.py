"""Scenario (run in a network namespace by test_room_host.py): two rooms on one RoomHost,
each served by `vmedia serve`'s app through host.driver(room), two aiortc clients in each.
Prints RESULT {json}: what every client received, the host's accounts, what was left."""

from __future__ import annotations

import asyncio
import json
import sys

from netns import loopback_only_network
from webrtc_conference import open_sockets, run_client_process, serving

from vmedia.hosting import RoomHost
from vmedia.webrtc.server import peers


async def hosted(rooms: dict[str, list[dict]], seconds: float, warmup: float) -> dict:
    sockets_before = open_sockets()
    events = []
    host = RoomHost(cores=2)
    host.subscribe(lambda e: events.append(f"{e.kind} {e.room} {e.detail}"))
    apps = {}
    try:
        async with serving_all(host, rooms) as apps:
            runs = [run_client_process(url, rooms[room_id], seconds, warmup) for room_id, (app, url) in apps.items()]
            received = dict(zip(apps, await asyncio.gather(*runs)))
            for _ in range(50):  # the clients hung up: their peers leave their rooms
                if not any(peers(app) or host.room(r).participants for r, (app, _) in apps.items()):
                    break
                await asyncio.sleep(0.1)
            left = {r: {"peers": list(peers(app)), "participants": host.room(r).participants} for r, (app, _) in apps.items()}
            stats = {r: {"ticks": s.ticks, "errors": s.errors, "cpu": s.cpu_per_media_second, "fps": s.fps,
                         "lateness_p99": s.lateness_p99} for r, s in host.stats().items()}
    finally:
        host.close()
    await asyncio.sleep(0.1)
    return {
        "received": received, "left": left, "stats": stats, "events": events[-20:],
        "leftover_tasks": [repr(t) for t in asyncio.all_tasks() if t is not asyncio.current_task()],
        "sockets_before": sockets_before, "sockets_after": open_sockets(),
    }


class serving_all:
    """Every room of `rooms` on the host, each behind its own app on 127.0.0.1."""

    def __init__(self, host: RoomHost, rooms: dict[str, list[dict]]):
        self.host, self.rooms = host, rooms
        self._contexts = []

    async def __aenter__(self):
        apps = {}
        for room_id, clients in self.rooms.items():
            room = self.host.create_room(room_id, "administrative", participants=len(clients), layout="gallery")
            ctx = serving(room, driver=self.host.driver(room_id))
            apps[room_id] = await ctx.__aenter__()
            self._contexts.append(ctx)
        return apps

    async def __aexit__(self, *exc):
        for ctx in reversed(self._contexts):
            await ctx.__aexit__(*exc)


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    loopback_only_network()
    print("RESULT " + json.dumps(asyncio.run(hosted(args["rooms"], args["seconds"], args["warmup"]))))
