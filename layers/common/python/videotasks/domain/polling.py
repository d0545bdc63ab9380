"""The polling policy: how long to wait before the next status call of a provider job.

Pure: the workflow gathers what it knows (seconds since submit, the provider's progress, queue position,
ETA and ``Retry-After``, the model's typical generation time, whether a webhook should wake the task) and
this module answers with a number of seconds. The bench's simulation (``bench/polling.py``) runs this very
code, so its figures are the workflow's.

What drives the answer, in order:

1. A webhook is expected: the wait is only its fallback, so it is long (past almost every job of the
   model, ``WEBHOOK_FALLBACK_FACTOR`` times its slow time), clamped at the webhook maximum. A task whose
   webhook arrives costs one status call; one whose webhook is lost is still found by polling.
2. ``Retry-After`` after a 429 is a floor: the provider asked us not to come back earlier.
3. A provider ETA: aim just past it. A queue that moves (a position that fell between two readings): the
   job should start when the queue reaches it, and end a typical generation later; aim just past that.
4. Progress that moves: the slope between readings predicts completion; aim just past it. With a single
   reading the job is assumed to have started at submit, which a second reading corrects.
5. Nothing that moves (no progress, stalled progress, a relay that jumps from 0 to 100): a schedule from
   the model's typical time, first at a fraction of it, then at a shorter fraction of it; past the model's
   slow time at intervals that grow with the time already spent, so an outlier or a stuck job is polled
   less and less often (up to the maximum), never more often than the minimum.
6. Nothing known at all (no typical time for the model): the fixed interval, as before.

Every delay is clamped between the minimum and the maximum; the task's deadline is the workflow's business
(``lifecycle.next_wait_seconds``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

# The first status call, when nothing moves yet, comes at this share of the typical time: on a job whose
# progress starts at submit, one reading there predicts the end well enough to aim the second call at it.
FIRST_POLL_FRACTION = 1 / 3
# Without moving progress, the interval is this share of the typical time, or of the time spent once that is
# past the slow time.
NO_HINT_FRACTION = 1 / 7
# Progress whose latest pace fell below this share of the pace before it is stalling: no prediction.
SLOWING_SHARE = 0.5
# How far past a predicted end to aim: a share of the time still to go, and at least this many seconds.
AIM_PAST_SHARE = 0.04
AIM_PAST_SECONDS = 1.0
# With a webhook expected, the first fallback poll comes at this multiple of the model's slow time.
WEBHOOK_FALLBACK_FACTOR = 1.25
# A catalog's typical time is a median guess; without learned times, a slow job takes this multiple of it.
PRIOR_SLOW_FACTOR = 1.6
# Learned times replace the catalog's once this many tasks of the model have completed.
MIN_LEARNED = 5
# The readings kept between polls: enough for a slope over a recent baseline, small in the state's payload.
KEPT_SAMPLES = 3
# A Retry-After beyond this is not believed (a provider's mistake would otherwise park the task).
MAX_RETRY_AFTER_SECONDS = 3600

# Upper bounds (seconds) of the learned histogram's buckets: geometric, 20% apart, from 5 s to about 3 h.
DURATION_BUCKETS: tuple[float, ...] = tuple(round(5 * 1.2**index, 1) for index in range(37))


@dataclass(frozen=True)
class Limits:
    """The clamps, from settings. ``unknown_seconds`` is the fixed interval used when nothing is known."""

    min_seconds: int
    max_seconds: int
    webhook_max_seconds: int
    unknown_seconds: int


@dataclass(frozen=True)
class Typical:
    """A model's generation time: its median and its slow (90th percentile) time, in seconds."""

    median: float
    slow: float
    learned_from: int = 0  # completed tasks behind it; 0 is the catalog's guess

    @classmethod
    def prior(cls, typical_seconds: float | None) -> Typical | None:
        if not typical_seconds or typical_seconds <= 0:
            return None
        return cls(float(typical_seconds), float(typical_seconds) * PRIOR_SLOW_FACTOR)


@dataclass(frozen=True)
class Sample:
    """One progress reading: seconds since submit, progress percent."""

    elapsed: float
    progress: int


@dataclass(frozen=True)
class Observation:
    """What the latest status call said (or could not say: a 429's ``retry_after``)."""

    elapsed: float
    progress: int | None = None
    queue_position: int | None = None
    eta_seconds: float | None = None  # seconds from now until the provider expects the job done
    retry_after: float | None = None


