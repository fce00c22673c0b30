"""The whole room job, side by side: N participants' 640x360 H.264 + Opus files, 20 s,
composed to a 1280x720 gallery (or 1+7 speaker layout), x264 veryfast zerolatency CBR
2.5 Mbit/s + Opus, as CPU-seconds per media-second.

Contenders, all single-threaded per codec so CPU-seconds compare the work itself:
- vmedia: Mixer fed with the files' packets (vmedia.cli.compose.drive), outputs kept
  in memory (H.264 access units, shared Opus mix + one per mixed talker).
- ffmpeg CLI: scale+xstack+amix in -filter_complex, libx264 + libopus, to the null muxer.
  (imageio-ffmpeg's static ffmpeg, a build other than PyAV's.)
- PyAV graph: the same filter graph through PyAV, decoding and encoding with PyAV.

Run: python benchmarks/pipeline_bench.py [--participants 9 25] [--seconds 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vmedia import HD, Mixer, layouts
from vmedia.cli.compose import drive
from vmedia.cli.demo import script_meeting

CACHE = Path(__file__).parent / ".inputs"
X264 = {"preset": "veryfast", "tune": "zerolatency", "b": "2500k", "maxrate": "2500k", "bufsize": "2500k"}


def make_inputs(n: int, seconds: float) -> list[Path]:
    """One MKV (640x360 H.264 + Opus) per participant, made once and cached."""
    folder = CACHE / f"{n}x{seconds:g}s"
    paths = [folder / f"p{i}.mkv" for i in range(n)]
    if all(p.exists() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    for person, path in zip(script_meeting(n, seconds), paths):
        with av.open(str(path), "w") as out:
            v = out.add_stream("libx264", rate=30, options={"preset": "veryfast", "tune": "zerolatency"})
            v.width, v.height, v.pix_fmt, v.bit_rate = 640, 360, "yuv420p", 600_000
            v.codec_context.gop_size = 60
            a = out.add_stream("libopus", rate=48000)
            a.layout = "mono"
            for i in range(int(seconds * 30)):
                frame = person.frame(i / 30)
                frame.pts, frame.time_base = i, Fraction(1, 30)
                out.mux(v.encode(frame))
            x = person.audio
            for k in range(0, len(x) - 959, 960):
                af = av.AudioFrame.from_ndarray(x[None, k : k + 960], format="flt", layout="mono")
                af.sample_rate, af.pts, af.time_base = 48000, k, Fraction(1, 48000)
                out.mux(a.encode(af))
            out.mux(v.encode(None))
            out.mux(a.encode(None))
        print(f"  made {path}", file=sys.stderr)
    return paths


def shown_rects(n: int, layout: str) -> list[layouts.Slot]:
    """What the peers show: vmedia's own geometry for the same room."""
    ids = [f"p{i}" for i in range(n)]
    lay = layouts.gallery(ids) if layout == "gallery" else layouts.speaker(ids, "p0", variant="1+7")
    return list(lay.slots)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_vmedia(paths, layout) -> tuple[float, int]:
    packets = 0

    def keep(out):
        nonlocal packets
        packets += sum(len(v) for v in out.video.values()) + len(out.shared_audio)

    c0 = cpu()
    with Mixer([HD], layout=layout, speaker_variant="1+7", labels=True) as mixer:
        frames = drive(mixer, [str(p) for p in paths], keep)
        mixer.close()
    return cpu() - c0, frames


def filter_complex(n: int, slots) -> str:
    index = {int(s.participant[1:]): s for s in slots}
    parts = []
    for i in range(n):
        if i in index:
            r = index[i].rect
            parts.append(f"[{i}:v]scale={r.w}:{r.h}:flags=area[v{i}]")
        else:  # decoded like every input of a live MCU, not shown
            parts.append(f"[{i}:v]nullsink")
    order = sorted(index)
    stack = "".join(f"[v{i}]" for i in order)
    positions = "|".join(f"{index[i].rect.x}_{index[i].rect.y}" for i in order)
    parts.append(f"{stack}xstack=inputs={len(order)}:layout={positions}:fill=0x101014[vo]")
    parts.append("".join(f"[{i}:a]" for i in range(n)) + f"amix=inputs={n}:normalize=0[ao]")
    return ";".join(parts)


def run_ffmpeg_cli(paths, layout) -> tuple[float, int]:
    import imageio_ffmpeg

    n = len(paths)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin"]
    for p in paths:
        cmd += ["-threads", "1", "-i", str(p)]
    cmd += ["-filter_complex", filter_complex(n, shown_rects(n, layout)), "-filter_complex_threads", "1",
            "-map", "[vo]", "-map", "[ao]", "-r", "30", "-c:v", "libx264", "-threads", "1", "-x264-params", "nal-hrd=cbr"]
    cmd += [item for k, v in X264.items() for item in (f"-{k}" if k != "b" else "-b:v", v)]
    cmd += ["-c:a", "libopus", "-b:a", "32k", "-f", "null", "-"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), -1


