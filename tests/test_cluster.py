"""Rooms on a Ray cluster (vmedia.hosting.cluster), with real aiortc callers: two nodes on
127.0.0.1, a room's process killed, then a node killed (cluster_failover.py)."""

from __future__ import annotations

import asyncio
import operator
import os
import time

import pytest

pytest.importorskip("ray")
pytest.importorskip("aiortc")

from vmedia.errors import CapacityError, InvalidInputError, PermissionDenied, RoomNotFound, VmediaError  # noqa: E402

ROOMS = {  # every caller its own colour and pitch (no pitch a harmonic of another in its room)
    "east": {"type": "administrative", "node": "head", "kill": "actor", "clients": [
        {"pid": "ann", "rgb": [200, 30, 30], "pitch": 400.0, "beep": 2500.0, "phase": 0.0, "seed": 0},
        {"pid": "ben", "rgb": [30, 160, 30], "pitch": 560.0, "beep": 2800.0, "phase": 0.5, "seed": 1}]},
    "west": {"type": "administrative", "node": "second", "clients": [
        {"pid": "cat", "rgb": [30, 30, 200], "pitch": 730.0, "beep": 3100.0, "phase": 0.25, "seed": 2},
        {"pid": "dan", "rgb": [200, 200, 40], "pitch": 880.0, "beep": 3400.0, "phase": 0.75, "seed": 3}]},
    # A consultation: PINs, a lobby, locked once the patient is in. After the failover both
    # come back without PIN or lobby; a stranger without the PIN is still refused.
    "north": {"type": "sensitive", "node": "second", "pins": {"host_pin": "4711", "guest_pin": "2468"},
              "admit": ["doc", "pat"], "clients": [
        {"pid": "doc", "rgb": [40, 200, 200], "pitch": 330.0, "beep": 2600.0, "phase": 0.1, "seed": 4, "pin": "4711"},
        {"pid": "pat", "rgb": [200, 40, 200], "pitch": 470.0, "beep": 3600.0, "phase": 0.6, "seed": 5, "pin": "2468"}]},
}


def luma(rgb) -> float:
    return 0.257 * rgb[0] + 0.504 * rgb[1] + 0.098 * rgb[2] + 16


def test_rooms_survive_a_dead_process_and_a_dead_node():
    from netns import run_isolated, why_not_isolated

    reason = why_not_isolated()
    if reason is not None:
        pytest.skip(f"real-client tests: {reason}")
    run = run_isolated("cluster_failover.py", {"rooms": ROOMS, "hold": 4.0}, timeout=300)
    head, second = run["head"], run["second"]
    assert run["placed"] == {"east": head, "west": second, "north": second}
    # The killed process came back (a new incarnation, restored from its snapshot) and its
    # callers rejoined; the dead node's rooms moved to the head and theirs rejoined too.
    assert run["after_actor_kill"]["east"]["incarnation"] == 2 and run["after_actor_kill"]["east"]["restored"]
    assert run["after_actor_kill"]["west"]["incarnation"] == 1  # the other rooms did not notice
    for r in ("west", "north"):
        assert run["after_node_kill"][r]["node"] == head and run["after_node_kill"][r]["incarnation"] == 2, run["after_node_kill"][r]
    assert run["after_node_kill"]["north"]["locked"]  # the consultation is still closed
    for pid, caller in run["callers"].items():
        room = ROOMS[caller["room"]]
        sessions = caller["sessions"]
        # Its room failed once: the caller re-offered with its rejoin token and no PIN, and
        # was let straight back in, no lobby. (A starved machine may add reconnects of its
        # own; those are dropped calls, back the same way.)
        assert len(sessions) >= 2, (pid, sessions)
        assert all(s["status"] == "admitted" and not s["pin_given"] for s in sessions[1:]), (pid, sessions)
        # After the rejoin: the room's composite again, both tiles in their colours, and the
        # other caller's voice, far above its own.
        after = max(sessions[1:], key=lambda s: s["frames"])
        assert after["size"] == [1280, 720] and after["frames"] >= 10, (pid, after)
        expected = sorted(luma(c["rgb"]) for c in room["clients"])
        assert all(abs(a - b) < 12 for a, b in zip(after["tile_luma"], expected)), (pid, after["tile_luma"], expected)
        other = next(c["pid"] for c in room["clients"] if c["pid"] != pid)
        assert after["tone_db"][other] - after["tone_db"][pid] >= 30, (pid, after["tone_db"])
    assert run["stranger"]["status"] == 403, run["stranger"]
    # The audit log (kept by the store, across the failures) has each restore and rejoin.
    for r in ("east", "west", "north"):
        actions = [rec["action"] for rec in run["audit"][r]]
        assert "restored" in actions, (r, actions)
        rejoins = {rec["actor"] for rec in run["audit"][r] if rec["action"] == "join" and "rejoined after failover" in rec["detail"]}
        assert rejoins == {c["pid"] for c in ROOMS[r]["clients"]}, (r, run["audit"][r])
    assert run["audit_file_lines"] >= sum(len(v) for v in run["audit"].values())
    # Bad requests and the end: clear statuses, nothing left running.
    assert run["unknown_room_status"] == 404 and run["delete_status"] == 204
    assert run["actors_left"] == []
    assert run["leftover_tasks"] == []


