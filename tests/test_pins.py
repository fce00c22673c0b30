"""Room PINs: the rules, the hashes, constant-time checks and the limits on guessing."""

import hmac
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manual_clock import ManualClock
from vmedia.errors import InvalidInputError, PermissionDenied
from vmedia.rooms import pins
from vmedia.rooms.pins import HashedPin, PinGate, PinLimits, PinRefused, ScryptCost, check_pin

CHEAP = ScryptCost(n=2**10)  # the default (2**14) is for production; the logic is the same



def gate(host="1234", guest="5678", limits=PinLimits(), clock=None):
    return PinGate(host, guest, limits=limits, cost=CHEAP, clock=clock or ManualClock())


@pytest.mark.parametrize(
    "pin, message",
    [("123", "4-20 digits, got 3"), ("1" * 21, "got 21"), ("12a4", "digits 0-9"), ("12 34", "digits 0-9"),
     ("١٢٣٤", "digits 0-9"), ("", "digits, got 0"), (1234, "got int"), (None, "got NoneType")],
)
def test_malformed_pins_are_invalid_input_and_never_echoed(pin, message):
    with pytest.raises(InvalidInputError, match=message) as e:
        check_pin(pin)
    assert not isinstance(pin, str) or len(pin) < 2 or pin not in str(e.value)


@given(st.text(alphabet="0123456789", min_size=4, max_size=20))
def test_every_pin_of_4_to_20_digits_is_accepted(pin):
    assert check_pin(pin) == pin


def test_leading_zeros_are_part_of_the_pin():
    g = gate(host="0042", guest=None)
    assert g.role_for("a", "0042") == "host"
    with pytest.raises(PinRefused):
        g.role_for("b", "42000")


def test_host_pin_equal_to_guest_pin_is_refused():
    with pytest.raises(InvalidInputError, match="must differ"):
        PinGate("123456", "123456", cost=CHEAP)


def test_a_guest_pin_without_a_host_pin_is_refused():
    with pytest.raises(InvalidInputError, match="needs a host PIN"):
        PinGate(None, "1234", cost=CHEAP)


def test_pins_are_kept_only_as_salted_scrypt_hashes():
    a, b = HashedPin.of("123456", CHEAP), HashedPin.of("123456", CHEAP)
    assert a.salt != b.salt and a.digest != b.digest  # salted: the same PIN hashes differently
    assert b"123456" not in a.digest and "123456" not in repr(a)
    g = gate(host="246813", guest="135792")
    kept = repr(vars(g)) + repr([vars(h) for _, h in g._pins])
    assert "246813" not in kept and "135792" not in kept
    assert a.matches("123456") and not a.matches("123457")


def test_guesses_are_compared_in_constant_time_against_every_pin(monkeypatch):
    calls = []
    compare = hmac.compare_digest

    def spy(a, b):
        calls.append((type(a), len(a), len(b)))
        return compare(a, b)

    g = gate()
    monkeypatch.setattr(pins.hmac, "compare_digest", spy)
    assert g.role_for("a", "1234") == "host"
    # both PINs were compared although the first matched: the time does not say which role it was
    assert calls == [(bytes, 32, 32), (bytes, 32, 32)]


def test_pins_open_their_role():
    g = gate()
    assert g.role_for("doc", "1234") == "host"
    assert g.role_for("pat", "5678") == "guest"
    with pytest.raises(PinRefused, match="needs a PIN") as e:
        g.role_for("nobody", None)
    assert e.value.reason == "pin_required" and isinstance(e.value, PermissionDenied)


def test_host_pin_only_lets_guests_in_without_a_pin():
    g = gate(guest=None)
    assert g.role_for("pat", None) == "guest"
    assert g.role_for("doc", "1234") == "host"
    with pytest.raises(PinRefused, match="wrong PIN"):
        g.role_for("x", "9999")


def test_a_room_without_pins_decides_nothing():
    g = PinGate()
    assert not g.enabled and g.role_for("a", None) is None
    with pytest.raises(InvalidInputError):
        g.role_for("a", "12")  # still malformed


