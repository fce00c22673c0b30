"""Real-client tests run in a network namespace of their own, on loopback addresses only.

aioice never offers 127.0.0.1 as a candidate and Chromium ignores loopback interfaces,
so on the host both would talk over the machine's outward address. In a fresh namespace
(`unshare -n`, as root) the only interfaces are `lo` and a veth holding 127.0.0.2/32:
every candidate, every packet, is on 127.0.0.0/8, in a network nobody else shares.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ICE_ADDRESS = "127.0.0.2"


def loopback_only_network() -> None:
    """Inside the namespace: lo up, and a veth with ICE_ADDRESS/32 to gather from."""
    for cmd in ("ip link set lo up", "ip link add vm0 type veth peer name vm1", f"ip addr add {ICE_ADDRESS}/32 dev vm0",
                "ip link set vm0 up", "ip link set vm1 up"):
        subprocess.run(cmd.split(), check=True)


def why_not_isolated() -> str | None:
    """None when scenarios can run in a namespace here; else the reason they cannot."""
    if os.geteuid() != 0:
        return "needs root for `unshare -n` (network namespace)"
    if not shutil.which("unshare") or not shutil.which("ip") or not shutil.which("nice"):
        return "needs util-linux `unshare`, coreutils `nice` and iproute2 `ip`"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace here: {probe.stderr.strip()}"
    return None


REALTIME_NICE = -10  # a media server's real-time work goes first on a shared machine, as in production


def run_isolated(script: str, arg: dict, timeout: float) -> dict:
    """Run tests/<script> in a new network namespace, at real-time media priority (its
    clients and browser too); return its RESULT json."""
    proc = subprocess.run(["nice", "-n", str(REALTIME_NICE), "unshare", "-n", sys.executable, str(HERE / script),
                           json.dumps(arg)], capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])
