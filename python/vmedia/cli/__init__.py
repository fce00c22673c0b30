"""The `vmedia` command: `vmedia demo` and `vmedia compose`."""

from __future__ import annotations

import argparse
import sys

from vmedia.errors import VmediaError


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"size must be positive and even, got {text!r}")
    return w, h


def _profile(size: tuple[int, int], fps: int, bitrate: int):
    from vmedia.codecs.video import OutputProfile

    return OutputProfile(f"{size[1]}p", size[0], size[1], fps=fps, bitrate=bitrate)


def cmd_demo(args: argparse.Namespace) -> int:
    from vmedia.cli.demo import run_demo

    summary = run_demo(args.out, args.participants, args.seconds, args.layout, show_progress=not args.quiet,
                       profile=_profile(args.size, args.fps, args.bitrate))
    print(f"wrote {summary['path']}: {summary['frames']} frames, {summary['seconds']:.1f} s, "
          f"{summary['participants']} participants, in {summary['wall_seconds']:.1f} s")
    return 0


def cmd_compose(args: argparse.Namespace) -> int:
    from vmedia.cli.compose_files import compose_files

    summary = compose_files(args.inputs, args.out, layout=args.layout, profile=_profile(args.size, args.fps, args.bitrate),
                            show_progress=not args.quiet, variant=args.variant)
    print(f"wrote {summary['path']}: {summary['frames']} frames from {len(args.inputs)} inputs in {summary['wall_seconds']:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vmedia", description="vmedia: the media engine of a video-conferencing MCU")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--out", "-o", default="vmedia-demo.mp4" if p.prog.endswith("demo") else "composed.mp4", help="output MP4")
        p.add_argument("--layout", default="gallery", choices=["gallery", "speaker"], help="room layout")
        p.add_argument("--size", type=_size, default=(1280, 720), help="output size, e.g. 1280x720 or 1920x1080")
        p.add_argument("--fps", type=int, default=30)
        p.add_argument("--bitrate", type=int, default=2_500_000, help="H.264 bits per second (CBR)")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    demo = sub.add_parser("demo", help="compose a generated meeting into a playable MP4")
    common(demo)
    demo.add_argument("--participants", "-n", type=int, default=9)
    demo.add_argument("--seconds", "-t", type=float, default=10.0)
    demo.set_defaults(func=cmd_demo)

    comp = sub.add_parser("compose", help="compose per-participant media files into one MP4")
    comp.add_argument("inputs", nargs="+", help="one media file per participant (video and/or audio)")
    common(comp)
    comp.add_argument("--variant", default="1+7", help="speaker layout variant: 1+7, 1+21, 2+21, 1+33")
    comp.set_defaults(func=cmd_compose)

    args = parser.parse_args(argv)
    if getattr(args, "participants", 1) < 1 or getattr(args, "seconds", 1) <= 0:
        parser.error("--participants must be >= 1 and --seconds > 0")
    try:
        return args.func(args)
    except VmediaError as e:
        print(f"vmedia: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
