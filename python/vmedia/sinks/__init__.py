"""Where a room's composite goes besides the participants: recordings and live streams."""

from vmedia.sinks.container import ContainerSink

__all__ = ["ContainerSink"]
