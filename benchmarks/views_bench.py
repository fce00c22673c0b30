"""What per-receiver views cost: a speaker room where the speaker sees the previous
speaker and everyone else sees the speaker (two views per profile), against the same room
with one shared composite for everyone, and against the ffmpeg command composing one
picture. Same inputs as pipeline_bench (N participants' 640x360 H.264 + Opus, speakers
changing as the scripted meeting goes), 1280x720 x264 veryfast zerolatency CBR.

Reports CPU-seconds per media-second, video encodes per output frame and audio encodes
per 20 ms. The cost must follow the number of distinct views, not the number of people.

Run: python benchmarks/views_bench.py [--participants 9 25] [--seconds 10] [--repeat 1]
"""

from __future__ import annotations

import argparse

import numpy as np

from pipeline_bench import cpu, make_inputs, run_ffmpeg_cli
from vmedia import HD, Mixer
from vmedia.cli.compose import drive


def run_vmedia(paths, views: str) -> tuple[float, float, float, int]:
    """(CPU seconds, video encodes per output frame, audio encodes per 20 ms, views seen)."""
    seen: set[str] = set()
    c0 = cpu()
    with Mixer([HD], layout="speaker", speaker_variant="1+7", views=views) as mixer:
        frames = drive(mixer, [str(p) for p in paths], lambda out: seen.update(out.views))
        mixer.close()
        audio_frames = mixer._audio_index
        video, audio = mixer.video_encodes / max(1, frames), mixer.audio_encodes / max(1, audio_frames)
    return cpu() - c0, video, audio, len(seen)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, nargs="+", default=[9, 25])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    print("| participants | per-receiver views: CPU-s/media-s | video encodes/frame | audio encodes/20 ms "
          "| one shared composite | ffmpeg CLI (one composite) | views ÷ shared | views ÷ ffmpeg |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.participants:
        paths = make_inputs(n, args.seconds)
        runs: dict[str, list] = {"views": [], "shared": [], "ffmpeg": []}
        for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits all three
            runs["views"].append(run_vmedia(paths, "per_receiver"))
            runs["shared"].append(run_vmedia(paths, "shared"))
            runs["ffmpeg"].append(run_ffmpeg_cli(paths, "speaker")[0])
        views = float(np.median([r[0] for r in runs["views"]]))
        shared = float(np.median([r[0] for r in runs["shared"]]))
        ff = float(np.median(runs["ffmpeg"]))
        _, venc, aenc, _ = runs["views"][0]
        per = lambda c: c / args.seconds  # noqa: E731
        print(f"| {n} | {per(views):.3f} | {venc:.2f} | {aenc:.2f} | {per(shared):.3f} "
              f"(video {runs['shared'][0][1]:.2f}/frame) | {per(ff):.3f} | {views / shared:.2f} | {views / ff:.2f} |", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
