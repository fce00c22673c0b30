"""Scores the speaker detector on scripted meetings with known ground truth.

Run: python benchmarks/speaker_eval.py   (uses espeak-ng voices too when it is installed)

Two kinds of 60 s meeting: `meeting` (overlapping turns, backchannels, a fan, music behind
a quiet talker) and `transient_meeting` (pauses between turns, a listener typing heavily
all meeting, coughing fits, door slams).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from conversations import have_espeak, meeting, run_detector, score, transient_meeting  # noqa: E402

HEADER = "| meeting | voices | seed | frame accuracy | false switches / min | mean switch latency (s) | max latency (s) |"


def row(kind, voice, seed, conv) -> str:
    s = score(conv, run_detector(conv))
    return (f"| {kind} | {voice} | {seed} | {s.accuracy:.3f} | {s.false_switches_per_min:.1f} | "
            f"{s.mean_latency:.2f} | {s.max_latency:.2f} |")


def main() -> None:
    print(HEADER)
    print("|---|---|---|---|---|---|---|")
    for voice in ["synth"] + (["espeak"] if have_espeak() else []):
        for seed in (0, 1, 2):
            print(row("turns and backchannels", voice, seed, meeting(voice, seed)))
    for seed in (0, 1, 2, 3):
        print(row("typing, coughs, slams", "synth", seed, transient_meeting(seed)))


if __name__ == "__main__":
    main()
