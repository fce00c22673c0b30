"""Where a room's composite goes besides the participants: recordings (MP4/MKV) and live
streams (RTMP/FLV to YouTube or Vimeo). H.264 packets are muxed as the mixer encoded them
(no second video encode); the shared mix is encoded to AAC once more for the container.

The room's tick only copies what it produced into a bounded queue (`write` never blocks).
A writer thread feeds a muxer process (vmedia.sinks.muxer) that owns FFmpeg's file or
connection, so a stalled server can freeze neither the tick nor the room's other threads:
a muxer that makes no progress for `timeout` seconds is killed. When the queue is full,
whole GOPs are dropped until the next keyframe. Network streams reconnect with backoff
and ask the mixer for a keyframe on every (re)connect; every stream starts at a keyframe
with audio and video timestamps starting together at 0.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO
from dataclasses import dataclass
from urllib.parse import urlsplit

import av
import numpy as np

from vmedia.engine.mixer import Event, Mixer, TickOutput
from vmedia.errors import InvalidInputError, SinkError
from vmedia.media.time import EPS, FRAME_SECONDS, FRAME_SIZE, SAMPLE_RATE
from vmedia.sinks import muxer as wire

log = logging.getLogger("vmedia.sinks")

# Fragmented MP4: a fragment per second (and at each keyframe), so a crash loses at most
# about a second; the index at the front is written at the start, not at a clean end.
FRAGMENTED_MP4 = {"movflags": "+frag_keyframe+empty_moov+default_base_moof", "frag_duration": "1000000"}
FASTSTART_MP4 = {"movflags": "+faststart"}
_MP4 = ("mp4", "mov", "ipod", "ismv")
BATCH_SECONDS = 0.1  # how often the writer thread takes what the room queued
_NETWORK_PORTS = {"rtmp": 1935, "rtmps": 443, "rtmpt": 80, "srt": None, "tcp": None, "udp": None}


@dataclass
class SinkStats:
    """Counters since the sink opened. `queued` is the backlog in ticks."""

    ticks: int = 0  # write() calls
    video_frames: int = 0  # handed to the muxer
    audio_frames: int = 0  # 20 ms mix frames handed to the muxer
    dropped_frames: int = 0  # video frames dropped (full queue, waiting for a keyframe, disconnected)
    dropped_gops: int = 0  # times the queue overflowed and the rest of a GOP was dropped
    connects: int = 0  # times the container was opened (header written)
    disconnects: int = 0
    queued: int = 0
    error: str = ""  # the last error, if any


def _container_format(target: str, format: str | None) -> str:
    scheme = urlsplit(target).scheme.lower()
    if format is None and scheme.startswith("rtmp"):
        return "flv"
    try:
        with av.open(target, "w", format=format) as probe:  # allocates a muxer; opens no file
            name = probe.format.name
            probe.add_stream("h264", rate=30)
            probe.add_stream("aac", rate=SAMPLE_RATE)
    except ValueError as e:
        what = f"format {format!r}" if format else f"the format of {target!r} (give format=)"
        raise SinkError(f"cannot record H.264 + AAC with {what}: {e}") from None
    except av.error.FFmpegError as e:
        raise SinkError(f"cannot record to {target!r}: {e}") from None
    return name.split(",")[0]


def _is_network(target: str) -> bool:
    return urlsplit(target).scheme.lower() in _NETWORK_PORTS


def _check_reachable(target: str, timeout: float) -> None:
    """A refused or unreachable server is an error now, not a silent retry loop."""
    parts = urlsplit(target)
    port = parts.port or _NETWORK_PORTS.get(parts.scheme.lower())
    if not parts.hostname or port is None:
        return
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as e:
        raise SinkError(f"cannot connect to {parts.hostname}:{port} for {target!r}: {e.strerror or e}") from None


def _check_writable(path: str) -> None:
    try:
        with open(path, "wb"):
            pass
    except OSError as e:
        raise SinkError(f"cannot write {path!r}: {e.strerror or e}") from None


_END = object()


class ContainerSink:
    """Muxes one output profile plus the room mix into a file or URL.

    ContainerSink(mixer, "meeting.mp4"), or ContainerSink(mixer, "rtmp://a.rtmp.youtube.com/live2/KEY").

    Call `write(out)` with every TickOutput in order, the first right after its
    `mixer.tick(t)` (it reads `mixer.time` to place the mix frames), and
    `close(mixer.close())` at the end. MP4 is fragmented unless
    `faststart=True`; `options` are FFmpeg muxer options (they win over the defaults);
    `timeout` bounds connecting and every write; `queue_seconds` bounds the backlog.
    `realtime=False` is for offline drivers (files composed faster than real time): a
    full queue then makes `write` wait for the writer instead of dropping GOPs.
    Problems after construction arrive as Events (kind "sink_*") through `on_event` and
    in `stats`; `close()` never raises.
    """

    def __init__(self, mixer: Mixer, target: str | os.PathLike, *, profile: str | None = None, format: str | None = None,
                 audio_bitrate: int = 96000, faststart: bool = False, options: dict[str, str] | None = None,
                 timeout: float = 5.0, queue_seconds: float = 2.0, reconnect: bool | None = None,
                 backoff: tuple[float, float] = (0.5, 10.0), realtime: bool = True,
                 on_event: Callable[[Event], None] | None = None):
        names = [p.name for p in mixer.profiles]
        profile = profile or names[0]
        if profile not in names:
            raise InvalidInputError(f"no output profile {profile!r}; the mixer has {names}")
        if not timeout > 0 or not queue_seconds > 0 or not 0 < backoff[0] <= backoff[1]:
            raise InvalidInputError(f"timeout and queue_seconds must be > 0 and backoff (first, most) increasing, "
                                    f"got {timeout}, {queue_seconds}, {backoff}")
        prof = next(p for p in mixer.profiles if p.name == profile)
        target = os.fspath(target)
        fmt = _container_format(target, format)
        network = _is_network(target)
        opts = dict((FASTSTART_MP4 if faststart else FRAGMENTED_MP4) if fmt in _MP4 else {})
        opts.update({str(k): str(v) for k, v in (options or {}).items()})
        if network:
            _check_reachable(target, timeout)
        else:
            _check_writable(target)
        self.target, self.profile, self.format = target, profile, fmt
        self.stats = SinkStats()
        self._mixer = mixer
        self._fps = prof.fps
        self._timeout = timeout
        self._reconnect = network if reconnect is None else reconnect
        self._backoff = backoff
        self._on_event = on_event
        self._config = {"target": target, "format": fmt, "options": opts, "timeout": timeout, "fps": prof.fps,
                        "width": prof.width, "height": prof.height, "audio_bitrate": audio_bitrate}
        self._queue: queue.Queue = queue.Queue(maxsize=max(2, math.ceil(queue_seconds * prof.fps)))
        self._realtime = realtime
        self._next_mix: int | None = None  # index of the next 20 ms mix frame write() will see
        self._dropping = False
        self._closing = False
        self._stop = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._opened = False
        self._connects = 0
        # The stream starts at an IDR: asked for now, on the caller's thread, so the next
        # tick brings it (the writer thread may take a while to start the muxer).
        mixer.request_keyframe(profile)
        self._thread = threading.Thread(target=self._run, name=f"vmedia-sink-{profile}", daemon=True)
        self._thread.start()

    # --- the room's side: never blocks ------------------------------------------------
    def write(self, out: TickOutput) -> None:
        """Queue what this tick produced for the profile (copies; `out` is not touched)."""
        if self._closing:
            raise SinkError(f"sink for {self.target!r} is closed")
        self.stats.ticks += 1
        video = [(float((p.pts or 0) * (p.time_base or 1)), bytes(p), bool(p.is_keyframe)) for p in out.video.get(self.profile, ())]
        audio = None
        if self._next_mix is None:
            # The mixer has made every 20 ms frame that ends by its clock; this tick's are the
            # last of them. From here on the frames are counted: each comes exactly once.
            self._next_mix = math.floor((self._mixer.time + EPS) / FRAME_SECONDS) - len(out.mixes)
        if out.mixes:
            audio = (self._next_mix, np.stack([m.shared for m in out.mixes]).astype(np.float32))
            self._next_mix += len(out.mixes)
        if self._dropping:
            if not any(key for _, _, key in video) or self._queue.qsize() > self._queue.maxsize // 2:
                self.stats.dropped_frames += len(video)
                return
            self._dropping = False  # resume at this keyframe
        try:
            if self._realtime:
                self._queue.put_nowait((video, audio))
            else:
                self._put_waiting((video, audio))
        except queue.Full:
            self._dropping = True
            self.stats.dropped_gops += 1
            self.stats.dropped_frames += len(video)
            self._event("sink_dropping", f"{self.target}: {self._queue.maxsize} ticks queued; dropping until the next keyframe")
        self.stats.queued = self._queue.qsize()

    def _put_waiting(self, item) -> None:
        """Offline back-pressure: wait for room in the queue while the writer lives."""
        while True:
            try:
                return self._queue.put(item, timeout=0.1)
            except queue.Full:
                if not self._thread.is_alive():
                    raise

    def close(self, final: TickOutput | None = None) -> SinkStats:
        """Write `final` (the mixer's flush), finish the file or stream, stop the writer.
        Returns the stats; problems are in stats.error, never raised."""
        if self._closing:
            return self.stats
        if final is not None:
            self.write(final)
        self._closing = True
        deadline = time.monotonic() + 2 * self._timeout + 5
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                self._queue.put(_END, timeout=0.1)
                break
            except queue.Full:
                pass  # the writer is draining; it has until the deadline
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._stop.set()
            self._kill_child("did not finish in time")
            self._thread.join(self._timeout)
        self.stats.queued = self._queue.qsize()
        self._event("sink_closed", f"{self.target}: {self.stats.video_frames} video frames")
        return self.stats

    @property
    def error(self) -> str:
        return self.stats.error

    @property
    def alive(self) -> bool:
        """Whether the writer still runs: False once closed or after an error it does not
        recover from (a file on a full disk; a stream that does not reconnect)."""
        return self._thread.is_alive()

    def __enter__(self) -> ContainerSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the writer thread ------------------------------------------------------------
    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            finished, opened = self._stream_once()
            if finished or not self._reconnect:
                break
            if opened:
                delay = self._backoff[0]  # it worked for a while: retry quickly
            self._event("sink_reconnecting", f"{self.target}: retrying in {delay:.1f} s")
            if not self._discard_for(delay):
                break
            delay = min(2 * delay, self._backoff[1])
        self._drain()

    def _stream_once(self) -> tuple[bool, bool]:
        """One muxer process from start to end of its connection. Returns (finished: the
        sink closed cleanly, opened: the container's header was written)."""
        try:
            self._child = subprocess.Popen([sys.executable, "-m", "vmedia.sinks.muxer"], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as e:
            self._fail(f"cannot start the muxer: {e}")
            return False, False
        os.set_blocking(self._pipes()[0].fileno(), False)
        os.set_blocking(self._pipes()[1].fileno(), False)
        self._opened = False
        if self._connects:  # a reconnect starts at an IDR too (the first one was asked for at open)
            self._mixer.request_keyframe(self.profile)
        self._connects += 1
        try:
            if not self._send(wire.message(wire.HEADER, json.dumps(self._config).encode())):
                return False, False
            t0 = None  # media time of the stream's first keyframe: 0 in the container
            while True:
                # Wake a few times a second and take everything queued: each wake-up is a GIL
                # hand-off with the room's thread, so fewer of them cost the tick less.
                if self._stop.wait(BATCH_SECONDS):
                    return False, self._opened  # close() gave up waiting
                items = self._take_queued()
                if not items:
                    if not self._poll_child():
                        return False, self._opened
                    continue
                data: list[bytes] = []
                frames = 0
                for item in items:
                    if item is _END:
                        if data and not self._send(b"".join(data)):
                            return False, self._opened
                        self.stats.video_frames += frames
                        return self._finish(), self._opened
                    video, audio = item
                    if t0 is None:
                        keys = [i for i, (_, _, key) in enumerate(video) if key]
                        if not keys:
                            self.stats.dropped_frames += len(video)
                            continue
                        t0 = video[keys[0]][0]
                        video = video[keys[0] :]
                    data += [wire.video_message(round((t - t0) * self._fps), key, au) for t, au, key in video]
                    if audio is not None:
                        data += self._audio_messages(audio, t0)
                    frames += len(video)
                if data and not self._send(b"".join(data)):
                    return False, self._opened
                self.stats.video_frames += frames
        finally:
            self._kill_child(None)

    def _take_queued(self) -> list:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                self.stats.queued = 0
                return items
            if items[-1] is _END:
                return items

    def _audio_messages(self, audio: tuple[int, np.ndarray], t0: float) -> list[bytes]:
        first, frames = audio
        origin = round(t0 * SAMPLE_RATE)
        out = []
        for k, row in enumerate(frames):
            pos = (first + k) * FRAME_SIZE - origin
            if pos + FRAME_SIZE <= 0:
                continue  # before the first picture
            if pos < 0:
                row, pos = row[-pos:], 0  # audio starts exactly with the video
            out.append(wire.audio_message(pos, row.tobytes()))
            self.stats.audio_frames += 1
        return out

    def _send(self, data: bytes) -> bool:
        """Write to the muxer; False (and the muxer killed) when it died or made no
        progress for `timeout` seconds."""
        fd = self._pipes()[0].fileno()
        view = memoryview(data)
        last_progress = time.monotonic()
        while view:
            try:
                n = os.write(fd, view)
                view = view[n:]
                last_progress = time.monotonic()
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, OSError):
                return self._child_ended()
            left = self._timeout - (time.monotonic() - last_progress)
            if left <= 0 or self._stop.is_set():
                self._lost(f"no progress for {self._timeout:g} s")
                return False
            select.select([], [fd], [], min(left, 0.5))
            if not self._poll_child():
                return False
        return self._poll_child()

    def _poll_child(self) -> bool:
        """Read the muxer's news; False when it has exited."""
        child = self._running()
        if self._take_news():
            self._event("sink_connected", f"{self.target}: streaming from a keyframe")
        if child.poll() is not None:
            return self._child_ended()
        return True

    def _child_ended(self) -> bool:
        child = self._running()
        try:
            child.wait(self._timeout)
            err = self._pipes()[2].read().decode(errors="replace").strip().splitlines()
        except (subprocess.TimeoutExpired, ValueError, OSError):
            err = []
        message = next((line[7:] for line in reversed(err) if line.startswith("error: ")), f"muxer exited with {child.returncode}")
        self._lost(message)
        return False

    def _lost(self, why: str) -> None:
        self._kill_child(why)
        self.stats.disconnects += 1
        self._fail(f"{self.target}: {why}", kind="sink_disconnected" if self._reconnect else "sink_error")

    def _finish(self) -> bool:
        """Tell the muxer to finish the file; wait for it."""
        child = self._running()
        if not self._send(wire.message(wire.END, b"")):
            return False
        try:
            self._pipes()[0].close()
        except OSError:
            pass
        try:
            code = child.wait(self._timeout + 5)
        except subprocess.TimeoutExpired:
            self._lost("did not finish the file in time")
            return False
        if code != 0:
            return self._child_ended()
        self._take_news()  # what it said before exiting still counts (no event: it is done)
        return True

    def _take_news(self) -> bool:
        """Read the muxer's news; True when it has just reported the container open."""
        try:
            news = self._pipes()[1].read() or b""
        except (BlockingIOError, ValueError):
            news = b""
        if b"open" in news and not self._opened:
            self._opened = True
            self.stats.connects += 1
            return True
        return False

    def _running(self) -> subprocess.Popen[bytes]:
        assert self._child is not None, "only while a muxer runs"
        return self._child

    def _pipes(self) -> tuple[IO[bytes], IO[bytes], IO[bytes]]:
        """The running muxer's stdin, stdout and stderr (all pipes)."""
        child = self._running()
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        return child.stdin, child.stdout, child.stderr

    def _kill_child(self, why: str | None) -> None:
        child = self._child
        if child is None:
            return
        if child.poll() is None:
            if why is not None:
                log.warning("muxer for %s killed: %s", self.target, why)
            child.kill()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for f in self._pipes():
            try:
                f.close()
            except OSError:
                pass
        self._child = None

    def _discard_for(self, seconds: float) -> bool:
        """Wait out a backoff, dropping what the room produces meanwhile. False when the
        sink was closed during the wait."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self._queue.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            if item is _END:
                return False
            self.stats.dropped_frames += len(item[0])
        return not self._stop.is_set()

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _END:
                self.stats.dropped_frames += len(item[0])

    # --- events -----------------------------------------------------------------------
    def _fail(self, message: str, kind: str = "sink_error") -> None:
        self.stats.error = message
        self._event(kind, message)

    def _event(self, kind: str, detail: str) -> None:
        (log.warning if kind in ("sink_error", "sink_disconnected", "sink_dropping") else log.info)("%s: %s", kind, detail)
        if self._on_event is not None:
            try:
                self._on_event(Event(kind, None, self._mixer.time, detail))
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the recording
                log.exception("sink event listener failed")
