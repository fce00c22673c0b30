"""The `vmedia` command: demo and compose write playable files; bad input exits cleanly."""

import av
import pytest

from vmedia.cli import main


def probe(path):
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        frames = sum(1 for _ in c.decode(video=0))
        return frames, (v.width, v.height), float(c.duration / av.time_base), a.codec_context.name


def test_demo_writes_a_playable_mp4(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    assert main(["demo", "-n", "3", "-t", "1", "-o", str(out), "-q", "--size", "320x180"]) == 0
    frames, size, duration, audio = probe(out)
    assert frames == 30 and size == (320, 180) and audio == "aac"
    assert duration == pytest.approx(1.0, abs=0.1)
    assert "wrote" in capsys.readouterr().out


def test_compose_turns_per_participant_files_into_one_meeting(tmp_path):
    a, b, out = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "meeting.mp4"
    main(["demo", "-n", "1", "-t", "1", "-o", str(a), "-q", "--size", "320x180"])
    main(["demo", "-n", "2", "-t", "1.5", "-o", str(b), "-q", "--size", "320x180"])
    assert main(["compose", str(a), str(b), "-o", str(out), "-q", "--size", "640x360", "--layout", "speaker"]) == 0
    frames, size, duration, _ = probe(out)
    assert size == (640, 360) and frames == 45 and duration == pytest.approx(1.5, abs=0.1)


def test_bad_input_is_a_clear_message_not_a_traceback(tmp_path, capsys):
    assert main(["compose", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x.mp4")]) == 2
    assert "no such input file" in capsys.readouterr().err
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    assert main(["compose", str(junk), "-o", str(tmp_path / "y.mp4")]) == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--size", "641x360"])


def test_a_truncated_input_ends_early_and_the_rest_of_the_meeting_is_still_composed(tmp_path):
    good, cut, out = tmp_path / "good.mp4", tmp_path / "cut.mkv", tmp_path / "meeting.mp4"
    main(["demo", "-n", "1", "-t", "2", "-o", str(good), "-q", "--size", "320x180"])
    whole = tmp_path / "whole.mkv"
    main(["demo", "-n", "1", "-t", "2", "-o", str(whole), "-q", "--size", "320x180"])
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 3] + b"\x00\xff" * 500)  # cut short, garbage after
    assert main(["compose", str(good), str(cut), "-o", str(out), "-q", "--size", "320x180"]) == 0
    frames, _, duration, _ = probe(out)
    assert frames >= 55 and duration == pytest.approx(2.0, abs=0.15)


def test_compose_refuses_to_write_over_its_input(tmp_path, capsys):
    a = tmp_path / "a.mp4"
    main(["demo", "-n", "1", "-t", "1", "-o", str(a), "-q", "--size", "160x90"])
    before = a.read_bytes()
    assert main(["compose", str(a), "-o", str(tmp_path / "." / "a.mp4"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "refusing to write" in err and "a.mp4" in err and len(err.strip().splitlines()) == 1
    assert a.read_bytes() == before


@pytest.mark.parametrize("args, needle", [
    (["--size", "100000x100000"], "at most"),
    (["-n", "0"], "1..49"),
    (["-t", "-3"], "seconds"),
    (["--fps", "abc"], "whole number"),
])
def test_bad_values_are_one_line_usage_errors(tmp_path, capsys, args, needle):
    with pytest.raises(SystemExit) as e:
        main(["demo", "-o", str(tmp_path / "x.mp4"), *args])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_version_and_python_dash_m(capsys):
    import os
    import subprocess
    import sys

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("vmedia ")
    help_text = subprocess.run([sys.executable, "-m", "vmedia", "demo", "--help"], capture_output=True, text=True, check=True,
                               env={**os.environ, "COLUMNS": "200"}).stdout
    assert "(default: 9)" in help_text and "(default: 1280x720)" in help_text and "--verbose" in help_text


@pytest.mark.parametrize("out, needle", [("nodir/x.mp4", "No such file or directory"), ("x.webm", "webm")])
def test_an_output_that_cannot_be_written_is_exit_1_with_one_line(tmp_path, capsys, out, needle):
    assert main(["demo", "-n", "1", "-t", "1", "-q", "--size", "160x90", "-o", str(tmp_path / out)]) == 1
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_progress_bar_shows_speed_and_eta_on_a_terminal_and_nothing_in_a_log(tmp_path):
    import os
    import pty
    import subprocess
    import sys

    args = [sys.executable, "-m", "vmedia", "demo", "-n", "1", "-t", "1", "--fps", "15", "--size", "160x90"]
    log = subprocess.run([*args, "-o", str(tmp_path / "a.mp4")], capture_output=True, text=True, check=True)
    assert "\r" not in log.stderr and log.stderr.strip() == ""
    leader, follower = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120x24 terminal
    proc = subprocess.Popen([*args, "-o", str(tmp_path / "b.mp4")], stdout=follower, stderr=follower)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    assert proc.wait() == 0
    os.close(leader)
    text = screen.decode(errors="replace")
    import re

    last = [line for line in text.split("\r") if line.startswith("composing")][-1]  # redrawn in place
    assert "100%" in last and "15/15" in last
    assert re.search(r"\d\d:\d\d<\d\d:\d\d", last)  # elapsed<ETA
    assert re.search(r"[\d.]+frame/s, [\d.]+x realtime\]", last)  # speed


def test_a_full_disk_is_exit_1_not_a_silent_empty_file(tmp_path, capsys):
    full = tmp_path / "full.mp4"
    full.symlink_to("/dev/full")  # every write: no space left on device
    assert main(["demo", "-n", "1", "-t", "1", "-q", "--size", "160x90", "-o", str(full)]) == 1
    err = capsys.readouterr().err
    assert "full.mp4" in err and len(err.strip().splitlines()) == 1
