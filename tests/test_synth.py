"""The demo's synthesizer: every scripted meeting length gives whole, exact-length tracks
(`vmedia demo -n 2 -t 15` once crashed on a spurt one sample short)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vmedia.cli.demo import run_demo, script_meeting
from vmedia.media import synth
from vmedia.media.time import SAMPLE_RATE


@settings(max_examples=60, deadline=None)
@given(total=st.floats(1.0, 600.0), length=st.floats(0.3, 5.0), seed=st.integers(0, 1000))
def test_a_spurt_clipped_at_the_end_of_the_meeting_fills_it_exactly(total, length, seed):
    start = max(0.0, total - length)
    x = synth.talk([(start, total)], total, seed=seed)
    assert len(x) == synth.samples_in(total) == round(total * SAMPLE_RATE)
    tail = x[synth.samples_in(start) :]
    assert np.count_nonzero(tail) > 0  # the spurt was spoken, not dropped


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 49), seconds=st.integers(1, 600))
def test_every_scripted_turn_stays_inside_the_meeting(n, seconds):
    for k in (0, n - 1):  # first and last person; the whole script for 49 x 600 s would be slow
        person = synth.talk([(a, b) for a, b in _turns(n, seconds)[k] if b > seconds - 6], seconds, seed=k)
        assert len(person) == seconds * SAMPLE_RATE


def _turns(n, seconds):
    spurts = [[] for _ in range(n)]
    for i, (a, b) in script_meeting_spurts(n, seconds):
        spurts[i].append((a, b))
    return spurts


def script_meeting_spurts(n, seconds):
    from vmedia.cli.demo import script_turns

    return script_turns(n, seconds)


def test_the_meeting_that_crashed_now_has_whole_tracks():
    people = script_meeting(2, 15)
    assert [len(p.audio) for p in people] == [15 * SAMPLE_RATE] * 2


def test_the_largest_demo_room_runs(tmp_path):
    summary = run_demo(str(tmp_path / "big.mp4"), 49, 0.1, show_progress=False,
                       profile=__import__("vmedia").OutputProfile("t", 320, 180, fps=30))
    assert summary["frames"] == 3 and not summary["interrupted"]
