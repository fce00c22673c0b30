"""The WebRTC peers of one room: an offer in, a RoomPeer and its answer out.

Shared by the one-room server (vmedia.webrtc.server) and a room in a cluster actor
(vmedia.hosting.room_actor): both take aiortc's JSON offer convention,
`{"sdp", "type": "offer", "pid", "name", "role", "pin", "rejoin_token"}`, and answer
`{"sdp", "type": "answer", "pid", "status": "admitted" | "waiting", "rejoin_token"}`.
The client keeps its rejoin token (a secret for it alone) and shows it, with the same
pid, when it re-offers after its room failed over (Room.join, docs/rooms.md).
Refusals are vmedia errors (InvalidInputError, PermissionDenied); the HTTP layer maps them.
"""

from __future__ import annotations

import asyncio
import uuid

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from vmedia.errors import InvalidInputError
from vmedia.webrtc.peer import RoomPeer

MAX_SDP = 64 * 1024  # characters; a real offer is a few kB


class RoomPeers:
    """Every peer connected to the room behind `driver` (a LiveDriver or a hosted room);
    `peer_options` go to each RoomPeer (playout delays, timeouts)."""

    def __init__(self, driver, **peer_options):
        self.driver = driver
        self.peer_options = peer_options
        self.by_pid: dict[str, RoomPeer] = {}

    async def offer(self, body) -> dict:
        """Negotiate one participant's offer; the peer joins the room (or its lobby)."""
        if not isinstance(body, dict) or body.get("type") != "offer" or not isinstance(body.get("sdp"), str):
            raise InvalidInputError('expected {"sdp": "...", "type": "offer", "pid": "...", "name": "..."}')
        if len(body["sdp"]) > MAX_SDP:
            raise InvalidInputError(f"the offer's SDP is {len(body['sdp'])} characters; at most {MAX_SDP}")
        pid = str(body.get("pid") or uuid.uuid4().hex[:8])
        if pid in self.by_pid:
            raise InvalidInputError(f"participant {pid!r} is already connected")
        pin, token = body.get("pin"), body.get("rejoin_token")
        if pin is not None and not isinstance(pin, str):
            raise InvalidInputError("a PIN is a string of digits")
        if token is not None and not isinstance(token, str):
            raise InvalidInputError("a rejoin token is the string this server answered with")
        # Loopback and LAN only: no STUN server to reach (and none needed on 127.0.0.1).
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer = RoomPeer(self.driver, pc, pid, body.get("name") or pid, role=body.get("role"), pin=pin,
                        rejoin_token=token, on_close=self._forget, **self.peer_options)
        self.by_pid[pid] = peer
        try:
            answer = await peer.answer(RTCSessionDescription(sdp=body["sdp"], type="offer"))
        except BaseException:
            self.by_pid.pop(pid, None)
            raise
        return {"sdp": answer.sdp, "type": answer.type, "pid": pid, "status": peer.status,
                "rejoin_token": peer.rejoin_token}

    async def close_all(self, reason: str) -> None:
        await asyncio.gather(*(p.close(reason) for p in list(self.by_pid.values())))

    def stats(self) -> dict:
        return {pid: {k: (v.__dict__ if hasattr(v, "__dict__") else v) for k, v in p.stats.items()}
                for pid, p in self.by_pid.items()}

    def _forget(self, peer: RoomPeer) -> None:
        if self.by_pid.get(peer.pid) is peer:
            del self.by_pid[peer.pid]
