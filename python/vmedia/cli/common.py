"""What the subcommands share: exit codes, output options, the progress bar, and the
checks that keep a command from destroying its own input."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from vmedia.errors import VmediaError

EXIT_OK = 0
EXIT_OUTPUT = 1  # the output could not be written
EXIT_USAGE = 2  # bad option value, missing/unreadable input, output over an input
EXIT_BUG = 3  # an internal error
EXIT_INTERRUPTED = 130  # Ctrl-C; the output was finished and is playable

MAX_SIDE = 4096  # libx264 level 5.2 tops out near 4096x2304; larger canvases are a typo


class CliError(VmediaError):
    """A command-line problem, reported as one line with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every default."""


def size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"size must be positive and even, got {text!r}")
    if w > MAX_SIDE or h > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"size must be at most {MAX_SIDE}x{MAX_SIDE}, got {text!r}")
    return w, h


def int_range(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be {lo}..{hi}, got {v}")
        return v

    return parse


def seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < v <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 86400 seconds, got {text!r}")
    return v


def add_output_options(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--out", "-o", default=default_out, help="output file: .mp4 (fragmented, survives a crash) or .mkv")
    p.add_argument("--faststart", action="store_true", help="write a classic MP4 with the index first (complete only at a clean end)")
    p.add_argument("--layout", default="gallery", choices=["gallery", "speaker"], help="room layout")
    p.add_argument("--size", type=size, default="1280x720", metavar="WxH", help="output size, e.g. 1280x720 or 1920x1080")
    p.add_argument("--fps", type=int_range(1, 60), default=30, help="output frames per second")
    p.add_argument("--bitrate", type=int_range(10_000, 50_000_000), default=2_500_000, help="H.264 bits per second (CBR)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def profile(args: argparse.Namespace):
    from vmedia.codecs.video import OutputProfile

    w, h = args.size
    return OutputProfile(f"{h}p", w, h, fps=args.fps, bitrate=args.bitrate)


def check_output(out: str, inputs: Sequence[str] = ()) -> None:
    """Refuse an output that is one of the inputs (ffmpeg asks; a batch tool must refuse)."""
    target = Path(out)
    for path in inputs:
        p = Path(path)
        same = target.exists() and p.exists() and os.path.samefile(target, p)
        if same or target.resolve() == p.resolve():
            raise CliError(f"refusing to write {out!r}: it is also an input; choose another --out")


class Progress:
    """A progress bar with speed and ETA on a terminal (tqdm); nothing when stderr is a
    file or a pipe, so logs get no carriage-return spam."""

    def __init__(self, total: int, label: str, fps: int, enabled: bool = True):
        self.fps = fps
        self.started = time.perf_counter()
        self._bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            # The terminal's size, or 100x24 where it reports none (tqdm draws nothing then).
            width, rows = shutil.get_terminal_size((100, 24))
            self._bar = tqdm(total=total, desc=label, unit="frame", file=sys.stderr, ncols=width, nrows=max(rows, 2), leave=True)

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            speed = done / self.fps / max(1e-6, time.perf_counter() - self.started)
            self._bar.set_postfix_str(f"{speed:.1f}x realtime", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def ctrl_c():
    """An Event set by Ctrl-C (SIGINT) while the block runs; the media loops check it once
    per frame and stop there. A KeyboardInterrupt raised by the default handler could land
    inside a C library's Python callback (PyAV's log callback, say) and be swallowed there:
    the flag cannot be lost."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed  # signals reach the main thread only; nothing to install here
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.set())
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
