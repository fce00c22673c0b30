"""A conferencing server for one room: aiohttp signalling + aiortc media.

`POST /offer` takes the JSON of aiortc's own examples, `{"sdp", "type", "pid", "name"}`
(optional "role": "host"|"guest"), and answers `{"sdp", "type"}` (plus "status":
"admitted" or "waiting"). `GET /` is a page that joins with camera and microphone and shows
the composite. `vmedia serve` runs it; tests run it on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from importlib import resources

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from vmedia.errors import InvalidInputError, PermissionDenied
from vmedia.rooms.room import Room
from vmedia.hosting.live import LiveDriver
from vmedia.webrtc.peer import RoomPeer

log = logging.getLogger("vmedia.webrtc.server")

ROOM_KEY = web.AppKey("room", Room)
DRIVER_KEY = web.AppKey("driver", LiveDriver)
PEERS_KEY = web.AppKey("peers", dict)
PEER_OPTIONS_KEY = web.AppKey("peer_options", dict)


def make_app(room, *, driver: LiveDriver | None = None, **peer_options) -> web.Application:
    """An aiohttp app serving `room`. The driver starts with the app and stops with it;
    `peer_options` go to every RoomPeer (playout delays, timeouts)."""
    app = web.Application()
    app[ROOM_KEY] = room
    app[DRIVER_KEY] = driver or LiveDriver(room)
    app[PEERS_KEY] = {}
    app[PEER_OPTIONS_KEY] = peer_options
    app.router.add_get("/", _index)
    app.router.add_post("/offer", _offer)
    app.router.add_get("/stats", _stats)
    app.on_startup.append(_start)
    app.on_shutdown.append(_shutdown)
    return app


def peers(app: web.Application) -> dict[str, RoomPeer]:
    """The peers the app serves now, by participant id."""
    return app[PEERS_KEY]


async def _start(app: web.Application) -> None:
    if app[DRIVER_KEY]._thread is None:
        app[DRIVER_KEY].start()


async def _shutdown(app: web.Application) -> None:
    await asyncio.gather(*(p.close("server shutting down") for p in list(app[PEERS_KEY].values())))
    app[DRIVER_KEY].stop()


async def _index(request: web.Request) -> web.Response:
    page = resources.files("vmedia.webrtc").joinpath("static/index.html").read_text()
    return web.Response(text=page, content_type="text/html")


async def _offer(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="expected a JSON body {sdp, type, pid, name}") from None
    if not isinstance(body, dict) or body.get("type") != "offer" or not isinstance(body.get("sdp"), str):
        raise web.HTTPBadRequest(text='expected {"sdp": "...", "type": "offer", "pid": "...", "name": "..."}')
    app = request.app
    pid = str(body.get("pid") or uuid.uuid4().hex[:8])
    if pid in app[PEERS_KEY]:
        raise web.HTTPConflict(text=f"participant {pid!r} is already connected")
    # Loopback and LAN only: no STUN server to reach (and none needed on 127.0.0.1).
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer = RoomPeer(app[DRIVER_KEY], pc, pid, body.get("name") or pid, role=body.get("role", "guest"),
                    on_close=lambda p: _forget(app, p), **app[PEER_OPTIONS_KEY])
    app[PEERS_KEY][pid] = peer
    try:
        answer = await peer.answer(RTCSessionDescription(sdp=body["sdp"], type="offer"))
    except PermissionDenied as e:
        app[PEERS_KEY].pop(pid, None)
        raise web.HTTPForbidden(text=str(e)) from None
    except InvalidInputError as e:
        app[PEERS_KEY].pop(pid, None)
        raise web.HTTPBadRequest(text=str(e)) from None
    return web.json_response({"sdp": answer.sdp, "type": answer.type, "pid": pid, "status": peer.status})


def _forget(app: web.Application, peer: RoomPeer) -> None:
    if app[PEERS_KEY].get(peer.pid) is peer:
        del app[PEERS_KEY][peer.pid]


async def _stats(request: web.Request) -> web.Response:
    driver = request.app[DRIVER_KEY]
    s = driver.stats
    return web.json_response({
        "participants": request.app[ROOM_KEY].participants,
        "ticks": s.ticks, "video_frames_dropped": s.video_frames_dropped, "late_ticks": s.late_ticks,
        "lateness_p99_ms": round(s.lateness_percentile(99) * 1000, 1),
        "peers": {pid: {k: (v.__dict__ if hasattr(v, "__dict__") else v) for k, v in p.stats.items()}
                  for pid, p in request.app[PEERS_KEY].items()},
    })
