"""Rooms across machines on Ray: the router.

    cluster = Cluster("local")                   # or "ray://head:10001", or "auto"
    await cluster.create_room("ward-7", "sensitive", participants=6, host_pin="4711")
    answer = await cluster.offer("ward-7", {"sdp": ..., "type": "offer", "pid": "dr-a", "pin": "4711"})
    await cluster.control("ward-7", "lock", "dr-a", True)
    await cluster.close()

Each room is one Ray actor (vmedia.hosting.room_actor.RoomActor) that owns the room's
RoomHost slot and its WebRTC peers, so media never crosses Ray's object store. Ray places
the actor with a CPU request from the cost model (hosting/costs.py) and, when the actor or
its node dies, restarts it (on another node if it must); the restarted actor restores the
room from the control-state snapshot it left in the ControlStore (hosting/control_store.py),
its members are expected back, and the restore is in the room's audit log. Clients see
their connection drop and re-offer; while the room is restarting, calls raise
RoomUnavailable (HTTP 503 with Retry-After in the server).

The router holds no media and little state: the rooms it created, their actor handles.
Its actors are owned by its Ray job, so they end with it: no orphans. The control state
lives in the store on the router's node; losing that node (Ray's head) loses the cluster.
Needs the extra: pip install 'vmedia[cluster]'.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any

try:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError("vmedia.hosting.cluster needs Ray: pip install 'vmedia[cluster]'") from e

from vmedia.errors import CapacityError, InvalidInputError, RoomNotFound, RoomUnavailable, VmediaError
from vmedia.hosting import costs
from vmedia.hosting.control_store import ControlStore
from vmedia.hosting.room_actor import RoomActor

log = logging.getLogger("vmedia.hosting.cluster")

ROOM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # it appears in URLs and actor names
PLACE_TIMEOUT = 60.0  # seconds for a new room's actor to start (a worker process imports vmedia)
CALL_TIMEOUT = 20.0  # seconds for a control call; longer means the actor is gone or restarting
RESTARTS = 5  # how many times Ray restarts a room's actor (its process or node died)


@dataclass
class _Entry:
    actor: Any  # a RoomActor handle: Ray's stubs have no .remote on its methods
    cpu: float  # Ray's CPU request
    estimate: costs.RoomCost


def cpu_request(estimate: float) -> float:
    """Ray's CPU request for a room the cost model puts at `estimate` CPU: in hundredths
    of a core, at least a tenth (a room always has audio and a tick to run)."""
    return max(0.1, math.ceil(estimate * 100) / 100)


class Cluster:
    """The router: rooms on a Ray cluster, control as actor calls. `address`: "local"
    starts a Ray instance on this machine, anything else is ray.init's address ("auto",
    "ray://head:10001"). `audit`: a JSON Lines file on the router's node for every room's
    audit records. `state_dir`: a folder on the router's node where each room's control
    state is kept, so that a new router brings the rooms back (`recover()`). `peer_options`
    go to every RoomPeer. Methods are coroutines."""

    def __init__(self, address: str = "local", *, audit: str | None = None, state_dir: str | None = None,
                 namespace: str = "vmedia",
                 restarts: int = RESTARTS, peer_options: dict | None = None, call_timeout: float = CALL_TIMEOUT,
                 place_timeout: float = PLACE_TIMEOUT, **ray_init):
        if not isinstance(address, str) or not address:
            raise InvalidInputError(f"a cluster address is 'local', 'auto' or 'ray://host:port', got {address!r}")
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            ray_init.setdefault("logging_level", logging.WARNING)
            ray_init.setdefault("log_to_driver", False)
            if address == "local":  # a Ray of our own, never one that happens to run here already
                ray_init.setdefault("include_dashboard", False)
                ray.init(address="local", namespace=namespace, **ray_init)
            else:
                ray.init(address=address, namespace=namespace, **ray_init)
        self.restarts = restarts
        self.peer_options = dict(peer_options or {})
        self.call_timeout = call_timeout
        self.place_timeout = place_timeout
        here = ray.get_runtime_context().get_node_id()
        # Named, so room actors find it by name: an actor handle among a restartable actor's
        # constructor arguments would live in the object store, and could be lost with it.
        self._store_name = f"vmedia-control-store-{uuid.uuid4().hex[:8]}"
        # Actor handles are Any: Ray's stubs have no .remote on an actor's methods.
        self._store: Any = ray.remote(ControlStore).options(
            name=self._store_name, num_cpus=0, max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False),
        ).remote(_absolute(audit), state_dir=_absolute(state_dir))  # the store's working folder is Ray's
        self._actor_class: Any = ray.remote(RoomActor)
        self._rooms: dict[str, _Entry] = {}
        self._creating = asyncio.Lock()
        self._closed = False

    # --- rooms ------------------------------------------------------------------------------
    async def create_room(self, room_id: str, room_type: str = "administrative", *, participants: int,
                          visible: int | None = None, host_pin: str | None = None, guest_pin: str | None = None,
                          placement: dict | None = None, **room_options) -> dict:
        """Place a room on the cluster; its info (node, incarnation...). CapacityError when
        no node has the CPU the cost model asks for; InvalidInputError for bad arguments.
        `placement`: extra Ray actor options (a scheduling strategy, custom resources)."""
        self._check_open()
        if not isinstance(room_id, str) or not ROOM_ID.fullmatch(room_id):
            raise InvalidInputError(f"a room id is 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                                    f"or digit; got {room_id!r:.80}")
        estimate = costs.estimate_room(room_type, participants, visible=visible, **room_options)
        cpu = cpu_request(estimate.total)
        async with self._creating:  # one placement at a time: each sees the CPU the last one took
            if room_id in self._rooms:
                raise InvalidInputError(f"room {room_id!r} already exists on this cluster")
            self._check_fits(room_id, cpu)
            spec = {"room_type": room_type, "participants": participants, "visible": visible,
                    "room_options": room_options, "peer_options": self.peer_options}
            await self._store.register.remote(room_id, spec)
            pins = {k: v for k, v in (("host_pin", host_pin), ("guest_pin", guest_pin)) if v is not None}
            try:
                actor, info = await self._start(room_id, spec, cpu, placement, "open", pins)
            except BaseException:
                await self._store.forget.remote(room_id)
                raise
            self._rooms[room_id] = _Entry(actor, cpu, estimate)
        log.info("room %s placed on node %s with %.2f CPU", room_id, info["node"], cpu)
        return info

    async def recover(self) -> dict[str, str]:
        """Bring back the rooms of this cluster's `state_dir` (the router, or the head, was
        restarted): each in a new actor, restored from its last snapshot like a room whose
        process died; its members are expected back. Returns {room: "recovered" or why not}."""
        self._check_open()
        outcome = {}
        for room_id, spec in (await self._store.recoverable.remote()).items():
            if room_id in self._rooms:
                continue
            try:
                estimate = costs.estimate_room(spec["room_type"], spec["participants"], visible=spec["visible"],
                                               **spec["room_options"])
                cpu = cpu_request(estimate.total)
                self._check_fits(room_id, cpu)
                actor, _ = await self._start(room_id, dict(spec, peer_options=self.peer_options), cpu, None, "info")
            except (VmediaError, KeyError, TypeError) as e:
                outcome[room_id] = f"not recovered: {e!r}"
                log.error("room %s: not recovered: %r", room_id, e)
                continue
            self._rooms[room_id] = _Entry(actor, cpu, estimate)
            outcome[room_id] = "recovered"
        return outcome

    async def remove_room(self, room_id: str, *, keep_state: bool = False) -> None:
        """End the room: its peers hang up, its actor ends, the store forgets it (unless
        `keep_state`: its last snapshot stays in the state folder for `recover()`)."""
        entry = self._entry(room_id)
        del self._rooms[room_id]
        try:
            await asyncio.wait_for(_unwrap(entry.actor.close.remote(not keep_state), room_id), self.call_timeout)
        except (asyncio.TimeoutError, RoomUnavailable):
            log.warning("room %s did not close in time; ending its actor", room_id)
        finally:
            self._end(entry.actor, room_id)

    @property
    def rooms(self) -> list[str]:
        return list(self._rooms)

    # --- the control plane -------------------------------------------------------------------
    async def offer(self, room_id: str, body: dict) -> dict:
        """A participant's WebRTC offer, answered by the room's actor (its peer connects
        to that actor's process); {"sdp", "type", "pid", "status", "node"}."""
        return await self._call(room_id, "offer", body)

    async def control(self, room_id: str, action: str, *args, token: str | None = None, **kwargs):
        """Room.<action>(*args, **kwargs) in the room (admit, lock, mute, set_layout...).
        `token`: for a request from a client, the rejoin token of the participant acting
        (the first argument); the room refuses the request if it is not theirs."""
        return await self._call(room_id, "control", action, list(args), kwargs, token)

    async def attach(self, room_id: str, factory):
        """Run factory(room) in the room's process (see RoomActor.attach): media sources
        that must live next to the room. `factory` travels pickled (cloudpickle)."""
        return await self._call(room_id, "attach", factory)

    async def info(self, room_id: str) -> dict:
        """Where the room runs (node, incarnation, restored), who is in, its host stats."""
        return await self._call(room_id, "info")

    async def audit_records(self, room_id: str) -> list[dict]:
        """The room's newest audit records, kept by the store across restarts."""
        self._entry(room_id)
        return await self._store.records.remote(room_id)

    async def close(self, *, keep_state: bool = False) -> None:
        """Remove every room; shut Ray down if this router started it. `keep_state`: a
        restart, not an end: the rooms' control state stays in the state folder and the
        next router's `recover()` brings them back."""
        if self._closed:
            return
        for room_id in list(self._rooms):
            await self.remove_room(room_id, keep_state=keep_state)
        ray.kill(self._store)
        self._closed = True
        if self._started_ray:
            ray.shutdown()

    # --- internals ---------------------------------------------------------------------------
    async def _call(self, room_id: str, method: str, *args):
        entry = self._entry(room_id)
        try:
            return await asyncio.wait_for(_unwrap(getattr(entry.actor, method).remote(*args), room_id), self.call_timeout)
        except asyncio.TimeoutError:
            raise RoomUnavailable(f"room {room_id!r} did not answer within {self.call_timeout:g} s; "
                                  "it may be restarting after a failure") from None

    async def _start(self, room_id: str, spec: dict, cpu: float, placement: dict | None, first: str, *args):
        """A new actor for the room and the answer to its first call (`open` for a new room,
        `info` for one it restores); a room Ray does not place in time is a CapacityError,
        and an actor that fails is ended, never left pending."""
        actor = self._actor_class.options(
            num_cpus=cpu, max_restarts=self.restarts, max_task_retries=0, **(placement or {}),
        ).remote(room_id, self._store_name, spec)
        try:
            return actor, await asyncio.wait_for(_unwrap(getattr(actor, first).remote(*args), room_id), self.place_timeout)
        except asyncio.TimeoutError:
            self._end(actor, room_id)
            raise CapacityError(f"room {room_id!r} (about {cpu:.2f} CPU) was not placed within "
                                f"{self.place_timeout:g} s: no node has that much CPU free") from None
        except BaseException:
            self._end(actor, room_id)
            raise

    def _entry(self, room_id: str) -> _Entry:
        self._check_open()
        entry = self._rooms.get(room_id) if isinstance(room_id, str) else None
        if entry is None:
            raise RoomNotFound(f"no room {room_id!r:.80} on this cluster; it has {sorted(self._rooms)}")
        return entry

    def _check_open(self) -> None:
        if self._closed:
            raise VmediaError("the cluster router is closed")

    def _check_fits(self, room_id: str, cpu: float) -> None:
        """Refuse now what Ray could never place: more CPU than any node has free."""
        free = _free_cpu_per_node()
        if free and max(free.values()) + 1e-9 < cpu:
            raise CapacityError(f"room {room_id!r} needs about {cpu:.2f} CPU; the most any node has free is "
                                f"{max(free.values()):.2f} (nodes: {', '.join(f'{v:.2f}' for v in free.values())})")

    @staticmethod
    def _end(actor, room_id: str) -> None:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # already gone
            log.debug("actor of room %s already gone", room_id, exc_info=True)


def _absolute(path: str | None) -> str | None:
    return None if path is None else os.path.abspath(path)


def _free_cpu_per_node() -> dict[str, float]:
    """Unreserved CPU of each alive node ({} when Ray does not say)."""
    try:
        per_node = ray._private.state.state.available_resources_per_node()  # no public per-node view
    except Exception:  # pragma: no cover - Ray's internals moved
        return {}
    return {node: res.get("CPU", 0.0) for node, res in per_node.items()}


async def _unwrap(ref, room_id: str):
    """Await an actor call; a vmedia error raised in the room comes out as itself, a dead
    or restarting actor as RoomUnavailable."""
    try:
        return await ref
    except RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, VmediaError):
            raise cause from None
        raise VmediaError(f"room {room_id!r} failed: {cause!r}") from None
    except (RayActorError, GetTimeoutError) as e:
        raise RoomUnavailable(f"room {room_id!r} is unavailable ({type(e).__name__}); it is restarting "
                              "from its last snapshot, or has ended") from None
