"""Composition: tiles onto a canvas through the C++ core."""

from vmedia.video.compositor import Compositor, Overlay, Tile

__all__ = ["Compositor", "Overlay", "Tile"]
