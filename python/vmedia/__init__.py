"""vmedia: the media engine of a video-conferencing MCU.

Decode participants' H.264/Opus/G.711, compose their video into a layout, mix their audio
so nobody hears themselves, detect the active speaker, and re-encode for the room.
"""

from vmedia.errors import InvalidInputError, PermissionDenied, StreamError, VmediaError  # noqa: I001  (before _core)
from vmedia import _core  # noqa: F401  (the compiled core, for advanced use)
from vmedia.media.frames import I420Frame
from vmedia.video.compositor import Compositor, Overlay, Tile
from vmedia import layouts
from vmedia.audio import AudioMixer, MixFrame
from vmedia.codecs.video import FULL_HD, HD, LOW, OutputProfile
from vmedia.engine import Event, EventKind, Member, Mixer, TickOutput
from vmedia.rooms import Room
from vmedia.sinks import ContainerSink

__all__ = [
    "FULL_HD", "HD", "LOW", "AudioMixer", "Compositor", "ContainerSink", "Event", "EventKind", "I420Frame", "InvalidInputError", "Member",
    "MixFrame", "Mixer", "OutputProfile", "Overlay", "PermissionDenied", "Room", "StreamError", "Tile", "TickOutput",
    "VmediaError", "layouts",
]
__version__ = "0.1.0"