@dataclass(frozen=True)
class PollState:
    """What the policy carries from one poll to the next (in the state machine's payload)."""

    samples: tuple[Sample, ...] = ()
    typical: Typical | None = None
    await_webhook: bool = False
    polls: int = 0
    queue: tuple[Sample, ...] = ()  # the last two queue positions read (``progress`` holds the position)

    def observe(self, observation: Observation) -> PollState:
        """The state after a status call. A reading equal to the last one is kept too: that is a stall."""
        samples = self.samples
        if observation.progress is not None:
            progress = max(observation.progress, samples[-1].progress if samples else 0)
            samples = (*samples, Sample(observation.elapsed, min(100, max(0, progress))))[-KEPT_SAMPLES:]
        queue = self.queue
        if observation.queue_position is not None:
            queue = (*queue, Sample(observation.elapsed, max(0, observation.queue_position)))[-2:]
        return replace(self, samples=samples, polls=self.polls + 1, queue=queue)

    # The payload's form: short keys, plain JSON.
    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"polls": self.polls, "samples": [[s.elapsed, s.progress] for s in self.samples]}
        if self.typical is not None:
            wire["typical"] = [self.typical.median, self.typical.slow, self.typical.learned_from]
        if self.queue:
            wire["queue"] = [[s.elapsed, s.progress] for s in self.queue]
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any] | None, *, await_webhook: bool = False) -> PollState:
        """The state a payload carries; anything malformed is dropped (the policy then knows less)."""
        if not isinstance(wire, Mapping):
            return cls(await_webhook=await_webhook)
        try:
            samples = tuple(Sample(float(t), int(p)) for t, p in wire.get("samples") or ())[-KEPT_SAMPLES:]
        except (TypeError, ValueError):
            samples = ()
        try:
            queue = tuple(Sample(float(t), int(p)) for t, p in wire.get("queue") or ())[-2:]
        except (TypeError, ValueError):
            queue = ()
        typical = None
        raw = wire.get("typical")
        if isinstance(raw, Sequence) and len(raw) == 3:
            try:
                median, slow, learned = float(raw[0]), float(raw[1]), int(raw[2])
                typical = Typical(median, max(slow, median), learned) if median > 0 else None
            except (TypeError, ValueError):
                typical = None
        polls = wire.get("polls")
        return cls(samples, typical, await_webhook, polls if isinstance(polls, int) and polls >= 0 else 0, queue)


# -- the delay ---------------------------------------------------------------------------------------


def next_delay(state: PollState, elapsed: float, limits: Limits, observation: Observation | None = None) -> int:
    """Whole seconds to wait, ``elapsed`` seconds after submit, with ``state`` already holding
    ``observation`` (the status call just made, if any)."""
    seconds = _adaptive(state, elapsed, limits, observation)
    ceiling = limits.max_seconds
    if state.await_webhook:
        ceiling = max(limits.webhook_max_seconds, limits.min_seconds)
        if state.typical is not None:
            fallback_at = WEBHOOK_FALLBACK_FACTOR * state.typical.slow
            seconds = max(seconds, fallback_at - elapsed)
    if observation is not None and observation.retry_after:
        retry_after = min(observation.retry_after, MAX_RETRY_AFTER_SECONDS)
        seconds = max(seconds, retry_after)
        ceiling = max(ceiling, math.ceil(retry_after))
    return clamp(math.ceil(seconds), limits.min_seconds, ceiling)


def clamp(seconds: int, low: int, high: int) -> int:
    return max(low, min(high, seconds))


def _adaptive(state: PollState, elapsed: float, limits: Limits, observation: Observation | None) -> float:
    if observation is not None and observation.eta_seconds is not None and observation.eta_seconds >= 0:
        return _aim(observation.eta_seconds)
    starts = predicted_start(state.queue) if observation is not None and observation.queue_position else None
    if starts is not None and state.typical is not None:
        return _aim(starts + state.typical.median - elapsed)
    predicted = predicted_end(state.samples)
    if predicted is not None:
        return _aim(predicted - elapsed)
    typical = state.typical
    if typical is None:
        return limits.unknown_seconds
    if state.polls == 0:
        return FIRST_POLL_FRACTION * typical.median - elapsed
    # Past the model's slow time the job is an outlier (or stuck): back off in proportion to its age.
    return NO_HINT_FRACTION * (elapsed if elapsed > typical.slow else typical.median)