def test_wrong_pins_back_off_exponentially_then_lock_the_caller_out():
    clock = ManualClock()
    g = gate(limits=PinLimits(backoff_s=1, max_backoff_s=30, caller_attempts=4, lockout_s=300), clock=clock)
    waits = []
    for _ in range(3):
        with pytest.raises(PinRefused) as e:
            g.role_for("mallory", "0000")
        assert e.value.reason == "wrong_pin" and not e.value.locked_out
        waits.append(e.value.retry_after_s)
        # guessing during the backoff is refused without looking at the PIN: the right one too
        with pytest.raises(PinRefused, match="try again") as e:
            g.role_for("mallory", "1234")
        assert e.value.reason == "backoff"
        clock.t += e.value.retry_after_s
    assert waits == [1, 2, 4]
    with pytest.raises(PinRefused, match="locked out for 300 s") as e:
        g.role_for("mallory", "0000")
    assert e.value.locked_out and e.value.reason == "wrong_pin"
    clock.t += 299
    with pytest.raises(PinRefused) as e:
        g.role_for("mallory", "1234")
    assert e.value.reason == "locked_out" and e.value.retry_after_s == pytest.approx(1)
    assert g.role_for("alice", "5678") == "guest"  # others are not affected
    clock.t += 1
    assert g.role_for("mallory", "1234") == "host"  # the lockout ends


def test_backoff_is_capped():
    clock = ManualClock()
    g = gate(limits=PinLimits(backoff_s=1, max_backoff_s=5, caller_attempts=10), clock=clock)
    waits = []
    for _ in range(6):
        with pytest.raises(PinRefused) as e:
            g.role_for("m", "0000")
        waits.append(e.value.retry_after_s)
        clock.t += e.value.retry_after_s
    assert waits == [1, 2, 4, 5, 5, 5]


def test_the_room_locks_pin_entry_when_many_callers_guess():
    clock = ManualClock()
    g = gate(limits=PinLimits(caller_attempts=3, room_attempts=5, lockout_s=60), clock=clock)
    for i in range(4):
        with pytest.raises(PinRefused) as e:
            g.role_for(f"bot{i}", "0000")  # a new id per guess escapes the caller limit...
        assert not e.value.locked_out
    with pytest.raises(PinRefused, match="room is locked") as e:
        g.role_for("bot4", "0000")
    assert e.value.locked_out and e.value.scope == "room"
    with pytest.raises(PinRefused) as e:  # ...but not the room's: no PIN is checked while locked
        g.role_for("doc", "1234")
    assert e.value.reason == "locked_out" and e.value.scope == "room"
    clock.t += 60
    assert g.role_for("doc", "1234") == "host"


def test_old_mistakes_are_forgotten_and_a_right_pin_forgives_the_caller():
    clock = ManualClock()
    g = gate(limits=PinLimits(backoff_s=1, caller_attempts=3, window_s=100), clock=clock)
    for _ in range(2):
        with pytest.raises(PinRefused):
            g.role_for("a", "0000")
        clock.t += 101  # outside the window
    with pytest.raises(PinRefused) as e:
        g.role_for("a", "0000")
    assert not e.value.locked_out and e.value.retry_after_s == 1  # counted as a first mistake
    clock.t += 1
    assert g.role_for("a", "5678") == "guest"
    assert g.retry_after("a") == 0


def test_remembered_callers_are_bounded():
    clock = ManualClock()
    g = gate(limits=PinLimits(room_attempts=10**6, max_callers=20), clock=clock)
    for i in range(60):
        with pytest.raises(PinRefused):
            g.role_for(f"id{i}", "0000")
    assert len(g._callers) == 20 and "id59" in g._callers and "id0" not in g._callers


def test_malformed_guesses_are_not_counted():
    g = gate(limits=PinLimits(caller_attempts=1))
    for _ in range(5):
        with pytest.raises(InvalidInputError):
            g.role_for("a", "12")
    assert g.role_for("a", "1234") == "host"


@pytest.mark.parametrize("bad", [dict(backoff_s=-1), dict(caller_attempts=0), dict(lockout_s=float("nan")),
                                 dict(room_attempts=True), dict(backoff_s=10, max_backoff_s=1)])
def test_bad_limits_are_refused(bad):
    with pytest.raises(InvalidInputError, match="PinLimits"):
        PinLimits(**bad)


@settings(max_examples=25, deadline=None)
@given(host=st.text("0123456789", min_size=4, max_size=20), guess=st.text("0123456789", min_size=4, max_size=20))
def test_only_the_exact_pin_opens_the_room(host, guess):
    g = PinGate(host, limits=PinLimits(backoff_s=0, room_attempts=10**6, caller_attempts=10**6), cost=CHEAP)
    if guess == host:
        assert g.role_for("x", guess) == "host"
    else:
        with pytest.raises(PinRefused):
            g.role_for("x", guess)


def test_racing_guesses_are_all_counted():
    g = gate(limits=PinLimits(backoff_s=0, caller_attempts=3))
    reasons = []

    def guess():
        try:
            g.role_for("m", "0000")
        except PinRefused as e:
            reasons.append(e.reason)

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(reasons) == ["locked_out"] * 7 + ["wrong_pin"] * 3  # only three PINs were ever compared
