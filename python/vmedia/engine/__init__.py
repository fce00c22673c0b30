"""The Mixer: tick orchestration of one room's inputs, views and encoders."""

from vmedia.engine.mixer import Event, Mixer, TickOutput

__all__ = ["Event", "Mixer", "TickOutput"]
