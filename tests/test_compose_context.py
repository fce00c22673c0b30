"""Compose contexts and label caches: shared resources with an owner (issue 13).

A ComposeContext owns the compose worker threads and the tap-table cache; a LabelCache the
rendered labels and cards. A RoomHost owns one of each for its rooms; everything else
uses the default ones. The checks: the same bytes whatever the context (numpy reference),
bounds that hold, hosts that share nothing and leave no thread behind.
"""

from __future__ import annotations

import gc
import os
import threading

import numpy as np
import pytest

import reference as ref
from vmedia import Compositor, I420Frame, InvalidInputError, Tile, _core
from vmedia.codecs.video import OutputProfile
from vmedia.engine.mixer import Mixer
from vmedia.hosting.host import RoomHost
from vmedia.layouts import Rect
from vmedia.video.label_cache import LabelCache, default_label_cache

from media_helpers import ColourSender

TINY = OutputProfile("180p", 320, 180, fps=15, bitrate=150_000)


def random_i420(rng, w, h):
    cw, ch = (w + 1) // 2, (h + 1) // 2
    return I420Frame(*(rng.integers(0, 256, (ph, pw), dtype=np.uint8) for pw, ph in ((w, h), (cw, ch), (cw, ch))))


def tasks(name: str | None = None) -> int:
    """Threads of this process (named `name`), C++ ones included: threading.enumerate sees
    only Python's."""
    names = []
    for t in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{t}/comm") as f:
                names.append(f.read().strip())
        except FileNotFoundError:  # ended while listed
            pass
    return sum(name is None or n == name for n in names)


def tiles(rng):
    return [Tile(Rect(0, 0, 160, 90), random_i420(rng, 97, 55)), Tile(Rect(160, 0, 160, 90), random_i420(rng, 640, 360), "fill"),
            Tile(Rect(0, 90, 320, 90), random_i420(rng, 33, 17), border=3)]


def test_a_custom_context_draws_the_same_bytes_as_the_default_and_the_numpy_reference(kernels):
    rng = np.random.default_rng(1)
    shown = tiles(rng)
    default = Compositor(320, 180).compose(shown)
    with _core.ComposeContext(3) as ctx:
        custom = Compositor(320, 180, workers=ctx).compose(shown)
        assert Compositor(320, 180, workers=ctx).threads == 3  # all of the context's threads by default
        assert ctx.stats()["tap_tables"] > 0
    for a, b in zip(default.planes, custom.planes):
        np.testing.assert_array_equal(a, b)
    src = shown[0].source  # 97x55 fitted into 160x90: 158x90 centred
    want = ref.scale_plane(src.y, (0, 0, 97, 55), 158, 90)
    assert np.abs(custom.y[0:90, 0:158] - want).max() <= 1


def test_callers_sharing_one_context_each_get_their_own_bytes():
    """Several rooms' ticks compose through one host context at once: idle workers help
    whichever canvas has bands left, and every canvas comes out as drawn alone."""
    rng = np.random.default_rng(2)
    jobs = [tiles(rng) for _ in range(4)]
    alone = [Compositor(320, 180).compose(t) for t in jobs]
    got: dict[int, list] = {}
    with _core.ComposeContext(3) as ctx:
        comp = Compositor(320, 180, threads=4, workers=ctx)

        def run(i):
            got[i] = [comp.compose(jobs[i]) for _ in range(15)]

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for i, want in enumerate(alone):
        for picture in got[i]:
            for a, b in zip(picture.planes, want.planes):
                np.testing.assert_array_equal(a, b)


def test_the_tap_cache_stays_within_its_bounds_over_many_geometries():
    ctx = _core.ComposeContext(2, max_tap_tables=12, max_tap_bytes=16 << 10)
    rng = np.random.default_rng(3)
    src = random_i420(rng, 200, 120)
    canvas = I420Frame.blank(320, 240)
    for i in range(150):
        w, h = 2 * (8 + i % 75), 2 * (4 + (7 * i) % 55)
        _core.compose(canvas.planes, [("scale", src.planes, (i % 7, 0, 180.5, 120), (0, 0, w, h))], 2, ctx)
        s = ctx.stats()
        assert s["tap_tables"] <= 12 and s["tap_bytes"] <= 16 << 10
    assert s["evictions"] > 100 and s["misses"] >= 150 * 3
    # Evicting never changes a picture: the last one is the reference's.
    want = ref.scale_plane(src.y, (149 % 7, 0, 180.5, 120), w, h)
    assert np.abs(canvas.y[:h, :w] - want).max() <= 1
    # A table bigger than the whole budget is built, used and not kept.
    tiny = _core.ComposeContext(1, max_tap_bytes=64)
    _core.compose(canvas.planes, [("scale", src.planes, (0, 0, 200, 120), (0, 0, 100, 60))], 1, tiny)
    assert tiny.stats()["tap_tables"] == 0 and tiny.stats()["tap_bytes"] == 0
    ctx.close()


