"""A conferencing server for one room: aiohttp signalling + aiortc media.

`POST /offer` takes the JSON of aiortc's own examples, `{"sdp", "type", "pid", "name"}`
(optional "role": "host"|"guest", or "pin" in a room with PINs), and answers
`{"sdp", "type"}` (plus "status": "admitted" or "waiting"). `GET /` is a page that joins with camera and microphone and shows
the composite. `vmedia serve` runs it; tests run it on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
from importlib import resources

from aiohttp import web

from vmedia.errors import CapacityError, InvalidInputError, PermissionDenied, RoomNotFound, RoomUnavailable, VmediaError
from vmedia.rooms.room import Room
from vmedia.hosting.live import LiveDriver
from vmedia.webrtc.peer import RoomPeer
from vmedia.webrtc.peers import RoomPeers

log = logging.getLogger("vmedia.webrtc.server")

ROOM_KEY = web.AppKey("room", Room)
DRIVER_KEY = web.AppKey("driver", LiveDriver)
PEERS_KEY = web.AppKey("peers", RoomPeers)


def make_app(room, *, driver: LiveDriver | None = None, **peer_options) -> web.Application:
    """An aiohttp app serving `room`. The driver starts with the app and stops with it;
    `peer_options` go to every RoomPeer (playout delays, timeouts)."""
    app = web.Application(middlewares=[http_errors])
    app[ROOM_KEY] = room
    app[DRIVER_KEY] = driver or LiveDriver(room)
    app[PEERS_KEY] = RoomPeers(app[DRIVER_KEY], **peer_options)
    app.router.add_get("/", _index)
    app.router.add_post("/offer", _offer)
    app.router.add_get("/stats", _stats)
    app.on_startup.append(_start)
    app.on_shutdown.append(_shutdown)
    return app


def peers(app: web.Application) -> dict[str, RoomPeer]:
    """The peers the app serves now, by participant id."""
    return app[PEERS_KEY].by_pid


async def _start(app: web.Application) -> None:
    if app[DRIVER_KEY]._thread is None:
        app[DRIVER_KEY].start()


async def _shutdown(app: web.Application) -> None:
    await app[PEERS_KEY].close_all("server shutting down")
    app[DRIVER_KEY].stop()


async def _index(request: web.Request) -> web.Response:
    page = resources.files("vmedia.webrtc").joinpath("static/index.html").read_text()
    return web.Response(text=page, content_type="text/html")


async def _offer(request: web.Request) -> web.Response:
    body = await read_json(request)
    return web.json_response(await request.app[PEERS_KEY].offer(body))


OFFER_SHAPE = '{"sdp": "...", "type": "offer", "pid": "...", "name": "..."}'


async def read_json(request: web.Request, shape: str = OFFER_SHAPE) -> dict:
    """The request's JSON object; anything else is a 400 that shows the expected `shape`."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=f"expected a JSON body {shape}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=f"expected a JSON object {shape}")
    return body


@web.middleware
async def http_errors(request: web.Request, handler):
    """vmedia's errors as HTTP statuses: 400 bad request, 403 not allowed (a PIN, a role,
    a token), 404 unknown room, 503 restarting (Retry-After) or full, 500 anything else."""
    try:
        return await handler(request)
    except RoomNotFound as e:
        raise web.HTTPNotFound(text=str(e)) from None
    except PermissionDenied as e:
        raise web.HTTPForbidden(text=str(e)) from None
    except InvalidInputError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    except RoomUnavailable as e:
        raise web.HTTPServiceUnavailable(text=str(e), headers={"Retry-After": "1"}) from None
    except CapacityError as e:
        raise web.HTTPServiceUnavailable(text=str(e)) from None
    except VmediaError as e:
        raise web.HTTPInternalServerError(text=str(e)) from None


async def _stats(request: web.Request) -> web.Response:
    driver = request.app[DRIVER_KEY]
    s = driver.stats
    return web.json_response({
        "participants": request.app[ROOM_KEY].participants,
        "ticks": s.ticks, "video_frames_dropped": s.video_frames_dropped, "late_ticks": s.late_ticks,
        "lateness_p99_ms": round(s.lateness_percentile(99) * 1000, 1),
        "peers": request.app[PEERS_KEY].stats(),
    })
