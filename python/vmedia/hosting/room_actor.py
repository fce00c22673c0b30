"""One room in one Ray actor: the room's RoomHost slot, its WebRTC peers and its snapshots.

The actor is the room's process on whichever node Ray placed it. Media never leaves it:
peers connect straight to this process (ICE candidates on its node's addresses), and
packets go from the room's tick thread to aiortc on the actor's event loop. Only control
crosses Ray: offers and answers, control calls, and, to the ControlStore, the room's
control-state snapshots and its audit records.

Life: the router (vmedia.hosting.cluster) creates the actor and calls `open(pins)`: the
PINs travel in that one call, never in the actor's constructor arguments, which Ray keeps
to restart it. After every change of control state the actor saves `room.snapshot()` to
the store. When the actor dies (its process, or its node) Ray restarts it, on another node
if it must: `__init__` checks the room out of the store and restores it; the members who
were in are expected back, and their clients re-offer.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import ray

from vmedia.engine.events import Event, EventKind
from vmedia import errors
from vmedia.errors import InvalidInputError, VmediaError
from vmedia.hosting.host import RoomHost
from vmedia.rooms.audit import AuditRecord

if TYPE_CHECKING:
    from vmedia.hosting.hosted import HostedRoom
    from vmedia.rooms.room import Room
    from vmedia.webrtc.peers import RoomPeers

log = logging.getLogger("vmedia.hosting.room_actor")

# What a caller may ask of a room through the router (Room's methods of the same names).
CONTROL_ACTIONS = frozenset({
    "admit", "deny", "remove", "lock", "mute_all", "mute", "set_stage", "set_layout", "pin", "set_gain",
    "rename", "request_keyframe",
})
# Events after which the control state differs from the last snapshot.
CONTROL_EVENTS = frozenset({
    EventKind.JOINED, EventKind.LEFT, EventKind.WAITING, EventKind.ADMITTED, EventKind.DENIED, EventKind.LEFT_LOBBY,
    EventKind.REMOVED, EventKind.LAYOUT_CHANGED, EventKind.LOCKED, EventKind.UNLOCKED, EventKind.MUTED_ALL,
    EventKind.UNMUTED_ALL, EventKind.MUTED, EventKind.UNMUTED, EventKind.STAGE_CHANGED, EventKind.PIN_LOCKED_OUT,
})


class RoomActor:
    """`store_name`: the ControlStore actor's name. `spec`: room_type, participants,
    visible, room_options (Room's keyword arguments but the PINs), peer_options (RoomPeer's)."""

    def __init__(self, room_id: str, store_name: str, spec: dict):
        self.room_id = room_id
        self.store: Any = ray.get_actor(store_name)  # an actor handle: Ray's stubs have no .remote on its methods
        self.spec = spec
        # Ray reserves the room's CPU share for placement; the room's threads (decodes, its
        # views encoded side by side) may run on any of the node's cores, as on a RoomHost.
        self.host = RoomHost(utilization=1.0)
        self.room: Room | None = None  # these three are set together, by _serve
        self.driver: HostedRoom | None = None
        self.peers: RoomPeers | None = None
        self._seq = 0
        self._saving = False
        self.epoch: int
        snapshot: dict | None
        self.epoch, snapshot = ray.get(self.store.checkout.remote(room_id))
        self.restored: bool = snapshot is not None
        if snapshot is not None:  # Ray restarted us: the room comes back as it was saved
            room = self.host.restore_room(room_id, snapshot, participants=spec["participants"],
                                          visible=spec.get("visible"), audit=self._audit)
            self._serve(room)
            log.warning("room %s restored on node %s (incarnation %d)", room_id, self._node(), self.epoch)

    # --- the router's calls -----------------------------------------------------------------
    async def open(self, pins: dict) -> dict:
        """Create the room (first incarnation only) and start ticking it."""
        if self.room is None:
            options = dict(self.spec.get("room_options") or {})
            room = self.host.create_room(self.room_id, self.spec["room_type"], participants=self.spec["participants"],
                                         visible=self.spec.get("visible"), audit=self._audit, **options, **pins)
            self._serve(room)
        return await self.info()

    async def offer(self, body: dict) -> dict:
        """A participant's WebRTC offer: its peer connects to this process."""
        _, _, peers = self._require_open()
        try:
            answer = await peers.offer(body)
        except VmediaError as e:
            raise portable(e) from None
        answer["node"] = self._node()
        return answer

    async def control(self, action: str, args: list, kwargs: dict, token: str | None = None):
        """Room.<action>(*args, **kwargs) between two of the room's ticks. With a `token`,
        the participant acting (the first argument) must hold it (Room.authenticate)."""
        room, driver, _ = self._require_open()
        if action not in CONTROL_ACTIONS:
            raise InvalidInputError(f"unknown room action {action!r}; one of {sorted(CONTROL_ACTIONS)}")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise InvalidInputError("a room action takes a list of arguments and a dict of keyword arguments")
        if not args:
            raise InvalidInputError(f"room action {action!r} names who acts first")

        def act():
            if token is not None:
                room.authenticate(args[0], token, action)
            return getattr(room, action)(*args, **kwargs)

        try:
            result = await driver.run(act)
        except VmediaError as e:
            raise portable(e) from None
        self._save()
        return result

    async def attach(self, factory):
        """Run factory(room) in this process, between two ticks; if it returns a callable,
        call that with the media time before every tick: a media source living next to the
        room (a gateway's ingest, a test sender, a benchmark's recording). Anything else it
        returns is returned (pickled). Not part of the room's control state: a restarted
        room comes back without it."""
        room, driver, _ = self._require_open()
        result = await driver.run(factory, room)
        if callable(result):
            driver.add_feed(result)
            return None
        return result

    async def info(self) -> dict:
        """Where the room runs and who is in it."""
        room, _, peers = self._require_open()
        stats = self.host.stats().get(self.room_id)
        return {
            "room": self.room_id, "node": self._node(), "pid": os.getpid(), "incarnation": self.epoch,
            "restored": self.restored, "participants": room.participants, "lobby": list(room.lobby),
            "expected": sorted(getattr(room, "expected", ())), "peers": sorted(peers.by_pid),
            "locked": room.locked, "stats": asdict(stats) if stats else None,
        }

    async def close(self, forget: bool = True) -> None:
        """End the room on purpose: peers hang up, the room closes, the store forgets it
        (or, `forget=False`, keeps its last snapshot for a router that starts again)."""
        if self.peers is not None:
            await self.peers.close_all("the room was closed")
        self.host.close()
        if forget:
            await self.store.forget.remote(self.room_id)

    # --- internals --------------------------------------------------------------------------
    def _serve(self, room: Room) -> None:
        from vmedia.webrtc.peers import RoomPeers

        self.room = room
        self.host.start()
        self.driver = driver = self.host.driver(self.room_id)
        driver.start()
        self.peers = RoomPeers(driver, **(self.spec.get("peer_options") or {}))
        driver.subscribe(self._on_event, loop=None)  # on the emitting thread: snapshots are taken between ticks
        self._save()

    def _on_event(self, event: Event) -> None:
        if event.kind in CONTROL_EVENTS:
            self._save()

    def _save(self) -> None:
        """Snapshot the control state between two ticks, on a host worker, and send it to
        the store; several changes in a row make one snapshot."""
        if self._saving:
            return
        room, driver, _ = self._require_open()
        self._saving = True

        def take():
            self._saving = False
            self._seq += 1
            self.store.put.remote(self.room_id, self.epoch, self._seq, room.snapshot())

        future = driver.call(take)
        future.add_done_callback(_log_failure)

    def _audit(self, record: AuditRecord) -> None:
        self.store.audit.remote(self.room_id, record.to_dict())

    def _require_open(self) -> tuple[Room, HostedRoom, RoomPeers]:
        """The room, its driver and its peers; VmediaError before the room is served."""
        if self.room is None or self.driver is None or self.peers is None:
            raise VmediaError(f"room {self.room_id!r} is not open (its actor restarted before it was first opened)")
        return self.room, self.driver, self.peers

    @staticmethod
    def _node() -> str:
        return ray.get_runtime_context().get_node_id()


def _log_failure(future) -> None:
    if future.exception() is not None:
        log.error("could not snapshot the room: %r", future.exception())



def portable(error: VmediaError) -> VmediaError:
    """The error as the public vmedia class it derives from, with its message: what Ray
    can pickle back to the router (PinRefused, say, has a constructor of its own)."""
    for cls in type(error).__mro__:
        if cls.__module__ == errors.__name__:
            return cls(str(error))
    return VmediaError(str(error))
