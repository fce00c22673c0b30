"""Room PINs: which role a PIN opens, and how many wrong guesses anyone gets.

The seeds and Pexip use numeric PINs of 4-20 digits: a host PIN (the clinician's, sent by
SMS) and optionally a guest PIN, which must differ. Only salted scrypt hashes are kept, and
a guess is checked against every PIN the room has with a constant-time comparison, so
neither the time taken nor the memory kept says anything about the PINs.

A four-digit PIN is only as strong as the limit on guessing it. Wrong PINs are limited
per caller (exponential backoff, then a lockout) and per room (a lockout once the room as
a whole has seen too many, so an attacker cannot escape the caller limit by rejoining
under new ids). While locked out nothing is compared at all, not even a correct PIN.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import NoReturn
from dataclasses import dataclass, field

from vmedia.errors import InvalidInputError, PermissionDenied

PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 20
HOST = "host"
GUEST = "guest"


def check_pin(pin: object, what: str = "PIN") -> str:
    """`pin` if it is 4-20 ASCII digits; otherwise an InvalidInputError that never echoes it."""
    if not isinstance(pin, str):
        # an int would lose leading zeros ("0042" -> 42), so PINs are strings only
        raise InvalidInputError(f"{what} must be a string of {PIN_MIN_DIGITS}-{PIN_MAX_DIGITS} digits, got {type(pin).__name__}")
    if not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS:
        raise InvalidInputError(f"{what} must have {PIN_MIN_DIGITS}-{PIN_MAX_DIGITS} digits, got {len(pin)}")
    if not (pin.isascii() and pin.isdigit()):
        raise InvalidInputError(f"{what} must contain digits 0-9 only")
    return pin


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's work factors. The default costs ~45 ms and 16 MiB per hash on one core;
    tests may choose a cheaper one (n >= 2**10)."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.n, int) and self.n >= 2**10 and self.n & (self.n - 1) == 0):
            raise InvalidInputError(f"scrypt n must be a power of two >= 1024, got {self.n!r}")
        if not (isinstance(self.r, int) and isinstance(self.p, int) and self.r >= 1 and self.p >= 1):
            raise InvalidInputError(f"scrypt r and p must be integers >= 1, got r={self.r!r} p={self.p!r}")


@dataclass(frozen=True, repr=False)
class HashedPin:
    """A salted scrypt hash of one PIN; the PIN itself is not kept."""

    salt: bytes
    digest: bytes
    cost: ScryptCost

    @classmethod
    def of(cls, pin: str, cost: ScryptCost = ScryptCost()) -> HashedPin:
        salt = os.urandom(16)
        return cls(salt, _scrypt(pin, salt, cost), cost)

    def matches(self, pin: str) -> bool:
        return hmac.compare_digest(_scrypt(pin, self.salt, self.cost), self.digest)

    def __repr__(self) -> str:
        return "HashedPin(<hidden>)"


def _scrypt(pin: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=cost.n, r=cost.r, p=cost.p, dklen=32, maxmem=256 * cost.r * cost.n)


@dataclass(frozen=True)
class PinLimits:
    """How many wrong PINs are tolerated, and for how long they are remembered."""

    backoff_s: float = 1.0  # a caller waits this long after its first wrong PIN; doubles after each further one
    max_backoff_s: float = 30.0
    caller_attempts: int = 5  # wrong PINs from one caller before that caller is locked out
    room_attempts: int = 20  # wrong PINs from anyone before PIN entry to the room is locked
    lockout_s: float = 300.0
    window_s: float = 900.0  # wrong PINs older than this are forgotten
    max_callers: int = 10_000  # callers remembered at once; the oldest are forgotten first

    def __post_init__(self) -> None:
        for name in ("backoff_s", "max_backoff_s", "lockout_s", "window_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
                raise InvalidInputError(f"PinLimits.{name} must be a finite number of seconds >= 0, got {v!r}")
        for name in ("caller_attempts", "room_attempts", "max_callers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidInputError(f"PinLimits.{name} must be an integer >= 1, got {v!r}")
        if self.max_backoff_s < self.backoff_s:
            raise InvalidInputError(f"PinLimits.max_backoff_s ({self.max_backoff_s}) is below backoff_s ({self.backoff_s})")


class PinRefused(PermissionDenied):
    """A PIN did not open the room. `reason` is one of:

    - ``wrong_pin``: it matched no PIN (`locked_out` is True if this failure started a lockout);
    - ``pin_required``: the room needs a PIN and none was given (not counted as a guess);
    - ``backoff``: the caller must wait `retry_after_s` before guessing again;
    - ``locked_out``: the caller or the whole room is locked out for `retry_after_s`.
    """

    def __init__(self, message: str, reason: str, *, retry_after_s: float = 0.0, locked_out: bool = False, scope: str = "caller"):
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.locked_out = locked_out
        self.scope = scope  # "caller" or "room": whose limit refused it


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)  # when the remembered wrong PINs came
    not_before: float = float("-inf")  # backoff: no guess is looked at before this
    locked_until: float = float("-inf")

    def forget_before(self, t: float) -> None:
        while self.times and self.times[0] < t:
            self.times.popleft()


@dataclass(frozen=True)
class PinGateState:
    """What a PinGate carries across a restart (vmedia.rooms.snapshot): its hashes, its
    limits, and the lockouts and room-wide wrong guesses still in force. Monotonic clocks
    do not survive a process, so times are relative to when the state was taken.

    A caller's backoff and its count of wrong PINs short of a lockout are not carried
    (there may be 10 000 callers); the room-wide count is, so the total number of guesses
    stays bounded across restarts."""

    pins: tuple[tuple[str, HashedPin], ...]  # (role, hash), host first
    limits: PinLimits
    room_locked_for_s: float = 0.0  # PIN entry to the room is locked this much longer
    room_failures_ago_s: tuple[float, ...] = ()  # the room's remembered wrong PINs, seconds ago
    callers_locked_for_s: Mapping[str, float] = field(default_factory=dict)  # callers locked out, and for how much longer


class PinGate:
    """The PINs of one room and the limits on guessing them.

    Without PINs it admits everyone in the role they ask for (a room without PINs behaves as
    before PINs existed). With a host PIN only, callers without a PIN are guests (Pexip's
    "allow guests" with no guest PIN). With both, every caller needs one of them.
    """

    def __init__(
        self,
        host_pin: str | None = None,
        guest_pin: str | None = None,
        *,
        limits: PinLimits = PinLimits(),
        cost: ScryptCost = ScryptCost(),
        clock: Callable[[], float] = time.monotonic,
    ):
        if host_pin is not None:
            check_pin(host_pin, "host PIN")
        if guest_pin is not None:
            check_pin(guest_pin, "guest PIN")
            if host_pin is None:
                raise InvalidInputError("a guest PIN needs a host PIN (otherwise anyone could join as host)")
            if hmac.compare_digest(host_pin, guest_pin):
                raise InvalidInputError("the host PIN and the guest PIN must differ")
        if not isinstance(limits, PinLimits):
            raise InvalidInputError(f"limits must be a PinLimits, got {type(limits).__name__}")
        self.limits = limits
        self._clock = clock
        self._pins: list[tuple[str, HashedPin]] = []
        if host_pin is not None:
            self._pins.append((HOST, HashedPin.of(host_pin, cost)))
        if guest_pin is not None:
            self._pins.append((GUEST, HashedPin.of(guest_pin, cost)))
        self._callers: OrderedDict[str, _Failures] = OrderedDict()
        self._room = _Failures()
        # One check at a time: two guesses racing each other must both be counted.
        self._lock = threading.Lock()

    @classmethod
    def from_state(cls, state: PinGateState, *, clock: Callable[[], float] = time.monotonic) -> PinGate:
        """The gate `state` describes, on `clock`: the same hashes (no scrypt work), the
        same limits, the lockouts and the room's wrong guesses still in force."""
        roles = [role for role, _ in state.pins]
        if roles not in ([], [HOST], [HOST, GUEST]):
            raise InvalidInputError(f"PINs must be none, a host PIN, or a host and a guest PIN; got roles {roles}")
        if len({h.cost for _, h in state.pins}) > 1:
            raise InvalidInputError("the PINs of one room share one scrypt cost")
        gate = cls(limits=state.limits, clock=clock)
        gate._pins = list(state.pins)
        now = clock()
        gate._room.locked_until = now + state.room_locked_for_s if state.room_locked_for_s > 0 else float("-inf")
        gate._room.times.extend(sorted(now - ago for ago in state.room_failures_ago_s))
        for caller, locked_for in state.callers_locked_for_s.items():
            gate._callers[caller] = _Failures(locked_until=now + locked_for)
        return gate

    def state(self) -> PinGateState:
        """What to carry across a restart (cheap: no hashing)."""
        with self._lock:
            now = self._clock()
            lim = self.limits

            def remaining(until: float) -> float:  # clamped: a clock stepped back must not make a state from_state refuses
                return min(max(0.0, until - now), lim.lockout_s)

            return PinGateState(
                tuple(self._pins),
                lim,
                remaining(self._room.locked_until),
                tuple(min(max(0.0, now - t), lim.window_s) for t in self._room.times if t >= now - lim.window_s),
                {caller: remaining(f.locked_until) for caller, f in self._callers.items() if f.locked_until > now},
            )

    @property
    def enabled(self) -> bool:
        return bool(self._pins)

    @property
    def guests_need_pin(self) -> bool:
        return len(self._pins) == 2

    def role_for(self, caller: str, pin: str | None) -> str | None:
        """The role `pin` opens for `caller`: "host" or "guest"; None when the room has no
        PINs (the caller's requested role stands). Raises InvalidInputError for a malformed
        PIN (not counted as a guess) and PinRefused (a PermissionDenied) otherwise."""
        if pin is not None:
            check_pin(pin)
        if not self._pins:
            return None
        if pin is None:
            if not self.guests_need_pin:
                return GUEST
            raise PinRefused("this room needs a PIN", "pin_required")
        with self._lock:
            now = self._clock()
            self._refuse_if_limited(caller, now)
            # Check every PIN, whichever matches: the time taken does not depend on which did.
            matched = [role for role, hashed in self._pins if hashed.matches(pin)]
            if matched:
                self._callers.pop(caller, None)  # the caller knows a PIN: its past mistakes are forgiven
                return matched[0]
            self._fail(caller, now)

    def retry_after(self, caller: str) -> float:
        """Seconds until `caller` may guess again (0 if it may now)."""
        with self._lock:
            now = self._clock()
            f = self._callers.get(caller)
            waits = [self._room.locked_until - now]
            if f is not None:
                waits += [f.locked_until - now, f.not_before - now]
            return max(0.0, *waits)

    def _refuse_if_limited(self, caller: str, now: float) -> None:
        if now < self._room.locked_until:
            wait = self._room.locked_until - now
            raise PinRefused(f"PIN entry to this room is locked for {wait:.0f} s after too many wrong PINs", "locked_out",
                             retry_after_s=wait, scope="room")
        f = self._callers.get(caller)
        if f is None:
            return
        if now < f.locked_until:
            wait = f.locked_until - now
            raise PinRefused(f"{caller!r} is locked out for {wait:.0f} s after too many wrong PINs", "locked_out",
                             retry_after_s=wait)
        if now < f.not_before:
            wait = f.not_before - now
            raise PinRefused(f"too many wrong PINs from {caller!r}; try again in {wait:.1f} s", "backoff", retry_after_s=wait)

    def _fail(self, caller: str, now: float) -> NoReturn:
        lim = self.limits
        f = self._callers.pop(caller, None) or _Failures()
        self._callers[caller] = f  # most recently failed last, so the oldest are evicted first
        while len(self._callers) > lim.max_callers:
            self._callers.popitem(last=False)
        for rec in (f, self._room):
            rec.forget_before(now - lim.window_s)
            rec.times.append(now)
        if len(self._room.times) >= lim.room_attempts:
            self._room.locked_until = now + lim.lockout_s
            self._room.times.clear()
            raise PinRefused(f"wrong PIN; PIN entry to this room is locked for {lim.lockout_s:.0f} s", "wrong_pin",
                             retry_after_s=lim.lockout_s, locked_out=True, scope="room")
        if len(f.times) >= lim.caller_attempts:
            f.locked_until = now + lim.lockout_s
            f.times.clear()
            raise PinRefused(f"wrong PIN; {caller!r} is locked out for {lim.lockout_s:.0f} s", "wrong_pin",
                             retry_after_s=lim.lockout_s, locked_out=True)
        wait = min(lim.max_backoff_s, lim.backoff_s * 2 ** (len(f.times) - 1))
        f.not_before = now + wait
        raise PinRefused(f"wrong PIN; try again in {wait:.1f} s", "wrong_pin", retry_after_s=wait)
