"""Scenario: a headless Chromium joins a `vmedia serve` room through its page. Runs inside
a network namespace of its own (`unshare -n`, see netns.py: Chromium gathers no ICE
candidates on loopback interfaces, so the namespace has a veth holding a 127.0.0.0/8
address). The browser is driven over its DevTools protocol (a websocket, with aiohttp);
it joins with its fake camera and microphone and this script reads the browser's own
getStats() twice, a few seconds apart. Prints one line: RESULT {json}.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from netns import loopback_only_network  # noqa: E402

from vmedia import Room  # noqa: E402
from vmedia.webrtc.server import DRIVER_KEY, make_app, peers  # noqa: E402

STATS_JS = """
(async () => {
  const pc = window.vmedia && window.vmedia.pc;
  if (!pc) return {state: "no peer connection yet", status: document.getElementById("status").textContent};
  const out = {state: pc.connectionState, status: document.getElementById("status").textContent};
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp") out["in_" + s.kind] = s;
    if (s.type === "outbound-rtp") out["out_" + s.kind] = s;
    if (s.type === "codec") out["codec_" + s.mimeType] = s.sdpFmtpLine || "";
  });
  return out;
})()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def devtools_page(port: int, deadline: float) -> str:
    """The websocket URL of Chromium's first page, once its DevTools answer."""
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/json") as resp:
                    pages = [t for t in await resp.json() if t.get("type") == "page"]
                    if pages:
                        return pages[0]["webSocketDebuggerUrl"]
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("Chromium's DevTools did not answer")


async def main(seconds: float) -> dict:
    room = Room("test")  # the caller sees itself and hears the test tune: real audio to receive
    app = make_app(room)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", free_port())
    await site.start()
    url = site.name
    profile = tempfile.mkdtemp(prefix="vmedia-chromium-")
    devtools = free_port()
    browser = subprocess.Popen([
        shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox", "--no-first-run", "--mute-audio",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
        "--disable-features=WebRtcHideLocalIpsWithMdns", f"--user-data-dir={profile}",
        f"--remote-debugging-port={devtools}", f"{url}/?autojoin&pid=chromium&name=Chromium",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ids = itertools.count(1)
    result: dict = {"samples": []}
    try:
        ws_url = await devtools_page(devtools, time.monotonic() + 20)
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, max_msg_size=0) as ws:

            async def evaluate(expression: str):
                call = next(ids)
                await ws.send_json({"id": call, "method": "Runtime.evaluate",
                                    "params": {"expression": expression, "awaitPromise": True, "returnByValue": True}})
                async for msg in ws:
                    data = json.loads(msg.data)
                    if data.get("id") == call:
                        return data.get("result", {}).get("result", {}).get("value")
                raise ConnectionError("DevTools closed")

            start = time.monotonic()
            while time.monotonic() - start < 15:  # joined and connected
                state = await evaluate(STATS_JS)
                if state and state.get("state") == "connected" and "in_video" in state:
                    break
                await asyncio.sleep(0.25)
            result["joined_after"] = time.monotonic() - start
            result["server_peers"] = list(peers(app))
            for _ in range(2):
                await asyncio.sleep(seconds / 2)
                result["samples"].append(await evaluate(STATS_JS))
            result["participants"] = room.participants
            result["driver_ticks"] = app[DRIVER_KEY].stats.ticks
            await evaluate("document.getElementById('leave').click(), true")
            for _ in range(30):  # the browser hung up: the participant leaves
                if not room.participants:
                    break
                await asyncio.sleep(0.1)
            result["participants_after_leave"] = room.participants
    finally:
        browser.terminate()
        try:
            browser.wait(5)
        except subprocess.TimeoutExpired:
            browser.kill()
        result["browser_stderr"] = browser.stderr.read().decode(errors="replace")[-2000:] if browser.stderr else ""
        await runner.cleanup()
        shutil.rmtree(profile, ignore_errors=True)
    return result


if __name__ == "__main__":
    loopback_only_network()
    print("RESULT " + json.dumps(asyncio.run(main(json.loads(sys.argv[1])["seconds"])), default=str))
