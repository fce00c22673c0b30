"""The lobby's holding picture: the room's name and a line saying the host will let the
caller in. Drawn once per profile (kept by the room's LabelCache) and shared by everyone
waiting; nothing of the room (pictures, names, sound) is in it."""

from __future__ import annotations

from vmedia.media.frames import I420Frame
from vmedia.video.compositor import Compositor, Overlay

WAITING_TEXT = "Please wait: the host will let you in soon"
HOLDING_BACKGROUND = "#1B2A3A"  # a calm dark blue


def holding_picture(width: int, height: int, room_name: str) -> I420Frame:
    compositor = Compositor(width, height, HOLDING_BACKGROUND)
    size = max(12, height // 24)
    ops = compositor.plan([], []).ops([])
    lines = [Overlay.text(room_name, size=2 * size, box_alpha=0), Overlay.text(WAITING_TEXT, size=size, box_alpha=0)]
    y = height // 2 - sum(o.height for o in lines) // 2
    for overlay in lines:
        if overlay.width <= width and overlay.height <= height:
            x = (width - overlay.width) // 2 & ~1
            ops.append(("blend", (overlay.y, overlay.u, overlay.v, overlay.alpha), x, y & ~1))
        y += overlay.height + size // 2
    return compositor.draw(ops)