def alive_room_actors() -> int:
    """RoomActors alive in this driver's Ray cluster (the GCS's table; other Ray clusters
    on the machine do not count)."""
    import ray._private.state

    return sum(a["ActorClassName"] == "RoomActor" and a["State"] == "ALIVE" for a in ray._private.state.actors().values())


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_bad_requests_get_clear_errors_and_leave_nothing_behind():
    from vmedia.hosting.cluster import Cluster

    cluster = Cluster("local", num_cpus=2)

    async def misuse():
        with pytest.raises(InvalidInputError, match="room id"):
            await cluster.create_room("no spaces!", participants=2)
        with pytest.raises(InvalidInputError, match="room type"):
            await cluster.create_room("r", "ballroom", participants=2)
        with pytest.raises(InvalidInputError, match="participants"):
            await cluster.create_room("r", participants=0)
        # 60 people, each with a view of their own: far more CPU than this machine has.
        with pytest.raises(CapacityError, match="'huge' needs about .* CPU"):
            await cluster.create_room("huge", participants=60, layout="gallery", self_view="exclude")
        info = await cluster.create_room("r", participants=2, layout="gallery")
        assert info["incarnation"] == 1 and not info["restored"] and info["participants"] == []
        with pytest.raises(InvalidInputError, match="already exists"):
            await cluster.create_room("r", participants=2)
        with pytest.raises(RoomNotFound, match="'ghost'"):
            await cluster.info("ghost")
        with pytest.raises(RoomNotFound):
            await cluster.offer("ghost", {"type": "offer", "sdp": ""})
        with pytest.raises(InvalidInputError, match="unknown room action 'close'"):
            await cluster.control("r", "close")
        with pytest.raises(PermissionDenied, match="not a host"):
            await cluster.control("r", "lock", "nobody", True)
        with pytest.raises(InvalidInputError, match="does not parse"):
            await cluster.offer("r", {"type": "offer", "sdp": "v=0 garbage", "pid": "p1"})
        with pytest.raises(InvalidInputError):
            await cluster.offer("r", ["not", "a", "dict"])
        info = await cluster.info("r")
        assert info["peers"] == [] and info["participants"] == []  # a refused offer leaves no peer
        assert alive_room_actors() == 1  # the refused rooms left no actor
        # A request from a client acts as someone only with their token.
        assert await cluster.attach("r", operator.methodcaller("join", "h", "Host", role="host")) == "admitted"
        token = await cluster.attach("r", operator.methodcaller("rejoin_token", "h"))
        for forged in ("forged", "", token[:-1]):
            with pytest.raises(PermissionDenied, match="does not hold 'h''s token"):
                await cluster.control("r", "lock", "h", True, token=forged)
        assert not (await cluster.info("r"))["locked"]
        await cluster.control("r", "lock", "h", True, token=token)
        assert (await cluster.info("r"))["locked"]
        denied = [a for a in await cluster.audit_records("r") if a["action"] == "authenticate"]
        assert len(denied) == 3 and all(a["outcome"] == "denied" for a in denied)
        await cluster.remove_room("r")
        with pytest.raises(RoomNotFound):
            await cluster.info("r")
        assert gone(info["pid"])  # the room's process ended with it
        await cluster.close()
        with pytest.raises(VmediaError, match="closed"):
            await cluster.create_room("late", participants=2)

    asyncio.run(misuse())


def test_rooms_come_back_when_the_router_restarts(tmp_path):
    import json
    import stat

    import ray

    from vmedia.hosting.cluster import Cluster

    state = tmp_path / "state"

    async def before_the_crash():
        cluster = Cluster("local", num_cpus=2, state_dir=str(state))
        await cluster.create_room("ward", "sensitive", participants=2, host_pin="47114711", guest_pin="24682468")
        # The doctor joins with the host PIN in the room's process, then locks the room.
        assert await cluster.attach("ward", operator.methodcaller("join", "doc", "Dr. Berg", pin="47114711")) == "admitted"
        await cluster.control("ward", "lock", "doc", True)
        saved = state / "ward.json"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            snap = json.loads(saved.read_text())["snapshot"] if saved.exists() else None
            if snap and snap["locked"] and [m["id"] for m in snap["members"]] == ["doc"]:
                return saved
            await asyncio.sleep(0.1)
        raise AssertionError(f"the locked room never reached {saved}")

    saved = asyncio.run(before_the_crash())
    ray.shutdown()  # the router dies with its Ray, without closing its rooms
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600  # PIN hashes: for this user only
    assert "47114711" not in saved.read_text() and "24682468" not in saved.read_text()

    async def after_the_restart():
        cluster = Cluster("local", num_cpus=2, state_dir=str(state))
        outcome = await cluster.recover()
        info = await cluster.info("ward")
        records = await cluster.audit_records("ward")
        await cluster.close()
        return outcome, info, records

    outcome, info, records = asyncio.run(after_the_restart())
    assert outcome == {"ward": "recovered"}
    assert info["restored"] and info["locked"] and info["expected"] == ["doc"] and info["participants"] == []
    assert [r["action"] for r in records] == ["restored"]  # the new store's log starts with the recovery
    assert not saved.exists()  # closed on purpose: nothing left to recover
