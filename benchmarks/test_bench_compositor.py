"""Gallery composition: vmedia's fused scale+place vs FFmpeg's scale+xstack filter graph.

Run: pytest benchmarks/test_bench_compositor.py --benchmark-only --benchmark-group-by=group
"""

import numpy as np
import pytest

import reference as ref
from peers import FfmpegStack, synthetic_frames
from vmedia import Compositor, I420Frame, Tile, layouts
from vmedia.video.compositor import fit_geometry

CASES = {
    "9 x 640x360 -> 3x3 1280x720": (9, "gallery"),
    "25 x 640x360 -> 5x5 1280x720": (25, "gallery"),
    "8 x 640x360 -> speaker 1+7 1280x720": (8, "speaker"),  # the main tile grows
}


def placed_rects(layout, w=640, h=360):
    """Where each picture lands inside its tile in fit mode; the peer gets the same."""
    return [fit_geometry(w, h, s.rect, "fit")[1] for s in layout.slots]


def reference_canvas(frames, rects, width=1280, height=720):
    """The float area-filter ideal of the gallery: what both contenders approximate."""
    y = np.full((height, width), 16.0)  # studio-range black, as both contenders fill
    for frame, r in zip(frames, rects):
        src = I420Frame.from_av(frame).y
        y[r.y : r.y + r.h, r.x : r.x + r.w] = ref.scale_plane(src, (0, 0, src.shape[1], src.shape[0]), r.w, r.h)
    return ref.to_u8(y)


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    n, kind = CASES[request.param]
    frames = synthetic_frames(n)
    ids = [f"p{i}" for i in range(n)]
    layout = layouts.gallery(ids, 1280, 720, gap=0) if kind == "gallery" else layouts.speaker(ids, "p0", 1280, 720, gap=0)
    return request.param, frames, layout, reference_canvas(frames, placed_rects(layout))


@pytest.mark.parametrize("threads", [1, 2])
def test_vmedia_compositor(benchmark, case, threads):
    name, frames, layout, want = case
    benchmark.group = name
    comp = Compositor(1280, 720, background="#000000", threads=threads)
    tiles = [Tile(s.rect, I420Frame.from_av(f)) for s, f in zip(layout.slots, frames)]
    out = benchmark(comp.compose, tiles)
    quality = ref.psnr(out.y, want)
    benchmark.extra_info["psnr_db"] = round(quality, 2)
    assert quality >= 45


def test_ffmpeg_scale_xstack(benchmark, case):
    name, frames, layout, want = case
    benchmark.group = name
    stack = FfmpegStack(placed_rects(layout), 640, 360, flags="area")
    out = benchmark(stack.compose, frames)
    y = I420Frame.from_av(out).y
    benchmark.extra_info["psnr_db"] = round(ref.psnr(y, want), 2)
    assert (out.width, out.height) == (1280, 720)
    assert ref.psnr(y, want) >= 30  # FFmpeg's area filter is close to, not at, the ideal
