"""Regenerates the checked-in seed corpus (deterministic): python tests/fuzz/make_seeds.py"""

import pathlib

import numpy as np

HERE = pathlib.Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(2026)
    for target in ("compose", "scale_plane", "audio"):
        out = HERE / "corpus" / target
        out.mkdir(parents=True, exist_ok=True)
        seeds = [bytes(64), b"\xff" * 64]
        seeds += [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(24, 700, 22)]
        for i, s in enumerate(seeds):
            (out / f"seed-{i:02d}").write_bytes(s)


if __name__ == "__main__":
    main()
