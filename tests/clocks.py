"""The tests' one clock: it moves only when a test says so, so nothing sleeps and nothing races."""

from __future__ import annotations

from datetime import datetime, timedelta


class ManualClock[T: (float, datetime)]:
    """Reads ``start`` until a test moves it. On seconds it stands in for ``time.monotonic`` (deadlines, the
    fake provider's jobs); on datetimes, for ``utc_now`` (the workflow's wall clock)."""

    def __init__(self, start: T) -> None:
        self.now = start

    def __call__(self) -> T:
        return self.now

    def advance(self, seconds: float) -> None:
        if isinstance(self.now, datetime):
            self.now += timedelta(seconds=seconds)
        else:
            self.now += seconds
