"""Scores the speaker detector on scripted meetings with known ground truth.

Run: python benchmarks/speaker_eval.py   (uses espeak-ng voices too when it is installed)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from conversations import have_espeak, meeting, run_detector, score  # noqa: E402


def main() -> None:
    voices = ["synth"] + (["espeak"] if have_espeak() else [])
    print("| voices | seed | frame accuracy | false switches / min | mean switch latency (s) | max latency (s) |")
    print("|---|---|---|---|---|---|")
    for voice in voices:
        for seed in (0, 1, 2):
            conv = meeting(voice, seed)
            s = score(conv, run_detector(conv))
            print(f"| {voice} | {seed} | {s.accuracy:.3f} | {s.false_switches_per_min:.1f} | {s.mean_latency:.2f} | {s.max_latency:.2f} |")


if __name__ == "__main__":
    main()
