"""`vmedia serve`: the command serves its page and answers /offer, on 127.0.0.1."""

from __future__ import annotations

import json
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
