"""`vmedia serve`: the command serves its page and answers /offer, on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("aiortc")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_vmedia_serve_serves_the_join_page_refuses_bad_offers_and_stops_on_ctrl_c():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vmedia", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--room-type", "administrative", "--layout", "gallery"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        page = None
        for _ in range(100):  # the server is up once the page answers
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as resp:
                    page = resp.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert page is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert "getUserMedia" in page and "/offer" in page  # the join page, shipped in the package
        status, text = post(base + "/offer", b"not json")
        assert status == 400 and "JSON" in text
        status, text = post(base + "/offer", json.dumps({"type": "offer", "sdp": "v=0\r\n", "pid": "x"}).encode())
        assert status == 400 and "no audio or video" in text  # an SDP without media, said plainly
        status, text = post(base + "/offer", json.dumps({"type": "offer", "sdp": "v=0 garbage", "pid": "y"}).encode())
        assert status == 400 and "does not parse" in text  # not a 500 from aiortc's parser
        for _ in range(50):  # the room is live (ticking on its own thread) and empty
            with urllib.request.urlopen(base + "/stats", timeout=5) as resp:
                stats = json.load(resp)
            if stats["ticks"] > 0:
                break
            time.sleep(0.1)
        assert stats["participants"] == [] and stats["ticks"] > 0
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"127.0.0.1:{port}" in out


def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def serve_cluster(port: int, *extra: str, admin_token: str | None = None) -> tuple[subprocess.Popen, dict]:
    """`vmedia serve --cluster local ...` on `port`, once it answers: (process, GET /rooms)."""
    env = {**os.environ, "VMEDIA_ADMIN_TOKEN": admin_token or ""}
    proc = subprocess.Popen([sys.executable, "-m", "vmedia", "serve", "--cluster", "local", "--port", str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    auth = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
    for _ in range(300):  # Ray starts, then the rooms' actors
        try:
            return proc, json.loads(get(f"http://127.0.0.1:{port}/rooms", auth)[1])
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"vmedia serve --cluster never answered: {proc.communicate()[1][-3000:]}")


def ctrl_c(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out


def ended(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    return not os.path.exists(f"/proc/{pid}")


def test_vmedia_serve_cluster_local_places_rooms_refuses_bad_requests_and_restarts(tmp_path):
    pytest.importorskip("ray")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    audit, state = tmp_path / "audit.jsonl", tmp_path / "state"
    proc, rooms = serve_cluster(port, "--room", "ward-7", "--room-type", "sensitive", "--participants", "3",
                                "--audit", str(audit), "--state-dir", str(state))
    try:
        assert list(rooms) == ["ward-7"] and rooms["ward-7"]["incarnation"] == 1
        actor = json.loads(get(base + "/rooms/ward-7")[1])["pid"]
        status, page = get(base + "/rooms/ward-7/")
        assert status == 200 and "getUserMedia" in page
        assert get(base + "/rooms/nowhere")[0] == 404
        status, text = post(base + "/rooms", json.dumps({"id": "hall", "participants": 80, "layout": "gallery"}).encode())
        assert status == 503 and "needs about" in text  # does not fit this machine: said, not queued
        status, text = post(base + "/rooms", json.dumps({"id": "hall", "participants": 2, "colour": "red"}).encode())
        assert status == 400 and "colour" in text
        status, text = post(base + "/rooms/ward-7/control", json.dumps({"action": "lock", "args": ["intruder"]}).encode())
        assert status == 403 and "token" in text  # a request acts as someone only with their token
        status, text = post(base + "/rooms/ward-7/control",
                            json.dumps({"action": "lock", "args": ["intruder"], "token": "guessed"}).encode())
        assert status == 403 and "does not hold 'intruder''s token" in text
        status, text = post(base + "/rooms/ward-7/offer", b"{}")
        assert status == 400
    finally:
        out = ctrl_c(proc)
    assert f"{base}/rooms/ward-7/" in out
    assert ended(actor)  # the room's actor ended with the server
    records = [json.loads(line) for line in audit.read_text().splitlines()]  # the cluster's audit log, on this node
    assert any(r["room"] == "ward-7" and r["action"] == "authenticate" and r["outcome"] == "denied" for r in records), records
    # Stopping the server is not ending the rooms: started again on the same state folder,
    # it brings ward-7 back (restored from its snapshot), without being asked to create it.
    # This time the service's routes need its admin token; participants' routes do not.
    secret = "s3cret-admin-token-0123456789"
    proc, rooms = serve_cluster(port, "--audit", str(audit), "--state-dir", str(state), admin_token=secret)
    try:
        assert list(rooms) == ["ward-7"] and rooms["ward-7"]["restored"]
        status, text = get(base + "/rooms/ward-7/audit", {"Authorization": f"Bearer {secret}"})
        assert status == 200 and [r["action"] for r in json.loads(text)] == ["restored"]
        for url in ("/rooms", "/rooms/ward-7", "/rooms/ward-7/audit"):
            assert get(base + url)[0] == 401 and get(base + url, {"Authorization": "Bearer guessed"})[0] == 401
        assert post(base + "/rooms", json.dumps({"id": "hall", "participants": 2}).encode())[0] == 401
        assert get(base + "/rooms/ward-7/")[0] == 200  # the join page is for participants
    finally:
        out = ctrl_c(proc)
    assert "room ward-7 recovered" in out
