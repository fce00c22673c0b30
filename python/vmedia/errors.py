"""vmedia's exceptions. Each subclasses the matching builtin, so callers may catch either."""


class VmediaError(Exception):
    """Base class of every error vmedia raises on purpose."""


class InvalidInputError(VmediaError, ValueError):
    """An argument had the wrong size, type, range or shape; the message says what was expected."""


class PermissionDenied(VmediaError, PermissionError):
    """A participant tried something its role or the room's state does not allow."""


class StreamError(VmediaError, RuntimeError):
    """A participant's media could not be decoded; only that participant is affected."""


class SinkError(VmediaError, OSError):
    """A recording or stream could not be opened or written (bad format, unwritable path,
    a server that refuses the connection); the room itself is unaffected."""


class CapacityError(VmediaError, RuntimeError):
    """A host or cluster cannot take a room: its estimated cost exceeds what is left."""


class RoomNotFound(VmediaError, LookupError):
    """A request named a room that is not hosted here (never created, or removed)."""


class RoomUnavailable(VmediaError, ConnectionError):
    """The room exists but cannot answer now: its process died and the cluster is
    restarting it (from its last snapshot). Retry in a moment; clients re-offer."""
