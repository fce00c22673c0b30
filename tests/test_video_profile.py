"""The H.264 profile of an output, read back from the SPS the encoder writes."""

import numpy as np
import pytest

from vmedia.codecs.video import HD, OutputProfile, VideoEncoder
from vmedia.errors import InvalidInputError
from vmedia.media.frames import I420Frame


def sps_of(packets) -> bytes:
    """The first SPS NAL unit's payload (after the NAL header) in Annex B access units."""
    data = b"".join(bytes(p) for p in packets)
    i = data.find(b"\x00\x00\x01\x67")
    assert i >= 0, "no SPS in band"
    return data[i + 4 : i + 8]


def first_packets(profile: OutputProfile):
    enc = VideoEncoder(profile)
    frame = I420Frame.blank(profile.width, profile.height, (80, 90, 200)).to_av()
    packets = []
    for k in range(3):
        packets += enc.encode(frame, k)
    return packets + enc.flush()


@pytest.mark.parametrize(
    ("name", "profile_idc", "set1"),
    [("constrained_baseline", 66, True), ("main", 77, None), ("high", 100, None)],
)
def test_sps_carries_the_requested_profile(name, profile_idc, set1):
    sps = sps_of(first_packets(OutputProfile("p", 320, 240, h264_profile=name)))
    assert sps[0] == profile_idc
    if set1:  # Constrained Baseline = Baseline with constraint_set1: what 42e01f / 42c0xx peers ask for
        assert sps[1] & 0x40


def test_the_conferencing_default_is_constrained_baseline_at_a_level_webrtc_peers_take():
    assert HD.h264_profile == "constrained_baseline"
    sps = sps_of(first_packets(HD))
    assert sps[0] == 66 and sps[1] & 0x40  # profile_idc 66, constraint_set1_flag
    assert sps[2] <= 31  # level 3.1 (42e01f) covers 1280x720 at 30 fps


def test_an_unknown_profile_is_refused():
    with pytest.raises(InvalidInputError, match="h264_profile"):
        OutputProfile("p", 320, 240, h264_profile="extended")
