"""A clock the tests move by hand (PIN backoffs and lockouts, rejoin windows)."""


class ManualClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t
