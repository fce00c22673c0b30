"""`vmedia serve`: one live room behind a WebRTC endpoint (aiohttp + aiortc).

Open http://HOST:PORT/ in a browser to join with camera and microphone; other clients
POST aiortc-style offers to /offer. Needs the extra: pip install 'vmedia[webrtc]'.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

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
    return p


def run(args: argparse.Namespace) -> int:
    try:
        from aiohttp import web

        from vmedia.webrtc.server import make_app
    except ImportError as e:
        raise common.CliError(f"{e}; install the extra: pip install 'vmedia[webrtc]'") from None
    from vmedia.rooms.room import Room

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
