"""Time budgets: the moment by which a piece of work must have given up.

A step runs inside a Lambda invocation that is killed, without a word, when its timeout passes: the task
would then be left for the state machine to sort out. So each step gets a ``Deadline`` a safety margin
before that moment (``Deadline.of_invocation``), hands it to every provider call, and the provider client
gives up with ``ProviderTransientError`` (PROVIDER_TIMEOUT) while there is still time to record the
outcome. A deadline is a value: the handler makes it, the workflow narrows it (``earliest``, ``minus``),
the client only reads it.

Monotonic time, not wall-clock time: a clock step (NTP) must not stretch or cut a budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

Clock = Callable[[], float]


class InvocationContext(Protocol):
    """What a deadline needs from a Lambda context object."""

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Deadline:
    at: float  # on ``clock``'s scale; ``math.inf`` for no deadline
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    @classmethod
    def of_invocation(cls, context: InvocationContext, *, margin_seconds: float) -> Deadline:
        """The invocation's own end, ``margin_seconds`` early: the margin is the time the step needs after
        its last provider call gave up (a conditional DynamoDB write, the reply to Step Functions)."""
        remaining = context.get_remaining_time_in_millis() / 1000
        return cls.after(max(0.0, remaining - margin_seconds))

    @classmethod
    def none(cls) -> Deadline:
        return cls(math.inf)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def cap(self, seconds: float) -> float:
        """``seconds``, or less when the deadline comes sooner: the timeout to give one blocking call."""
        return min(seconds, self.remaining())

    def minus(self, seconds: float) -> Deadline:
        """``seconds`` earlier: leaves that much of the budget for the work after a call."""
        return Deadline(self.at - seconds, self.clock)

    def earliest(self, seconds_from_now: float) -> Deadline:
        """This deadline, or ``seconds_from_now`` if that comes first."""
        return Deadline(min(self.at, self.clock() + seconds_from_now), self.clock)
