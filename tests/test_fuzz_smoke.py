"""Bounded fuzz smoke: every fuzz target over its seed corpus plus deterministic mutations
of it, checking the targets' invariants: the core's (tests/fuzz/core_targets.py, a few
thousand runs each) and the room push path's (tests/fuzz/room_targets.py, a whole small
meeting per input, so fewer).

The mutations are blind (no coverage feedback), so this is a regression net, not a
fuzzing campaign: docs/reliability.md says how to run atheris for real. When atheris is
installed, a short libFuzzer run per target also checks that the atheris entry point works.
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

import core_targets  # noqa: E402
import room_targets  # noqa: E402

CORPUS = pathlib.Path(__file__).parent / "fuzz" / "corpus"
RUNS = {"compose": 1500, "scale_plane": 2500, "audio": 1500, "room_push": 40}
TARGETS = {**core_targets.TARGETS, **room_targets.TARGETS}
SCRIPTS = {name: "fuzz_core.py" for name in core_targets.TARGETS} | {name: "fuzz_room.py" for name in room_targets.TARGETS}
ATHERIS_RUNS = {"room_push": 30}  # 400 for the others
INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF)


def seeds(target: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((CORPUS / target).iterdir())]


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        if op == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[rng.randrange(len(b))] = rng.choice(INTERESTING)
        elif op == 2:
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 3 and len(b) > 4:
            i = rng.randrange(len(b))
            del b[i : i + rng.randint(1, 16)]
        elif op == 4:
            other = rng.choice(pool)
            i = rng.randrange(len(b) + 1)
            b = b[:i] + other[rng.randrange(len(other) + 1) :]
        else:
            b += rng.randbytes(rng.randint(1, 64))
    return bytes(b)


@pytest.mark.parametrize("target", sorted(RUNS))
def test_fuzz_target_invariants_hold_over_seeds_and_mutations(target):
    logging.disable(logging.WARNING)  # the room target's attacker makes stream errors by design
    try:
        _run_target(target)
    finally:
        logging.disable(logging.NOTSET)


def _run_target(target: str) -> None:
    fn = TARGETS[target]
    pool = seeds(target)
    rng = random.Random(f"vmedia-{target}")
    for data in pool:
        fn(data)
    for i in range(RUNS[target]):
        # Mostly mutated seeds; one in four fresh random bytes.
        data = mutate(rng, rng.choice(pool), pool) if rng.random() < 0.75 else rng.randbytes(rng.randint(1, 600))
        try:
            fn(data)
        except AssertionError as e:  # say which input, so it can become a regression test
            raise AssertionError(f"{target} mutation {i} broke an invariant: {e}\ninput={data!r}") from e


@pytest.mark.skipif(os.environ.get("VMEDIA_SKIP_ATHERIS") == "1", reason="VMEDIA_SKIP_ATHERIS=1")
@pytest.mark.parametrize("target", sorted(RUNS))
def test_atheris_entry_point_runs_each_target(target, tmp_path):
    pytest.importorskip("atheris")
    script = pathlib.Path(__file__).parent / "fuzz" / SCRIPTS[target]
    runs = ATHERIS_RUNS.get(target, 400)
    r = subprocess.run(
        [sys.executable, str(script), target, f"-runs={runs}", "-seed=1", "-max_len=2048", str(tmp_path), str(CORPUS / target)],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"Done {runs} runs" in r.stderr
