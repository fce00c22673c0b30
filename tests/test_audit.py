"""The audit log: records, the JSON Lines file, callables, threads and failing sinks."""

import itertools
import json
import os
import stat
import threading
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmedia.errors import InvalidInputError
from vmedia.rooms.audit import MAX_DETAIL, Action, AuditLog, AuditRecord, JsonLinesFile, Outcome, utc_iso

T0 = datetime(2026, 11, 25, 9, 30, 0, 123000, tzinfo=timezone.utc).timestamp()


def test_time_is_utc_iso_8601_with_milliseconds():
    assert utc_iso(T0) == "2026-11-25T09:30:00.123Z"
    assert datetime.fromisoformat(utc_iso(T0).replace("Z", "+00:00")).timestamp() == pytest.approx(T0)


def test_json_lines_file_appends_one_flushed_record_per_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text('{"earlier":"run"}\n')
    log = AuditLog(path, room="clinic-7", wall_clock=lambda: T0)
    log.record(Action.JOIN, actor="doc", target="doc", detail="Dr. Ada as host")
    # flushed per record: another reader sees it before the log is closed
    lines = path.read_text().splitlines()
    assert lines[0] == '{"earlier":"run"}'
    assert json.loads(lines[1]) == {"time": "2026-11-25T09:30:00.123Z", "room": "clinic-7", "actor": "doc",
                                    "action": "join", "target": "doc", "outcome": "ok", "detail": "Dr. Ada as host"}
    log.record("admit", actor="doc", target="pat", outcome="denied", detail="room full")
    log.close()
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert [(r["action"], r["outcome"]) for r in records] == [("join", "ok"), ("admit", "denied")]


def test_the_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "audit.jsonl"
    JsonLinesFile(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_unopenable_path_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="cannot open audit log"):
        AuditLog(tmp_path / "no" / "such" / "dir.jsonl")


def test_a_callable_receives_each_record():
    got = []
    log = AuditLog(got.append, room="r", wall_clock=lambda: T0)
    rec = log.record(Action.LOCK, actor="host")
    assert got == [rec] and isinstance(rec, AuditRecord) and rec.target is None


@settings(max_examples=50, deadline=None)
@given(actor=st.text(max_size=30), target=st.text(max_size=30), detail=st.text(max_size=300))
def test_any_text_stays_one_line_and_round_trips(actor, target, detail):
    got = []
    AuditLog(lambda r: got.append(r.to_json()), wall_clock=lambda: T0).record(
        Action.REJECT, actor=actor, target=target, detail=detail)
    line = got[0]
    assert len(line.splitlines()) == 1 and line.isascii()
    back = json.loads(line)
    assert (back["actor"], back["target"]) == (actor, target)
    assert back["detail"] == (detail if len(detail) <= MAX_DETAIL else detail[: MAX_DETAIL - 1] + "…")


def test_unknown_actions_and_non_text_fields_are_refused():
    log = AuditLog(None)
    with pytest.raises(InvalidInputError, match="'dance'"):
        log.record("dance")
    with pytest.raises(InvalidInputError, match="outcome|Outcome|'maybe'"):
        log.record(Action.JOIN, outcome="maybe")
    with pytest.raises(InvalidInputError, match="detail must be a str"):
        log.record(Action.JOIN, detail=b"\x00\x01 media bytes")  # nothing here takes bytes


def test_a_failing_sink_never_raises_is_reported_and_catches_up():
    written, errors = [], []
    broken = {"on": True}

    def flaky(rec):
        if broken["on"]:
            raise OSError(28, "No space left on device")
        written.append(rec.action)

    log = AuditLog(flaky, on_error=lambda e, r: errors.append((str(e), r.action)))
    log.record(Action.JOIN, actor="a")
    log.record(Action.MUTE, actor="a", target="b")
    assert written == [] and log.pending == 2 and log.failures == 2
    assert errors == [("[Errno 28] No space left on device", "join"), ("[Errno 28] No space left on device", "mute")]
    broken["on"] = False
    log.record(Action.LEAVE, actor="a")
    assert written == ["join", "mute", "leave"] and log.pending == 0  # in order, nothing lost


def test_the_backlog_is_bounded_and_counts_what_it_drops():
    def broken(rec):
        raise RuntimeError("sink down")

    log = AuditLog(broken, backlog=3)
    for _ in range(10):
        log.record(Action.JOIN)
    assert log.pending == 3 and log.dropped == 7


def test_a_failing_on_error_callback_is_contained():
    def broken(rec):
        raise RuntimeError("sink down")

    def worse(e, rec):
        raise RuntimeError("reporter down too")

    AuditLog(broken, on_error=worse).record(Action.JOIN)  # does not raise


def test_threads_write_whole_lines_in_one_order(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, wall_clock=itertools.count(T0, 0.001).__next__)  # a clock that never repeats

    def work(k):
        for i in range(200):
            log.record(Action.MUTE, actor=f"t{k}", target=str(i))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 800
    for k in range(4):  # each thread's records appear in the order it wrote them
        assert [r["target"] for r in records if r["actor"] == f"t{k}"] == [str(i) for i in range(200)]
    times = [r["time"] for r in records]
    assert times == sorted(times)  # stamped under the same lock as written