def predicted_start(queue: Sequence[Sample]) -> float | None:
    """When a queued job should start, in seconds since submit, from a queue position that fell between the
    last two readings; ``None`` when there are not two, or the queue did not move."""
    if len(queue) < 2:
        return None
    first, last = queue[-2], queue[-1]
    moved, span = first.progress - last.progress, last.elapsed - first.elapsed
    if moved <= 0 or span <= 0:
        return None
    return last.elapsed + last.progress * span / moved


def _aim(remaining: float) -> float:
    """Just past an expected end ``remaining`` seconds away (right away if it has passed)."""
    return max(0.0, remaining) * (1 + AIM_PAST_SHARE) + AIM_PAST_SECONDS


def predicted_end(samples: Sequence[Sample]) -> float | None:
    """When the job should reach 100%, in seconds since submit, from moving progress; ``None`` if the
    progress does not move (no reading, or the last two readings equal: a stall or a relay's 0-then-100)
    or slows down to less than ``SLOWING_SHARE`` of its earlier pace (a stall in the making).

    The slope runs from the oldest kept reading below the latest one; a single reading is read as progress
    since submit. Readings are whole percents, truncated by most providers: the middle of the reading's
    percent is the best single guess."""
    if not samples:
        return None
    last = samples[-1]
    if last.progress >= 100:
        return last.elapsed
    if last.progress <= 0 or (len(samples) >= 2 and samples[-2].progress == last.progress):
        return None
    points = [Sample(0.0, 0), *samples]
    rate = _rate(next((s for s in samples if s.progress < last.progress), points[0]), last)
    if rate is None:
        return None
    if len(points) >= 3:
        earlier, latest = _rate(points[-3], points[-2]), _rate(points[-2], last)
        if earlier and latest is not None and latest < SLOWING_SHARE * earlier:
            return None
    return last.elapsed + (100 - last.progress - 0.5) / rate


def _rate(first: Sample, last: Sample) -> float | None:
    """Percent per second between two readings; the virtual reading at submit (0 s, 0%) is exact."""
    span = last.elapsed - first.elapsed
    if span <= 0:
        return None
    return (last.progress + 0.5 - (first.progress + 0.5 if first.elapsed > 0 else 0.0)) / span


# -- the fixed poller, for comparison ------------------------------------------------------------------


def fixed_delay(interval_seconds: int) -> int:
    """The loop this policy replaces: the same interval whatever is known."""
    return interval_seconds


# -- learned typical times ---------------------------------------------------------------------------


def duration_bucket(seconds: float) -> int:
    """The histogram bucket of a generation time: the first whose upper bound holds it (the last for longer)."""
    return min(bisect.bisect_left(DURATION_BUCKETS, max(0.0, seconds)), len(DURATION_BUCKETS) - 1)


@dataclass(frozen=True)
class Histogram:
    """Completed generation times of one model, counted per ``DURATION_BUCKETS`` bucket."""

    counts: Mapping[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(self, share: float) -> float:
        """The time below which ``share`` of the counted jobs finished, interpolated within its bucket."""
        total = self.total
        if total <= 0:
            raise ValueError("an empty histogram has no quantiles")
        wanted = share * total
        seen = 0
        for index in sorted(self.counts):
            count = self.counts[index]
            if count <= 0:
                continue
            if seen + count >= wanted:
                low = DURATION_BUCKETS[index - 1] if index > 0 else 0.0
                high = DURATION_BUCKETS[index]
                return low + (high - low) * (wanted - seen) / count
            seen += count
        return DURATION_BUCKETS[max(self.counts)]

    def add(self, seconds: float) -> Histogram:
        index = duration_bucket(seconds)
        return Histogram({**self.counts, index: self.counts.get(index, 0) + 1})


def typical_time(histogram: Histogram | None, prior_seconds: float | None) -> Typical | None:
    """The learned times once there are ``MIN_LEARNED`` of them, the catalog's guess before."""
    if histogram is not None and histogram.total >= MIN_LEARNED:
        median = histogram.quantile(0.5)
        return Typical(round(median, 1), round(max(median, histogram.quantile(0.9)), 1), histogram.total)
    return Typical.prior(prior_seconds)
