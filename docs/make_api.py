"""Writes docs/api.md from the public classes' signatures and docstrings."""

import dataclasses
import inspect
import re
from enum import Enum
from pathlib import Path

from vmedia import AudioMixer, Compositor, ContainerSink, I420Frame, Mixer, OutputProfile, Room, layouts
from vmedia.codecs.audio import AudioDecoder, AudioEncoder
from vmedia.video.compositor import Overlay, Tile
from vmedia.video.label_cache import LabelCache, LabelCacheStats
from vmedia.hosting import LiveDriver, MediaClock
from vmedia.hosting.live import run_live
from vmedia.webrtc import PlayoutBuffer, RoomPeer, SyncGroup
from vmedia.hosting.host import HostEvent, HostEventKind, RoomHost, RoomStats
from vmedia.codecs.video import VideoDecoder, VideoEncoder
from vmedia.engine import Event, EventKind, Member, TickOutput
from vmedia.rooms.audit import Action, AuditLog, AuditRecord, Outcome
from vmedia.rooms.history import EventHistory
from vmedia.rooms.pins import PinGate, PinLimits, PinRefused
from vmedia.rooms.policy import RoomPolicy

CLASSES = [Room, RoomPolicy, PinLimits, PinGate, PinRefused, AuditLog, AuditRecord, EventHistory, Event, Member,
           TickOutput, Mixer, AudioMixer, Compositor, Tile, Overlay, LabelCache, LabelCacheStats, I420Frame, OutputProfile,
           ContainerSink, AudioDecoder, AudioEncoder, VideoDecoder, VideoEncoder, LiveDriver, MediaClock, RoomPeer, PlayoutBuffer,
           SyncGroup, RoomHost, RoomStats, HostEvent]
ENUMS = [EventKind, Action, Outcome, HostEventKind]  # every value, with the comment beside it in the source


def first_line(obj) -> str:
    """The first paragraph of the docstring, on one line."""
    doc = inspect.getdoc(obj)
    return f": {' '.join(doc.split(chr(10) + chr(10))[0].split())}" if doc else ""


def fields(cls) -> list[str]:
    """A dataclass's fields with their types, defaults and source comments."""
    if not dataclasses.is_dataclass(cls):
        return []
    comments = dict(re.findall(r"^\s+(\w+):[^#\n]*#\s*(.+)$", inspect.getsource(cls), re.M))
    out = []
    for f in dataclasses.fields(cls):
        default = "" if f.default is dataclasses.MISSING else f" = {f.default!r}"
        note = f": {comments[f.name]}" if f.name in comments else ""
        out.append(f"- field `{f.name}: {f.type}{default}`{note}")
    return out


def enum_values(enum: type[Enum]) -> list[str]:
    comments = dict(re.findall(r'^\s+(\w+) = "[^"]*"\s*#\s*(.+)$', inspect.getsource(enum), re.M))
    return [f"- `{m.value}`" + (f": {comments[m.name]}" if m.name in comments else "") for m in enum]


def signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def main() -> None:
    out = ["# API reference", "", "Generated from the docstrings by `python docs/make_api.py`. Bad arguments raise",
           "`vmedia.InvalidInputError` (a `ValueError`); room rules raise `vmedia.PermissionDenied`.", ""]
    for cls in CLASSES:
        out += [f"## `{cls.__module__}.{cls.__name__}{signature(cls)}`", "", inspect.getdoc(cls) or "", ""]
        out += fields(cls)
        for name, member in inspect.getmembers(cls):
            if name.startswith("_"):
                continue
            if inspect.isfunction(member) or inspect.ismethod(member):  # methods and classmethods
                out.append(f"- `{name}{signature(member)}`{first_line(member)}")
            elif isinstance(member, property):
                out.append(f"- `{name}` (property){first_line(member)}")
        out.append("")
    for enum in ENUMS:
        out += [f"## `{enum.__module__}.{enum.__name__}`", "", inspect.getdoc(enum) or "", ""] + enum_values(enum) + [""]
    out += ["## `vmedia.layouts`", "", inspect.getdoc(layouts) or "", ""]
    for name in ["gallery", "gallery_pages", "speaker", "presentation", "custom", "grid_shape"]:
        fn = getattr(layouts, name)
        out.append(f"- `{name}{signature(fn)}`{first_line(fn)}")
    out += ["", f"## `vmedia.hosting.live.run_live{signature(run_live)}`", "", inspect.getdoc(run_live) or "", ""]
    Path(__file__).with_name("api.md").write_text("\n".join(out))


if __name__ == "__main__":
    main()
