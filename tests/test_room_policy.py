"""Room types: the seeds' policies and policies defined from plain data."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmedia.errors import InvalidInputError
from vmedia.rooms.policy import MAX_ROOM_SIZE, POLICIES, RoomPolicy, policy_for


def test_the_seed_types():
    s, a, p, au, t = (POLICIES[k] for k in ("sensitive", "administrative", "personal", "auditorium", "test"))
    assert (s.min_participants, s.max_participants, s.lobby, s.allow_1080p) == (2, 30, True, True)
    assert (a.min_participants, a.max_participants, a.host_controls, a.lobby) == (2, 100, True, False)
    assert not p.lobby and p.host_controls
    assert au.min_participants >= 100 and au.stage and au.stream_composite
    assert t.max_participants == 1 and t.self_view and t.test_tune
    assert not any(x.allow_1080p for x in (a, p, au, t))


def test_a_service_defines_its_own_type_from_json():
    p = RoomPolicy.from_json('{"name": "family-meeting", "min_participants": 2, "max_participants": 8, "lobby": true}')
    assert p == RoomPolicy("family-meeting", 2, 8, lobby=True)
    assert policy_for({"name": "x", "min_participants": 1, "max_participants": 3}).max_participants == 3


def test_a_type_can_start_from_a_seed():
    p = RoomPolicy.from_dict({"base": "sensitive", "max_participants": 12})
    assert p == RoomPolicy("sensitive", 2, 12, lobby=True, host_controls=True, allow_1080p=True, guests_present=False)
    assert RoomPolicy.from_dict({"base": "sensitive", "name": "psych"}).name == "psych"


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "x", "min_participants": 2, "max_participants": 8, "lobbby": True}, r"unknown room policy keys \['lobbby'\]"),
        ({"name": "x", "min_participants": 9, "max_participants": 8}, r"min_participants \(9\) > max_participants \(8\)"),
        ({"name": "x", "min_participants": 2, "max_participants": "8"}, "max_participants must be int, got str"),
        ({"name": "x", "min_participants": 2, "max_participants": True}, "max_participants must be int, got bool"),
        ({"name": "x", "min_participants": 2, "max_participants": 8, "lobby": 1}, "lobby must be bool, got int"),
        ({"name": "x", "min_participants": 0, "max_participants": 8}, "min_participants must be an integer in 1"),
        ({"name": "x", "min_participants": 1, "max_participants": MAX_ROOM_SIZE + 1}, "max_participants must be"),
        ({"name": "", "min_participants": 1, "max_participants": 2}, "name must be a non-empty"),
        ({"name": "x"}, r"missing \['min_participants', 'max_participants'\]"),
        ({"base": "party", "max_participants": 8}, "base must be one of"),
        ([("name", "x")], "must be a mapping"),
    ],
)
def test_bad_policies_are_clear_errors(spec, message):
    with pytest.raises(InvalidInputError, match=message):
        RoomPolicy.from_dict(spec)


def test_every_problem_is_named_at_once():
    with pytest.raises(InvalidInputError, match="min_participants must be int.*lobby must be bool"):
        RoomPolicy.from_dict({"name": "x", "min_participants": 2.0, "max_participants": 8, "lobby": "yes"})


def test_bad_json_and_unknown_types_are_clear_errors():
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        RoomPolicy.from_json("{name: x}")
    with pytest.raises(InvalidInputError, match="unknown room type 'clinic'; choose one of"):
        policy_for("clinic")
    with pytest.raises(InvalidInputError, match="unknown room type"):
        policy_for(42)


def test_direct_construction_is_checked_too():
    with pytest.raises(InvalidInputError, match="min_participants"):
        RoomPolicy("x", 5, 2)


@given(
    lo=st.integers(1, MAX_ROOM_SIZE), hi=st.integers(1, MAX_ROOM_SIZE),
    flags=st.fixed_dictionaries({k: st.booleans() for k in
                                 ("lobby", "host_controls", "allow_1080p", "stage", "stream_composite", "self_view", "test_tune",
                                  "guests_present")}),
)
def test_policies_round_trip_through_json_or_are_refused(lo, hi, flags):
    spec = {"name": "svc", "min_participants": lo, "max_participants": hi, **flags}
    if lo > hi:
        with pytest.raises(InvalidInputError, match="min_participants"):
            RoomPolicy.from_dict(spec)
        return
    p = RoomPolicy.from_json(json.dumps(spec))
    assert p.to_dict() == spec and RoomPolicy.from_dict(p.to_dict()) == p
