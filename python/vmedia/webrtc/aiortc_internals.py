"""The one place that reaches past aiortc's public API (checked against aiortc 1.9 - 1.16).

Keyframe requests have no public hook in either direction:

- A peer's PLI/FIR on a sender ends in `RTCRtpSender._send_keyframe()`, which only flags
  aiortc's own encoder. vmedia sends pre-encoded access units, so the request must reach
  the room instead: `on_keyframe_request` replaces that method on one sender instance.
- Asking a sender for a keyframe is `RTCRtpReceiver._send_rtcp_pli(ssrc)`; the SSRC comes
  from the public `getSynchronizationSources()`.

Its receivers also hold frames back before `recv()` hands them out, and by different
amounts per kind: the audio jitter buffer releases a packet only once `prefetch` (4) later
ones have come; the video one releases a frame when the next frame's first packet comes.
`receive_hold` says how many frame durations that is, so vmedia can stamp frames with
when they reached the machine, and one sender's audio and video stay in step.

If aiortc changes any of this, these functions are all that change (tests/test_webrtc.py
exercises them).
"""

from __future__ import annotations

from collections.abc import Callable

from aiortc import RTCRtpReceiver, RTCRtpSender


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call `callback()` (on the event loop) whenever the remote peer sends PLI or FIR
    for what `sender` sends."""
    if not callable(getattr(sender, "_send_keyframe", None)):
        raise RuntimeError("this aiortc has no RTCRtpSender._send_keyframe: PLI/FIR cannot be routed to vmedia")
    sender._send_keyframe = callback  # type: ignore[method-assign]


async def send_pli(receiver: RTCRtpReceiver) -> bool:
    """Send a Picture Loss Indication for every stream `receiver` gets. False when no
    media has arrived yet (no SSRC to name)."""
    sources = receiver.getSynchronizationSources()
    for source in sources:
        await receiver._send_rtcp_pli(source.source)
    return bool(sources)


AUDIO_PREFETCH = 4  # aiortc's RTCRtpReceiver: JitterBuffer(capacity=16, prefetch=4) for audio


def receive_hold(receiver: RTCRtpReceiver, kind: str) -> int:
    """Frame durations aiortc's `receiver` holds each frame before `recv()` returns it."""
    if kind == "video":
        return 1  # a frame is complete when the next one starts
    buffer = getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)
    return int(getattr(buffer, "_prefetch", AUDIO_PREFETCH))
