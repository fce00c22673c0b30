"""Playout on the room's clock: sender timestamps -> media time, named after the timing
edge cases a network produces (jitter, reordering, late frames, jumps)."""

import pytest

from vmedia.errors import InvalidInputError
from vmedia.webrtc.playout import LATE_MARGIN, SHRINK_STEP, PlayoutBuffer, SyncGroup


def test_jitter_within_the_delay_keeps_the_senders_spacing():
    buf = PlayoutBuffer(0.040)
    jitter = [0.0, 0.012, 0.003, 0.030, 0.001, 0.025]
    times = [buf.put(k, 100.0 + k * 0.02, 5.0 + k * 0.02 + j) for k, j in enumerate(jitter)]
    assert times == pytest.approx([5.04 + k * 0.02 for k in range(6)])  # fastest frame + 40 ms
    assert [item for _, item in buf.due(5.2)] == list(range(6))
    assert buf.stats.late == 0 and buf.stats.played == 6


def test_frames_out_of_order_within_the_delay_are_released_in_order():
    buf = PlayoutBuffer(0.060)
    for k in (0, 2, 1, 4, 3):  # arrival order
        buf.put(k, k * 0.02, 1.0 + 0.02 * max(k, 1))
    assert [item for _, item in buf.due(1.3)] == [0, 1, 2, 3, 4]
    assert buf.stats.reordered == 2


def test_a_late_frame_is_counted_dropped_and_the_senders_tracks_wait_longer_together():
    group = SyncGroup()
    audio, video = PlayoutBuffer(0.040, group=group), PlayoutBuffer(0.040, group=group)
    assert audio.put("a0", 0.0, 1.0) == pytest.approx(1.04)
    assert video.put("v0", 0.0, 1.0) == pytest.approx(1.04)
    audio.due(1.10)
    video.due(1.10)
    # Frame 1 (due at 1.06) comes at 1.11: its moment has passed.
    assert audio.put("a1", 0.02, 1.11) is None
    assert audio.stats.late == 1
    assert group.extra == pytest.approx(1.10 - 1.06 + LATE_MARGIN)
    # Both tracks now play later by the same amount: lip sync is kept.
    assert audio.put("a2", 0.04, 1.12) == pytest.approx(1.08 + group.extra)
    assert video.put("v1", 0.04, 1.12) == pytest.approx(1.08 + group.extra)


def test_the_extra_delay_is_given_back_slowly_when_the_network_calms_down():
    group = SyncGroup(window=1.0)
    group.extra = 0.1
    for k in range(60):  # 3 s of frames that need no extra at all
        group.observe(-0.03, 10.0 + k * 0.05)
    assert group.extra == pytest.approx(0.1 - 2 * SHRINK_STEP)


def test_a_stall_drops_its_burst_but_a_jump_of_the_senders_clock_starts_the_track_over():
    buf = PlayoutBuffer(0.040)
    buf.put(0, 50.0, 1.0)
    buf.due(1.6)
    # A 0.5 s stall: the frames held up arrive in one burst, too late even for max_extra.
    assert [buf.put(k, 50.0 + 0.02 * k, 1.6) for k in range(1, 6)] == [None] * 5
    assert buf.stats.late == 5 and buf.stats.resyncs == 0
    # The sender's timestamps went back 10 s (a restarted encoder): late for good, so
    # after a second of that the track starts over rather than dropping everything.
    played = [buf.put(k, 40.0 + 0.02 * k, 1.62 + 0.02 * k) for k in range(60)]
    assert buf.stats.resyncs == 1
    first = next(k for k, t in enumerate(played) if t is not None)
    assert 50 <= first <= 52 and played[first] == pytest.approx(1.62 + 0.02 * first + 0.040)
    # Forward 10 s: the new frames are simply the fastest so far.
    assert buf.put(99, 60.0, 3.0) == pytest.approx(3.04)
    assert buf.stats.resyncs == 1


def test_a_delay_outside_0_to_2_s_is_refused():
    with pytest.raises(InvalidInputError, match="playout delay"):
        PlayoutBuffer(-0.01)
