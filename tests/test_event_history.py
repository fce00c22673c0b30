"""A room's event history is bounded and its listeners are isolated from each other."""

import logging

import pytest

from vmedia.errors import InvalidInputError
from vmedia.rooms.history import EventHistory


def failure(listener, event, exc):
    return ("listener_failed", event, repr(exc))


def test_the_history_keeps_the_latest_events_and_counts_the_rest():
    h = EventHistory(failure, maxlen=5)
    for i in range(12):
        h.emit(i)
    assert list(h) == [7, 8, 9, 10, 11] and len(h) == 5 and h[-1] == 11 and h.dropped == 7


def test_a_failing_listener_is_logged_reported_and_starves_nobody(caplog):
    h = EventHistory(failure)
    got_before, got_after = [], []

    def broken(e):
        if e == "boom":
            raise KeyError("server bug")

    h.subscribe(got_before.append)
    h.subscribe(broken)
    h.subscribe(got_after.append)
    with caplog.at_level(logging.ERROR, logger="vmedia.rooms"):
        h.emit("boom")
        h.emit("fine")
    report = ("listener_failed", "boom", "KeyError('server bug')")
    assert got_after == ["boom", report, "fine"] and got_before == got_after
    assert list(h) == ["boom", report, "fine"] and h.listener_failures == 1
    assert "server bug" in caplog.text


def test_a_listener_that_fails_on_every_event_cannot_loop():
    h = EventHistory(failure)

    def always(e):
        raise RuntimeError("always")

    h.subscribe(always)
    h.emit("x")
    assert [e if isinstance(e, str) else e[0] for e in h] == ["x", "listener_failed"]
    assert h.listener_failures == 2  # the report failed too: logged, not reported again


def test_unsubscribe_and_bad_lengths():
    h = EventHistory(failure)
    got = []
    h.subscribe(got.append)
    h.unsubscribe(got.append)
    h.emit(1)
    assert got == []
    with pytest.raises(InvalidInputError, match="history length"):
        EventHistory(failure, maxlen=0)
