"""vmedia: the media engine of a video-conferencing MCU.

Decode participants' H.264/Opus/G.711, compose their video into a layout, mix their audio
so nobody hears themselves, detect the active speaker, and re-encode for the room.
"""

from vmedia.errors import InvalidInputError, StreamError, VmediaError  # noqa: I001  (before _core)
from vmedia import _core
from vmedia.frames import I420Frame
from vmedia.compositor import Compositor, Tile
from vmedia import layouts

__all__ = [
    "Compositor",
    "I420Frame",
    "InvalidInputError",
    "StreamError",
    "Tile",
    "VmediaError",
    "layouts",
    "_core",
]
__version__ = "0.1.0"
