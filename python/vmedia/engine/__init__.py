"""The Mixer: tick orchestration of one room's inputs, views and encoders."""

from vmedia.engine.events import Event, EventKind
from vmedia.engine.member import Member
from vmedia.engine.mixer import Mixer
from vmedia.engine.output import TickOutput

__all__ = ["Event", "EventKind", "Member", "Mixer", "TickOutput"]