def test_the_label_cache_stays_within_its_bounds():
    cache = LabelCache(max_entries=6, max_bytes=40_000)
    for i in range(40):
        label = cache.label(f"Participant {i:03d}", 18)
        s = cache.stats()
        assert s.entries <= 6 and s.bytes <= 40_000
    assert s.evictions >= 30 and not label.y.flags.writeable  # shared: never drawn into
    assert cache.label("Participant 039", 18) is label and cache.stats().hits == 1
    card = cache.audio_only("Åse", 160, 90)
    assert cache.audio_only("Åse", 160, 90) is card and cache.stats().bytes <= 40_000


def send(mixer, pids, n):
    senders = {pid: ColourSender((60 + 40 * i, 90, 160), width=160, height=90, fps=15) for i, pid in enumerate(pids)}
    for pid in pids:
        mixer.add_participant(pid, name=f"Dr. {pid}")
    for k in range(n):
        for pid, s in senders.items():
            for p in s.video_packets(keyframe=k == 0):
                mixer.push_video(pid, p, k / 15)


def test_two_hosts_rooms_share_no_compose_workers_or_caches():
    default_before, labels_before = _core.default_compose_context().stats(), default_label_cache.stats()
    with RoomHost(cores=2) as a, RoomHost(cores=3) as b:
        ma = a.create_mixer("east", [TINY], participants=2, layout="gallery")
        mb = b.create_mixer("west", [TINY], participants=2, layout="gallery")
        assert ma.label_cache is a.label_cache and mb.label_cache is b.label_cache
        assert a.compose_workers.stats()["threads"] == 2 and b.compose_workers.stats()["threads"] == 3
        send(ma, ["ann", "ben"], 8)
        a.run_until(7 / 15)
        drawn_a, labels_a = a.compose_workers.stats(), a.label_cache.stats()
        assert drawn_a["tap_tables"] > 0 and drawn_a["hits"] > 0 and labels_a.entries >= 2  # two name labels
        assert b.compose_workers.stats()["misses"] == 0 and b.label_cache.stats().misses == 0
        send(mb, ["cat", "dan"], 8)
        b.run_until(7 / 15)
        assert b.compose_workers.stats()["tap_tables"] > 0 and b.label_cache.stats().entries >= 2
        # Host b's room drew through b's context and cache only: a's saw no lookup.
        assert {k: a.compose_workers.stats()[k] for k in ("hits", "misses")} == {k: drawn_a[k] for k in ("hits", "misses")}
        assert a.label_cache.stats() == labels_a
    default_after, labels_after = _core.default_compose_context().stats(), default_label_cache.stats()
    assert (default_after["hits"], default_after["misses"]) == (default_before["hits"], default_before["misses"])
    assert (labels_after.hits, labels_after.misses) == (labels_before.hits, labels_before.misses)


def test_a_closed_host_leaves_no_thread_behind():
    gc.collect()  # codec threads of earlier tests' rooms
    before, compose_before = tasks(), tasks("vmedia-compose")
    host = RoomHost(cores=4, compose_threads=4)
    assert host.compose_workers.stats()["workers"] == 0  # started by the first compose that wants them
    m = host.create_mixer("a", [TINY], participants=2, layout="gallery")
    send(m, ["ann", "ben"], 4)
    host.run_until(3 / 15)
    assert host.compose_workers.stats()["workers"] == 3 and tasks("vmedia-compose") == compose_before + 3
    host.close()
    s = host.compose_workers.stats()
    assert s["closed"] and s["workers"] == 0 and s["tap_tables"] == 0
    assert host.label_cache.stats().entries == 0
    assert tasks("vmedia-compose") == compose_before
    assert not [t for t in threading.enumerate() if t.name.startswith("vmedia-host")]
    del m  # the room's codecs (FFmpeg threads of their own) go with it
    gc.collect()
    assert tasks() == before
    with pytest.raises(InvalidInputError, match="compose context is closed"):
        _core.compose(I420Frame.blank(8, 8).planes, [], 1, host.compose_workers)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: _core.ComposeContext(0), "threads must be 1..16, got 0"),
        (lambda: _core.ComposeContext(-3), "threads must be 1..16, got -3"),
        (lambda: _core.ComposeContext(10**9), "threads must be 1..16"),
        (lambda: _core.ComposeContext(2**70), "threads must be 1..16"),
        (lambda: _core.ComposeContext("2"), "threads must be an integer"),
        (lambda: _core.ComposeContext(2, max_tap_tables=-1), "max_tap_tables must be 0.."),
        (lambda: _core.ComposeContext(2, max_tap_bytes=2**60), "max_tap_bytes must be 0.."),
        (lambda: _core.compose(I420Frame.blank(8, 8).planes, [], 1, "ctx"), "context must be a ComposeContext"),
        (lambda: _core.default_compose_context().close(), "default compose context .* not closed"),
        (lambda: Compositor(64, 36, workers=object()), "workers must be a vmedia._core.ComposeContext"),
        (lambda: Compositor(64, 36, threads=0), "threads must be 1..16"),
        (lambda: Mixer([TINY], compose_workers=3), "workers must be a vmedia._core.ComposeContext"),
        (lambda: Mixer([TINY], label_cache={}), "label_cache must be a LabelCache"),
        (lambda: LabelCache(max_entries=-1), "max_entries must be a non-negative int"),
        (lambda: RoomHost(cores=2, compose_threads=0), "compose_threads must be 1..16"),
    ],
)
def test_bad_arguments_are_clear_errors(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()
