"""The soak and the concurrency stress (benchmarks/soak.py, benchmarks/stress.py), a few
seconds each, so they keep working: the same invariants as the long runs, no timing."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

import soak  # noqa: E402
import stress  # noqa: E402


def test_a_short_soak_keeps_every_frame_the_av_offset_and_every_collection_bounded():
    # 10 s of media with the schedule at 3/100: someone leaves every 1.8 s, stalls, host
    # controls every 3.6 s, the attacker out and back in at 9 s.
    r = soak.soak(10 / 60, scale=0.03, loop=4.0, log=lambda *_: None)
    soak.check(r)
    last_tick = (r["ticks"] - 1) / soak.FPS
    assert r["produced_video"] == r["ticks"] == 150 and r["produced_audio"] == int(last_tick / 0.02 + 1e-9)
    assert len([s for s in r["gaps"] if s != "host"]) > 10  # people left and came back (new stays)
    assert r["attacker_refused"] > 50


def test_a_short_stress_raises_nothing_but_vmedia_errors():
    r = stress.stress(3.0)
    stress.check(r)
