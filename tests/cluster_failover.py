"""Scenario (run in a network namespace by test_cluster.py): a Ray cluster of two nodes on
127.0.0.1 (the head and a second node process with its own CPUs), rooms placed on both
behind `vmedia serve --cluster`'s HTTP front, aiortc callers in each (cluster_clients.py).
Then: a room's actor process is killed; later the second node is killed with two rooms
on it. Prints RESULT {json}: where each room ran before and after, how long it was away,
every caller's sessions, the audit records, and what was left running."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from netns import loopback_only_network

HERE = Path(__file__).parent
FAST_FAILURE_DETECTION = {  # the head declares a silent node dead in ~2 s, not ~30 s
    "health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_failure_threshold": 4,
}


async def wait_for(what: str, check, timeout: float):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            got = await check()
            if got:
                return time.monotonic() - start
        except Exception:  # the room is restarting: keep asking
            pass
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def scenario(rooms: dict, hold: float) -> dict:
    import ray
    from ray.cluster_utils import Cluster as RayCluster
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from vmedia.hosting.cluster import Cluster
    from vmedia.webrtc.cluster_server import make_cluster_app

    ray_cluster = RayCluster(initialize_head=True, head_node_args={"num_cpus": 4, "_system_config": FAST_FAILURE_DETECTION})
    second = ray_cluster.add_node(num_cpus=4)
    ray_cluster.wait_for_nodes()
    head_id = ray_cluster.head_node.node_id
    audit_path = tempfile.mktemp(suffix=".jsonl")
    cluster = Cluster(ray_cluster.address, audit=audit_path, peer_options={"media_timeout": 5.0})
    runner = web.AppRunner(make_cluster_app(cluster))
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    front = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result: dict = {"head": head_id, "second": second.node_id, "events": []}

    actor_pids: set[int] = set()  # every room process seen, all incarnations

    async def info(room_id: str) -> dict:
        async with aiohttp.ClientSession() as http, http.get(f"{front}/rooms/{room_id}") as r:
            got = await r.json() if r.status == 200 else {}
        actor_pids.update([got["pid"]] if "pid" in got else [])
        return got

    async def control(room_id: str, action: str, *args):
        # The service's backend (trusted, no client token): the router's Python API.
        await cluster.control(room_id, action, *args)

    def full(room_id: str, incarnation: int):
        want = sorted(c["pid"] for c in rooms[room_id]["clients"])

        async def check():
            i = await info(room_id)
            return i.get("incarnation") == incarnation and sorted(i["participants"]) == want
        return check

    # Rooms, each placed on its node (softly: Ray may move it when the node dies).
    for room_id, spec in rooms.items():
        node = head_id if spec["node"] == "head" else second.node_id
        await cluster.create_room(room_id, spec["type"], participants=len(spec["clients"]), layout="gallery",
                                  placement={"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True)},
                                  **spec.get("pins", {}))
    result["placed"] = {r: (await info(r))["node"] for r in rooms}
    clients = [dict(c, room=r) for r, spec in rooms.items() for c in spec["clients"]]
    proc = await asyncio.create_subprocess_exec(sys.executable, str(HERE / "cluster_clients.py"),
                                                json.dumps({"front": front, "clients": clients}),
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    failure = None
    try:
        # A sensitive room: the host lets the waiting patient in.
        for room_id, spec in rooms.items():
            if "admit" in spec:
                host, guest = spec["admit"]
                await wait_for(f"{guest} in {room_id}'s lobby", lambda: _in_lobby(info, room_id, guest), 40)
                await control(room_id, "admit", host, guest)
                await control(room_id, "lock", host, True)
        for room_id in rooms:
            await wait_for(f"everyone in {room_id}", full(room_id, 1), 40)
        await asyncio.sleep(hold)

        # 1. One room's process dies.
        victim = next(r for r, s in rooms.items() if s.get("kill") == "actor")
        os.kill((await info(victim))["pid"], signal.SIGKILL)
        result["actor_back_after"] = await wait_for(f"{victim} restored and rejoined", full(victim, 2), 60)
        result["after_actor_kill"] = {r: await info(r) for r in rooms}
        await asyncio.sleep(hold)

        # 2. The second node dies with its rooms.
        ray_cluster.remove_node(second, allow_graceful=False)
        moved = [r for r, s in rooms.items() if s["node"] == "second"]
        result["node_back_after"] = {r: await wait_for(f"{r} moved and rejoined", full(r, 2), 60) for r in moved}
        await asyncio.sleep(hold)
        result["after_node_kill"] = {r: await info(r) for r in rooms}

        # 3. A stranger without the PIN, after the failover: the room is still closed to them.
        pin_room = next(r for r, s in rooms.items() if "pins" in s)
        result["stranger"] = await _stranger(f"{front}/rooms/{pin_room}/offer")
    except AssertionError as e:
        failure = f"{e}; rooms: {[await info(r) for r in rooms]}"
    finally:
        proc.stdin.write(b"stop\n")
        await proc.stdin.drain()
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = [line for line in out.decode().splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"clients failed ({proc.returncode}): {err.decode()[-3000:]}"
    result["callers"] = json.loads(lines[0][len("RESULT "):])
    if failure:
        raise AssertionError(f"{failure}; callers: {result['callers']}")

    async def empty():
        result["last_seen"] = {r: await info(r) for r in rooms}
        return all(not i["participants"] and not i["peers"] for i in result["last_seen"].values())

    try:
        await wait_for("the rooms to empty", empty, 30)
    except AssertionError as e:
        raise AssertionError(f"{e}: {result['last_seen']}") from None
    async with aiohttp.ClientSession() as http:
        for room_id in rooms:
            async with http.get(f"{front}/rooms/{room_id}/audit") as r:
                result.setdefault("audit", {})[room_id] = await r.json()
        async with http.get(f"{front}/rooms/nowhere") as r:
            result["unknown_room_status"] = r.status
        async with http.delete(f"{front}/rooms/{next(iter(rooms))}") as r:
            result["delete_status"] = r.status
    result["audit_file_lines"] = sum(1 for _ in open(audit_path))
    await runner.cleanup()  # closes the cluster: every room ends
    result["actors_left"] = await _still_running(actor_pids)
    ray.shutdown()
    ray_cluster.shutdown()
    result["leftover_tasks"] = [repr(t) for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    return result


async def _in_lobby(info, room_id: str, pid: str) -> bool:
    return pid in (await info(room_id)).get("lobby", [])


async def _stranger(url: str) -> dict:
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    body = {"sdp": pc.localDescription.sdp, "type": "offer", "pid": "stranger", "name": "Stranger"}
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as r:
        answer = {"status": r.status, "text": await r.text()}
    await pc.close()
    return answer


async def _still_running(pids: set[int]) -> list[int]:
    """Which of the rooms' processes still run once the front has closed the cluster."""
    for _ in range(40):
        alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
        if not alive:
            break
        await asyncio.sleep(0.25)
    return alive


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    loopback_only_network()
    print("RESULT " + json.dumps(asyncio.run(scenario(args["rooms"], args["hold"]))), flush=True)
