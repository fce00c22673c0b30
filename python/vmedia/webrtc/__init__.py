"""WebRTC for vmedia rooms, through aiortc: the only package that knows RTP.

    from aiortc import RTCPeerConnection, RTCSessionDescription
    from vmedia import Room
    from vmedia.hosting import LiveDriver
    from vmedia.webrtc import RoomPeer

    room = Room("administrative", layout="speaker")
    driver = LiveDriver(room).start()                 # ticks on its own thread
    peer = RoomPeer(driver, RTCPeerConnection(), "pat", "Patient")
    answer = await peer.answer(RTCSessionDescription(sdp=offer_sdp, type="offer"))

Needs the optional extra: pip install 'vmedia[webrtc]'.
"""

try:
    import aiortc  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError("vmedia.webrtc needs aiortc: pip install 'vmedia[webrtc]'") from e

from vmedia.webrtc.peer import RoomPeer, audio_preferences, h264_preferences
from vmedia.webrtc.playout import PlayoutBuffer, PlayoutStats, SyncGroup

__all__ = ["PlayoutBuffer", "PlayoutStats", "RoomPeer", "SyncGroup", "audio_preferences", "h264_preferences"]
