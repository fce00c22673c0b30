"""`vmedia demo`: a generated meeting. Synthetic participants (moving pictures with their
names, a mouth that opens with their speech, speech-like audio), sent as H.264 + Opus like
real senders, composed by a Mixer and written to a playable MP4."""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from vmedia import _core
from vmedia.media import synth
from vmedia.media.time import FRAME_SIZE, SAMPLE_RATE
from vmedia.codecs.audio import AudioEncoder
from vmedia.media.frames import I420Frame
from vmedia.cli import common
from vmedia.errors import SinkError

log = logging.getLogger("vmedia.demo")
MAX_PARTICIPANTS = 49  # a 7x7 gallery

NAMES = [
    "Dr. Ada Okafor", "Ben Lindqvist", "Chloe Martin", "Dev Patel", "Eva Novak", "Farid Haddad",
    "Grace Kim", "Hugo Silva", "Ines Moreau", "Jon Berg", "Kemi Adeyemi", "Lena Fischer",
]


@dataclass
class Synthetic:
    """One generated participant: who, when they talk, and how they look."""

    pid: str
    name: str
    index: int
    audio: np.ndarray  # float32, 48 kHz mono, the whole meeting
    width: int = 640
    height: int = 360

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.index)
        self._u, self._v = (int(x) for x in rng.integers(70, 190, 2))
        self._phase = rng.uniform(0, 6.28)
        self._x = np.arange(self.width)
        self._y = np.arange(self.height)
        frames = synth.frames_of(self.audio)
        self._level = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))  # per 20 ms

    def loudness(self, t: float) -> float:
        k = min(len(self._level) - 1, max(0, int(t / 0.02)))
        return float(self._level[k])

    def frame(self, t: float) -> av.VideoFrame:
        """The picture at time t: drifting stripes and a bouncing face whose mouth opens with
        the speech at t (so lip sync can be seen). Vectorised numpy + the core's fills."""
        w, h = self.width, self.height
        pic = I420Frame.from_av(av.VideoFrame(w, h, "yuv420p"))
        col = (70 + 30 * np.sin(self._x * 0.03 + t * 1.7 + self._phase)).astype(np.uint8)
        row = (30 * (1 + np.sin(self._y * 0.02 - t * 0.9))).astype(np.uint8)
        pic.y[...] = col[None, :] + row[:, None]
        pic.u[...] = self._u
        pic.v[...] = self._v
        fw, fh = (w // 4) & ~1, (h // 2) & ~1
        fx = int((w - fw) / 2 + (w - fw) / 3 * np.sin(t * 0.8 + self._phase)) & ~1
        fy = int((h - fh) / 2 + (h - fh) / 4 * np.cos(t * 1.1 + self._phase)) & ~1
        mouth = min(fh // 3, int(fh * 3 * self.loudness(t))) & ~1
        ops = [("fill", (fx, fy, fw, fh), (180, 110, 150)), ("fill", (fx + fw // 4 & ~1, fy + fh // 8 & ~1, 8, 8), (30, 128, 128)),
               ("fill", (fx + 3 * fw // 4 - 8 & ~1, fy + fh // 8 & ~1, 8, 8), (30, 128, 128))]
        if mouth >= 2:
            ops.append(("fill", (fx + fw // 4 & ~1, fy + fh // 2 & ~1, fw // 2 & ~1, mouth), (40, 128, 170)))
        _core.compose(pic.planes, ops)
        assert pic.av_frame is not None  # made from one above
        return pic.av_frame


def script_turns(n: int, seconds: float, seed: int = 0) -> list[tuple[int, tuple[float, float]]]:
    """(person, (start, end)) talk spurts: turns of 2-5 s with small overlaps and
    backchannels, all inside [0, seconds]."""
    rng = np.random.default_rng(seed)
    spurts: list[tuple[int, tuple[float, float]]] = []
    t = 0.3
    who = 0
    while t < seconds:
        length = rng.uniform(2.0, 5.0)
        spurts.append((who, (t, min(seconds, t + length))))
        listener = int(rng.integers(n))
        if listener != who and n > 1:
            b = t + rng.uniform(0.5, length)
            spurts.append((listener, (b, min(seconds, b + 0.35))))
        t += length - rng.uniform(0, 0.3)
        who = int(rng.integers(n)) if n > 1 else 0
    return spurts


def script_meeting(n: int, seconds: float, seed: int = 0) -> list[Synthetic]:
    """n participants taking turns (script_turns), with their voices and faces."""
    spurts: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    for who, span in script_turns(n, seconds, seed):
        spurts[who].append(span)
    people = []
    for i in range(n):
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f" {i // len(NAMES) + 1}")
        audio = synth.talk(spurts[i], seconds, f0=95 + 12 * (i % 9), level_db=-22.0, seed=100 + i)
        audio += synth.noise(seconds, -60.0, seed=i)
        people.append(Synthetic(f"p{i}", name, i, audio))
    return people


@dataclass
class Sender:
    """Encodes one synthetic participant like a real endpoint: H.264 + Opus packets."""

    person: Synthetic
    fps: int = 30
    bitrate: int = 600_000

    def __post_init__(self) -> None:
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height, ctx.pix_fmt = self.person.width, self.person.height, "yuv420p"
        ctx.time_base = Fraction(1, self.fps)
        ctx.framerate = Fraction(self.fps)
        ctx.bit_rate = self.bitrate
        ctx.gop_size = 2 * self.fps
        ctx.thread_count = 1
        ctx.options = {"preset": "veryfast", "tune": "zerolatency", "x264-params": "repeat-headers=1"}
        ctx.open()
        self._video = ctx
        self._audio = AudioEncoder("opus")

    def video_packets(self, index: int, keyframe: bool = False) -> list[av.Packet]:
        frame = self.person.frame(index / self.fps)
        frame.pts = index
        frame.time_base = Fraction(1, self.fps)
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        return list(self._video.encode(frame))

    def audio_packets(self, k: int) -> list[av.Packet]:
        chunk = self.person.audio[k * FRAME_SIZE : (k + 1) * FRAME_SIZE]
        if len(chunk) < FRAME_SIZE:  # past the scripted end: silence, never a short frame
            chunk = np.pad(chunk, (0, FRAME_SIZE - len(chunk)))
        return self._audio.encode(chunk)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="compose a generated meeting into a playable MP4", formatter_class=common.Formatter,
                       description="Compose a generated meeting (synthetic people talking in turns) into a playable file.")
    common.add_output_options(p, "vmedia-demo.mp4")
    p.add_argument("--participants", "-n", type=common.int_range(1, MAX_PARTICIPANTS), default=9, help="people in the meeting")
    p.add_argument("--seconds", "-t", type=common.seconds, default=10.0, help="length of the meeting")
    return p


def run(args: argparse.Namespace) -> int:
    summary = run_demo(args.out, args.participants, args.seconds, args.layout, show_progress=not args.quiet,
                       profile=common.profile(args), faststart=args.faststart)
    what = f"{summary['frames']} frames, {summary['frames'] / summary['fps']:.1f} s, {summary['participants']} participants"
    if summary["interrupted"]:
        print(f"interrupted: {summary['path']} is finished and playable ({what}, in {summary['wall_seconds']:.1f} s)")
        return common.EXIT_INTERRUPTED
    print(f"wrote {summary['path']}: {what}, in {summary['wall_seconds']:.1f} s")
    return common.EXIT_OK


def run_demo(path: str, participants: int = 9, seconds: float = 10.0, layout: str = "gallery", show_progress: bool = True,
             profile=None, faststart: bool = False) -> dict:
    """Generate a meeting, compose it and write `path`. Ctrl-C stops early and still
    finishes the file (summary["interrupted"]). Returns a summary."""
    from vmedia.engine.mixer import Mixer
    from vmedia.sinks import ContainerSink
    from vmedia.codecs.video import HD

    profile = profile or HD
    people = script_meeting(participants, seconds)
    senders = [Sender(p, fps=profile.fps) for p in people]
    mixer = Mixer([profile], layout=layout)
    for p in people:
        mixer.add_participant(p.pid, p.name)
    sink = ContainerSink(mixer, path, faststart=faststart, realtime=False)
    total = max(1, round(seconds * profile.fps))
    bar = common.Progress(total, "composing", profile.fps, enabled=show_progress)
    events: list = []
    audio_k = 0
    done = 0
    interrupted = False
    with common.ctrl_c() as stop:
        try:
            for i in range(total):
                if stop.is_set():
                    raise KeyboardInterrupt
                t = i / profile.fps
                keyframes = {e.participant for e in events if e.kind == "keyframe_needed"}
                for s in senders:
                    for pkt in s.video_packets(i, keyframe=s.person.pid in keyframes):
                        mixer.push_video(s.person.pid, pkt, t)
                while audio_k * 0.02 < t + 1 / profile.fps - 1e-9:
                    for s in senders:
                        for pkt in s.audio_packets(audio_k):
                            mixer.push_audio(s.person.pid, pkt, audio_k * 0.02)
                    audio_k += 1
                out = mixer.tick(t)
                events = out.events
                sink.write(out)
                done = i + 1
                if i % 10 == 0 or done == total:
                    bar.update(done)
        except KeyboardInterrupt:
            interrupted = True  # finish the file below: what was composed stays playable
            log.info("interrupted after %d frames; finishing %s", done, path)
        finally:
            bar.close()
            stats = sink.close(mixer.close())
    if stats.error:
        raise SinkError(stats.error)
    # what the file holds (an interrupt inside a tick or a write can make it one off `done`)
    return {"path": path, "frames": stats.video_frames, "fps": profile.fps, "seconds": seconds, "participants": participants,
            "wall_seconds": round(time.perf_counter() - bar.started, 2), "samples": audio_k * FRAME_SIZE, "rate": SAMPLE_RATE,
            "interrupted": interrupted}
