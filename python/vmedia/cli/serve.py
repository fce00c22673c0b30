"""`vmedia serve`: one live room behind a WebRTC endpoint (aiohttp + aiortc), or with
`--cluster`, rooms spread over a Ray cluster behind one HTTP front.

Open http://HOST:PORT/ in a browser to join with camera and microphone; other clients
POST aiortc-style offers to /offer. With --cluster the page of room R is at /rooms/R/ and
rooms are created with POST /rooms (vmedia.webrtc.cluster_server). Needs the extra:
pip install 'vmedia[webrtc]' (and 'vmedia[cluster]' for --cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from vmedia.cli import common

log = logging.getLogger("vmedia.serve")


def add_parser(sub) -> argparse.ArgumentParser:
    from vmedia.rooms.room import POLICIES

    p = sub.add_parser("serve", help="serve a live room over WebRTC (browser page at /)", formatter_class=common.Formatter,
                       description="Serve one room over WebRTC: a join page at /, aiortc-style offers at POST /offer.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=common.int_range(1, 65535), default=8080, help="TCP port for the page and /offer")
    p.add_argument("--room-type", default="administrative", choices=sorted(POLICIES), help="room policy")
    p.add_argument("--layout", default="speaker", choices=["gallery", "speaker"], help="what everyone sees")
    p.add_argument("--audio-delay", type=float, default=0.040, help="playout delay of incoming audio, seconds")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="serve rooms on Ray: 'local' starts Ray here, else ray.init's address ('auto', 'ray://head:10001'); "
                        "the service's routes (/rooms) then need the bearer token in $VMEDIA_ADMIN_TOKEN")
    p.add_argument("--room", action="append", default=[], metavar="ID",
                   help="with --cluster: a room to create at start (repeatable; more with POST /rooms)")
    p.add_argument("--participants", type=common.int_range(1, 1000), default=9,
                   help="with --cluster: the size each --room is placed for")
    p.add_argument("--audit", metavar="FILE", help="with --cluster: JSON Lines audit log of every room")
    # The service's routes (/rooms: create, list, inspect, end) take the bearer token in
    # $VMEDIA_ADMIN_TOKEN: an environment variable, not an argument every `ps` shows.
    p.add_argument("--state-dir", metavar="DIR",
                   help="with --cluster: keep each room's control state here; on start, bring back the rooms it holds")
    return p


def run(args: argparse.Namespace) -> int:
    try:
        from aiohttp import web

        from vmedia.webrtc.server import make_app
    except ImportError as e:
        raise common.CliError(f"{e}; install the extra: pip install 'vmedia[webrtc]'") from None
    from vmedia.rooms.room import Room

    if args.cluster:
        app = _cluster_app(args)
    else:
        room = Room(args.room_type, layout=args.layout)
        app = make_app(room, audio_delay=args.audio_delay)
        print(f"vmedia: {args.room_type} room on http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    try:
        web.run_app(app, host=args.host, port=args.port, print=None, handle_signals=True)
    except OSError as e:
        raise common.CliError(f"cannot listen on {args.host}:{args.port}: {e}") from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    return common.EXIT_OK


def _cluster_app(args: argparse.Namespace):
    """The cluster front, its rooms created (the app closes the cluster when it stops)."""
    try:
        from vmedia.hosting.cluster import Cluster
    except ImportError as e:
        raise common.CliError(f"{e}") from None
    from vmedia.errors import VmediaError
    from vmedia.webrtc.cluster_server import make_cluster_app

    async def start() -> Cluster:
        cluster = Cluster(args.cluster, audit=args.audit, state_dir=args.state_dir,
                          peer_options={"audio_delay": args.audio_delay})
        try:
            for room_id, outcome in (await cluster.recover()).items():
                print(f"vmedia: room {room_id} {outcome}", flush=True)
            for room_id in (r for r in args.room if r not in cluster.rooms):
                info = await cluster.create_room(room_id, args.room_type, participants=args.participants, layout=args.layout)
                print(f"vmedia: room {room_id} on node {info['node'][:12]}: http://{args.host}:{args.port}/rooms/{room_id}/",
                      flush=True)
        except VmediaError as e:
            await cluster.close()
            raise common.CliError(str(e)) from None
        return cluster

    admin_token = os.environ.get("VMEDIA_ADMIN_TOKEN") or None
    if admin_token is not None and len(admin_token) < 16:
        raise common.CliError("VMEDIA_ADMIN_TOKEN must be a secret of at least 16 characters")
    if admin_token is None:
        log.warning("VMEDIA_ADMIN_TOKEN is not set: anyone who reaches this port may create, list and end rooms")

    async def build():
        return make_cluster_app(await start(), admin_token=admin_token)

    print(f"vmedia: cluster {args.cluster} behind http://{args.host}:{args.port}/rooms (Ctrl-C to stop)", flush=True)
    return build()
