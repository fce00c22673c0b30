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


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_vmedia_serve_cluster_local_places_rooms_and_ends_them_on_ctrl_c(tmp_path):
    pytest.importorskip("ray")
    port = free_port()
    audit = tmp_path / "audit.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "vmedia", "serve", "--cluster", "local", "--port", str(port),
                             "--room", "ward-7", "--room-type", "sensitive", "--participants", "3", "--audit", str(audit)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        rooms = None
        for _ in range(300):  # Ray starts, then the room's actor
            try:
                status, text = get(base + "/rooms")
                rooms = json.loads(text)
                break
            except OSError:
                time.sleep(0.1)
        assert rooms is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
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
        assert status == 403 and "not a host" in text
        status, text = post(base + "/rooms/ward-7/offer", b"{}")
        assert status == 400
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"{base}/rooms/ward-7/" in out
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{actor}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{actor}")  # the room's actor ended with the server
    records = [json.loads(line) for line in audit.read_text().splitlines()]  # the cluster's audit log, on this node
    assert any(r["room"] == "ward-7" and r["action"] == "lock" and r["outcome"] == "denied" for r in records), records
