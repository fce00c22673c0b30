"""Regenerates the room target's seed corpus (deterministic): python tests/fuzz/make_room_seeds.py"""

import pathlib

import numpy as np

HERE = pathlib.Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(2609)
    out = HERE / "corpus" / "room_push"
    out.mkdir(parents=True, exist_ok=True)
    seeds = [bytes(16), b"\x03" + b"\xff" * 63]  # quiet; loud with every count and kind at its maximum
    # One seed per garbage kind k: gain 0, eight actions per frame, video and audio of kind k.
    for kind in range(12):
        video, audio = (bytes([1, medium, kind]) + rng.integers(0, 256, 6, dtype=np.uint8).tobytes() for medium in (0, 1))
        seeds.append(b"\x01" + (b"\x08" + (video + audio) * 4) * 6)
    seeds += [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(32, 600, 4)]
    for i, s in enumerate(seeds):
        (out / f"seed-{i:02d}").write_bytes(s)


if __name__ == "__main__":
    main()
