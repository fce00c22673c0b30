"""Draws docs/views/*.png: what the speaker and the others receive, presentation in the
mix, and the lobby's holding picture — composed by vmedia itself from generated people.

Run: python docs/make_view_pictures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vmedia import Room
from vmedia.cli.demo import NAMES, Synthetic
from vmedia.media import synth
from vmedia.media.frames import I420Frame
from vmedia.media.time import FRAME_SECONDS, FRAME_SIZE

OUT = Path(__file__).parent / "views"
FPS = 15


def save(picture: I420Frame, name: str) -> None:
    picture.to_av().to_image().resize((640, 360)).save(OUT / name)
    print("wrote", OUT / name)


def slides(width: int = 1280, height: int = 720) -> I420Frame:
    """A bar chart on a white slide: something a clinician would share."""
    pic = I420Frame.blank(width, height, (235, 128, 128))
    for i, h in enumerate((0.3, 0.55, 0.42, 0.7, 0.5)):
        x0, top = 160 + i * 200, int(height * (0.85 - h * 0.8)) & ~1
        pic.y[top : int(height * 0.85), x0 : x0 + 120] = 90
        pic.u[top // 2 : int(height * 0.85) // 2, x0 // 2 : (x0 + 120) // 2] = 170
    pic.y[int(height * 0.85) : int(height * 0.85) + 4, 120:1160] = 40
    return pic


def main() -> None:
    OUT.mkdir(exist_ok=True)
    seconds = 6.0
    script = {2: [(0.2, 2.6)], 4: [(3.0, 6.0)]}  # p2 talks, then p4 takes the floor
    people = [
        Synthetic(f"p{i}", NAMES[i], i, synth.talk(script.get(i, []), seconds, f0=100 + 15 * i, level_db=-22, seed=i))
        for i in range(6)
    ]
    room = Room("administrative", name="Ward 7 handover", layout="speaker")
    for p in people:
        room.join(p.pid, p.name, role="host" if p.index == 0 else "guest", content="in_mix" if p.index == 5 else None)
    k = 0
    for i in range(int(seconds * FPS)):
        t = i / FPS
        for p in people:
            room.push_video(p.pid, p.frame(t), t)
        while k * FRAME_SECONDS < t + 1 / FPS:
            for p in people:
                room.push_audio(p.pid, np.ascontiguousarray(p.audio[k * FRAME_SIZE : (k + 1) * FRAME_SIZE]), k * FRAME_SECONDS)
            k += 1
        out = room.tick(t)
    save(out.picture_for("p4"), "speaker-sees-previous.png")
    save(out.picture_for("p0"), "others-see-speaker.png")
    room.start_presentation("p0")
    deck = slides().to_av()
    for i in range(FPS):
        t = seconds + i / FPS
        room.push_content(deck, t)
        for p in people:
            room.push_video(p.pid, p.frame(t), t)
        out = room.tick(t)
    save(out.picture_for("p5"), "presentation-in-mix.png")
    save(out.content_picture, "presentation-stream.png")
    lobby = Room("sensitive", name="Dr. Lindqvist's clinic", layout="speaker")
    lobby.join("doc", "Dr. Lindqvist", role="host")
    lobby.join("pat", "Patient")
    save(lobby.tick(0.0).picture_for("pat"), "lobby-holding.png")


if __name__ == "__main__":
    main()
