"""Writes docs/api.md from the public classes' signatures and docstrings."""

import inspect
from pathlib import Path

from vmedia import AudioMixer, Compositor, ContainerSink, I420Frame, Mixer, OutputProfile, Room, layouts
from vmedia.codecs.audio import AudioDecoder, AudioEncoder
from vmedia.video.compositor import Overlay, Tile
from vmedia.hosting.live import run_live
from vmedia.codecs.video import VideoDecoder, VideoEncoder

CLASSES = [Room, Mixer, AudioMixer, Compositor, Tile, Overlay, I420Frame, OutputProfile, ContainerSink,
           AudioDecoder, AudioEncoder, VideoDecoder, VideoEncoder]


def first_line(obj) -> str:
    doc = inspect.getdoc(obj)
    return f": {doc.splitlines()[0]}" if doc else ""


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
        for name, member in inspect.getmembers(cls):
            if name.startswith("_"):
                continue
            if inspect.isfunction(member):
                out.append(f"- `{name}{signature(member)}`{first_line(member)}")
            elif isinstance(member, property):
                out.append(f"- `{name}` (property){first_line(member)}")
        out.append("")
    out += ["## `vmedia.layouts`", "", inspect.getdoc(layouts) or "", ""]
    for name in ["gallery", "gallery_pages", "speaker", "presentation", "custom", "grid_shape"]:
        fn = getattr(layouts, name)
        out.append(f"- `{name}{signature(fn)}`{first_line(fn)}")
    out += ["", f"## `vmedia.hosting.live.run_live{signature(run_live)}`", "", inspect.getdoc(run_live) or "", ""]
    Path(__file__).with_name("api.md").write_text("\n".join(out))


if __name__ == "__main__":
    main()
