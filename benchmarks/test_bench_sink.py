"""What a recording costs the room: 720p ticks of a 4-person gallery, without a sink and
with a realtime ContainerSink recording them (its writer thread and muxer process run
beside the ticks on the same cores). The peer is the room without the sink.

Run: pytest benchmarks/test_bench_sink.py --benchmark-only --benchmark-group-by=group
"""

import time

import av
import pytest

from media_helpers import ColourSender
from vmedia import HD, Mixer
from vmedia.media import synth
from vmedia.sinks import ContainerSink

TICKS = 60  # 2 s at 30 fps


class Room:
    def __init__(self):
        self.mixer = Mixer([HD])
        self.senders = {f"p{i}": ColourSender((60 + 40 * i, 100, 150), width=640, height=360, fps=30) for i in range(4)}
        for pid in self.senders:
            self.mixer.add_participant(pid, f"Person {pid}")
        self.talk = synth.frames_of(synth.speech(4.0, 120, -24, seed=1))
        self.i = 0

    def tick(self):
        t = self.i / 30
        for pid, s in self.senders.items():
            for p in s.video_packets():
                self.mixer.push_video(pid, p, t)
        for k in range(round(t / 0.02), round((t + 1 / 30) / 0.02)):
            self.mixer.push_audio("p0", self.talk[k % len(self.talk)], k * 0.02)
        self.i += 1
        return self.mixer.tick(t)


@pytest.mark.parametrize("with_sink", [False, True], ids=["room", "room+recording"])
def test_ticks_with_and_without_a_recording(benchmark, tmp_path, with_sink):
    benchmark.group = "720p room: 60 ticks"
    room = Room()
    sink = ContainerSink(room.mixer, tmp_path / "rec.mp4", queue_seconds=60) if with_sink else None
    time.sleep(1.0 if with_sink else 0)  # the muxer process has started

    spent = {"tick": [], "write": []}  # per tick, interleaved: the sink's share of the tick path

    def run():
        for _ in range(TICKS):
            a = time.perf_counter()
            out = room.tick()
            b = time.perf_counter()
            if sink:
                sink.write(out)
            spent["tick"].append(b - a)
            spent["write"].append(time.perf_counter() - b)

    benchmark.pedantic(run, rounds=3, iterations=1)
    if sink:
        ticks, writes = sorted(spent["tick"]), sorted(spent["write"])
        benchmark.extra_info.update(
            tick_median_ms=1000 * ticks[len(ticks) // 2], write_median_ms=1000 * writes[len(writes) // 2],
            write_share_of_tick_path=sum(writes) / sum(ticks),
        )
        stats = sink.close(room.mixer.close())
        assert stats.dropped_frames == 0 and stats.video_frames == room.i
        with av.open(str(tmp_path / "rec.mp4")) as c:
            assert sum(1 for _ in c.decode(video=0)) == room.i