def run_pyav_graph(paths, layout) -> tuple[float, int]:
    n = len(paths)
    slots = {int(s.participant[1:]): s for s in shown_rects(n, layout)}
    c0 = cpu()
    containers = [av.open(str(p)) for p in paths]
    for c in containers:
        for s in c.streams:
            s.thread_type = "NONE"
    graph = av.filter.Graph()
    order = sorted(slots)
    stack = graph.add("xstack", f"inputs={len(order)}:layout=" + "|".join(f"{slots[i].rect.x}_{slots[i].rect.y}" for i in order) + ":fill=0x101014")
    vsrc = {}
    for k, i in enumerate(order):
        src = graph.add_buffer(width=640, height=360, format="yuv420p", time_base=Fraction(1, 1000))
        sc = graph.add("scale", f"{slots[i].rect.w}:{slots[i].rect.h}:flags=area")
        src.link_to(sc)
        sc.link_to(stack, 0, k)
        vsrc[i] = src
    mix = graph.add("amix", f"inputs={n}:normalize=0")
    asrc = []
    for i in range(n):
        s = graph.add_abuffer(format="fltp", sample_rate=48000, layout="mono", time_base=Fraction(1, 48000))
        s.link_to(mix, 0, i)
        asrc.append(s)
    vsink, asink = graph.add("buffersink"), graph.add("abuffersink")
    stack.link_to(vsink)
    mix.link_to(asink)
    graph.configure()
    venc = av.CodecContext.create("libx264", "w")
    venc.width, venc.height, venc.pix_fmt, venc.time_base = 1280, 720, "yuv420p", Fraction(1, 30)
    venc.bit_rate, venc.thread_count = 2_500_000, 1
    venc.options = {"preset": "veryfast", "tune": "zerolatency", "maxrate": "2500k", "bufsize": "2500k"}
    aenc = av.CodecContext.create("libopus", "w")
    aenc.sample_rate, aenc.layout, aenc.format, aenc.bit_rate = 48000, "mono", "flt", 32000
    resample = [av.AudioResampler(format="fltp", layout="mono", rate=48000) for _ in range(n)]
    to_flt = av.AudioResampler(format="flt", layout="mono", rate=48000)
    frames = 0
    streams = [c.streams.video[:1] + c.streams.audio[:1] for c in containers]
    demuxers = [c.demux(s) for c, s in zip(containers, streams)]
    done = [False] * n
    while not all(done):
        for i, d in enumerate(demuxers):
            if done[i]:
                continue
            try:
                packet = next(d)
            except StopIteration:
                done[i] = True
                continue
            for frame in packet.decode():
                if packet.stream.type == "video":
                    if i in vsrc:
                        frame.pts = int(frame.time * 1000)
                        frame.time_base = Fraction(1, 1000)
                        vsrc[i].push(frame)
                else:
                    for f in resample[i].resample(frame):
                        asrc[i].push(f)
        for sink, enc, is_video in ((vsink, venc, True), (asink, aenc, False)):
            while True:
                try:
                    out = sink.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    break
                if is_video:
                    out.pts, out.time_base = frames, Fraction(1, 30)
                    frames += 1
                    enc.encode(out)
                else:
                    for f in to_flt.resample(out):
                        enc.encode(f)
    for c in containers:
        c.close()
    return cpu() - c0, frames


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, nargs="+", default=[9, 25])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=1, help="interleaved runs per contender; the table shows medians")
    args = ap.parse_args()
    print("| participants | layout | vmedia CPU-s per media-s | ffmpeg CLI | PyAV graph | vmedia ÷ best peer |")
    print("|---|---|---|---|---|---|")
    for n in args.participants:
        paths = make_inputs(n, args.seconds)
        for layout in ("gallery", "speaker"):
            if layout == "speaker" and n < 9:
                continue
            t0 = time.perf_counter()
            runs = {"vmedia": [], "ffmpeg": [], "graph": []}
            for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits all three
                cpu_s, frames = run_vmedia(paths, layout)
                runs["vmedia"].append(cpu_s)
                runs["ffmpeg"].append(run_ffmpeg_cli(paths, layout)[0])
                runs["graph"].append(run_pyav_graph(paths, layout)[0])
            ours, ff, pg = (float(np.median(runs[k])) for k in ("vmedia", "ffmpeg", "graph"))
            per = lambda c: c / args.seconds  # noqa: E731
            print(f"| {n} | {layout if layout == 'gallery' else 'speaker 1+7'} | {per(ours):.3f} | {per(ff):.3f} | {per(pg):.3f} | "
                  f"{ours / min(ff, pg):.2f} |", flush=True)
            print(f"  ({frames} frames, {time.perf_counter() - t0:.0f} s wall)", file=sys.stderr)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
