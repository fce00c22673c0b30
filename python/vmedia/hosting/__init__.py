"""Driving rooms on the wall clock, and hosting many of them in one process."""

from vmedia.hosting.clock import MediaClock
from vmedia.hosting.host import HostEvent, HostEventKind, RoomHost, RoomStats
from vmedia.hosting.live import LiveDriver, LiveStats, run_live

__all__ = ["HostEvent", "HostEventKind", "LiveDriver", "LiveStats", "MediaClock", "RoomHost", "RoomStats", "run_live"]
