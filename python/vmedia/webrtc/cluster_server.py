"""The HTTP front of a cluster of rooms (`vmedia serve --cluster ...`): aiohttp in the
router's process, every call forwarded to the room's actor (vmedia.hosting.cluster).
Media does not pass through here: a peer's answer carries the ICE candidates of the node
its room runs on, and the peer connects there.

    GET    /rooms                   the rooms: {id: {node, incarnation, participants, ...}}
    POST   /rooms                   {"id", "type", "participants", "layout", "host_pin", ...} -> its info
    GET    /rooms/<id>/             the join page (camera, microphone, the room's view)
    POST   /rooms/<id>/offer        aiortc's JSON offer (+ "pid", "name", "role" or "pin")
    POST   /rooms/<id>/control      {"action": "lock", "args": ["dr-a", true], "kwargs": {}, "token": "..."}
    GET    /rooms/<id>              where it runs and who is in it
    GET    /rooms/<id>/audit        its audit records (kept across failovers)
    DELETE /rooms/<id>              end it

Errors: 400 bad request, 403 not allowed (a PIN, a role), 404 unknown room, 503 when the
room is restarting after a failure (Retry-After: 1; re-offer) or the cluster is full.
Who may call what:
- participants: the join page, /offer (the room's PINs, lobby and lock decide), and
  /control, which acts as the participant its first argument names and must carry that
  participant's rejoin token (the secret its client got in the answer to its offer);
- the service (`admin_token`): listing, creating, inspecting, auditing and ending rooms
  need `Authorization: Bearer <admin_token>` (401 without). With no admin token those
  routes are open: for a front that the service's own gateway authenticates.
"""

from __future__ import annotations

import hmac
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from vmedia.errors import InvalidInputError, RoomUnavailable
from vmedia.webrtc.server import http_errors, read_json

if TYPE_CHECKING:  # Ray is imported only where a cluster is made
    from vmedia.hosting.cluster import Cluster

CLUSTER_KEY: web.AppKey[Cluster] = web.AppKey("cluster")
ADMIN_TOKEN_KEY: web.AppKey[str | None] = web.AppKey("admin_token")
ROOM_FIELDS = {"id", "type", "participants", "visible", "layout", "host_pin", "guest_pin", "hd1080", "low_profile", "name"}


def make_cluster_app(cluster: Cluster, *, admin_token: str | None = None) -> web.Application:
    """An aiohttp app in front of `cluster` (a vmedia.hosting.cluster.Cluster); the app
    closes the cluster when it shuts down, keeping the rooms' state (with a state folder,
    the next start brings them back). `admin_token`: the bearer token the service's own
    routes require (None: open)."""
    if admin_token is not None and (not isinstance(admin_token, str) or len(admin_token) < 16):
        raise InvalidInputError("an admin token is a secret of at least 16 characters")
    app = web.Application(middlewares=[http_errors])
    app[CLUSTER_KEY] = cluster
    app[ADMIN_TOKEN_KEY] = admin_token
    app.router.add_get("/rooms", _service(_list))
    app.router.add_post("/rooms", _service(_create))
    app.router.add_get("/rooms/{room}/", _page)
    app.router.add_post("/rooms/{room}/offer", _offer)
    app.router.add_post("/rooms/{room}/control", _control)
    app.router.add_get("/rooms/{room}/audit", _service(_audit))
    app.router.add_get("/rooms/{room}", _service(_info))
    app.router.add_delete("/rooms/{room}", _service(_remove))
    app.on_shutdown.append(_shutdown)
    return app


def _service(handler):
    """A route of the service's, not of participants: it needs the admin token, if any."""

    async def checked(request: web.Request) -> web.StreamResponse:
        token = request.app[ADMIN_TOKEN_KEY]
        if token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode()[:512], f"Bearer {token}".encode()):
                raise web.HTTPUnauthorized(text="this route needs the service's admin token",
                                           headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    return checked


async def _list(request: web.Request) -> web.Response:
    cluster = request.app[CLUSTER_KEY]
    rooms = {}
    for room_id in cluster.rooms:
        try:
            info = await cluster.info(room_id)
            rooms[room_id] = {k: info[k] for k in ("node", "incarnation", "restored", "participants", "lobby")}
        except RoomUnavailable:
            rooms[room_id] = {"unavailable": True}
    return web.json_response(rooms)


async def _create(request: web.Request) -> web.Response:
    body = await read_json(request, '{"id": "...", "participants": N, ...}')
    unknown = set(body) - ROOM_FIELDS
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown room fields {sorted(unknown)}; known: {sorted(ROOM_FIELDS)}")
    options = {k: v for k, v in body.items() if k not in ("id", "type", "participants")}
    # Whatever the JSON holds, or None: create_room refuses a bad or missing id or size with a 400.
    room_id: Any = body.get("id")
    participants: Any = body.get("participants")
    info = await request.app[CLUSTER_KEY].create_room(room_id, body.get("type", "administrative"),
                                                      participants=participants, **options)
    return web.json_response(info, status=201)


async def _page(request: web.Request) -> web.Response:
    if request.match_info["room"] not in request.app[CLUSTER_KEY].rooms:
        raise web.HTTPNotFound(text=f"no room {request.match_info['room']!r:.80} on this cluster")
    page = resources.files("vmedia.webrtc").joinpath("static/index.html").read_text()
    return web.Response(text=page, content_type="text/html")


async def _offer(request: web.Request) -> web.Response:
    body = await read_json(request)
    return web.json_response(await request.app[CLUSTER_KEY].offer(request.match_info["room"], body))


async def _control(request: web.Request) -> web.Response:
    shape = '{"action": "...", "args": [who, ...], "kwargs": {...}, "token": "<who\'s rejoin token>"}'
    body = await read_json(request, shape)
    args, kwargs, token = body.get("args", []), body.get("kwargs", {}), body.get("token")
    if not isinstance(body.get("action"), str) or not isinstance(args, list) or not isinstance(kwargs, dict) \
            or "token" in kwargs:
        raise web.HTTPBadRequest(text=f"expected {shape}")
    if not isinstance(token, str):
        raise web.HTTPForbidden(text="a control request carries the acting participant's token")
    result = await request.app[CLUSTER_KEY].control(request.match_info["room"], body["action"], *args, token=token,
                                                    **kwargs)
    return web.json_response({"result": result})


async def _info(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CLUSTER_KEY].info(request.match_info["room"]))


async def _audit(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CLUSTER_KEY].audit_records(request.match_info["room"]))


async def _remove(request: web.Request) -> web.Response:
    await request.app[CLUSTER_KEY].remove_room(request.match_info["room"])
    return web.Response(status=204)


async def _shutdown(app: web.Application) -> None:
    await app[CLUSTER_KEY].close(keep_state=True)  # a server stopping is not the rooms ending
