"""Bounded fuzz smoke for the room's push path (tests/fuzz/room_targets.py): the target over
its seed corpus plus deterministic blind mutations, checking its invariants (only vmedia
errors, bounded queues, the healthy participant's tile and audio untouched).

A regression net, not a fuzzing campaign: docs/reliability.md says how to run atheris for
real. When atheris is installed, a short libFuzzer run checks the entry point too.
"""

from __future__ import annotations

import logging
import os
import pathlib
import random
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "fuzz"))

import room_targets  # noqa: E402

CORPUS = pathlib.Path(__file__).parent / "fuzz" / "corpus" / "room_push"
MUTATIONS = 50  # about 75 ms each on one core


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        if op == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[rng.randrange(len(b))] = rng.choice((0, 1, 2, 3, 0x7F, 0x80, 0xFF))
        elif op == 2:
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 3:
            other = rng.choice(pool)
            i = rng.randrange(len(b) + 1)
            b = b[:i] + other[rng.randrange(len(other) + 1) :]
        else:
            b += rng.randbytes(rng.randint(1, 64))
    return bytes(b)


def test_room_push_invariants_hold_over_seeds_and_mutations():
    logging.disable(logging.WARNING)  # the attacker's stream errors
    try:
        pool = [p.read_bytes() for p in sorted(CORPUS.iterdir())]
        rng = random.Random("vmedia-room_push")
        inputs = pool + [mutate(rng, rng.choice(pool), pool) if rng.random() < 0.75 else rng.randbytes(rng.randint(1, 600))
                         for _ in range(MUTATIONS)]
        for i, data in enumerate(inputs):
            try:
                room_targets.room_push(data)
            except AssertionError as e:  # say which input, so it can become a regression test
                raise AssertionError(f"room_push input {i} broke an invariant: {e}\ninput={data!r}") from e
    finally:
        logging.disable(logging.NOTSET)


@pytest.mark.skipif(os.environ.get("VMEDIA_SKIP_ATHERIS") == "1", reason="VMEDIA_SKIP_ATHERIS=1")
def test_atheris_entry_point_runs_the_room_target(tmp_path):
    pytest.importorskip("atheris")
    script = pathlib.Path(__file__).parent / "fuzz" / "fuzz_room.py"
    r = subprocess.run([sys.executable, str(script), "-runs=40", "-seed=1", "-max_len=2048", str(tmp_path), str(CORPUS)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done 40 runs" in r.stderr
