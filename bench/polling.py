"""`make bench`, polling: the fixed 30 s loop against the adaptive policy, on synthetic provider jobs.

Each mix draws jobs (a generation time and how the provider reports progress), and each design polls them
through the same pure code the workflow runs (``videotasks.domain.polling``). For every mix and design it
prints status calls per task, mean and p95 detection delay (seconds from the media being ready to the poll
that sees it) and state transitions per task, each as a ratio to the fixed poller on the same mix, then
PASS/MISS against the issue's targets. Deterministic (seeded), a few thousand jobs per mix, seconds to run.

``simulate()`` returns the figures as data, for the cost model.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from videotasks.domain.polling import (
    Histogram,
    Limits,
    Observation,
    PollState,
    fixed_delay,
    next_delay,
    typical_time,
)

FIXED_SECONDS = 30
# The cloud's defaults (template.yaml): PollMinSeconds, PollMaxSeconds, PollWebhookMaxSeconds, PollIntervalSeconds.
CLOUD_LIMITS = Limits(min_seconds=5, max_seconds=120, webhook_max_seconds=900, unknown_seconds=FIXED_SECONDS)
PRIOR_TYPICAL_SECONDS = 120  # what the catalog says before anything is learned
JOBS_PER_MIX = 4000
SEED = 20260
WEBHOOK_LATENCY = (0.2, 1.0)  # seconds from ready to the webhook waking the execution
WEBHOOK_DROP_SHARE = 0.05
GIVE_UP_SECONDS = 4 * 3600  # a simulated job that is never seen done is a bug in the policy, not a figure

# The targets on the uniform mix.
TARGET_CALLS_NO_WEBHOOK = 2.6
TARGET_MEAN_DELAY_NO_WEBHOOK = 7.5
TARGET_CALLS_WEBHOOK = 1.2
TARGET_MEAN_DELAY_WEBHOOK = 2.0


def state_transitions(polls: int, *, states_per_loop: int = 3) -> int:
    """Step Functions transitions of one task that polled ``polls`` times: Submit and AfterSubmit, then per
    poll the wait (a Wait state, or the callback Task state that a webhook ends) + Poll + AfterPoll, then
    Archive and Done. ``states_per_loop`` is the loop's length if the wait gains a Choice in front of it."""
    return 4 + states_per_loop * polls


@dataclass(frozen=True)
class Job:
    """A synthetic provider job: ready ``seconds`` after submit; ``progress(t)`` is what a status call
    at ``t`` reports (``None``: the provider reports none)."""

    seconds: float
    progress: Callable[[float], int | None]


# -- mixes -------------------------------------------------------------------------------------------


def _linear(seconds: float, noise: random.Random | None = None, queued: float = 0.0) -> Callable[[float], int | None]:
    def progress(t: float) -> int:
        if t >= seconds:
            return 100
        share = max(0.0, t - queued) / max(1e-9, seconds - queued)
        jitter = noise.gauss(0, 1.0) if noise else 0.0
        return max(0, min(99, int(100 * share + jitter)))

    return progress


def _stalled(seconds: float, rng: random.Random) -> Callable[[float], int | None]:
    """Moves as if to finish at 30-50% of its time, stops at 50-90%, then jumps to 100 when ready."""
    stall_at = rng.randint(50, 90)
    reached = seconds * rng.uniform(0.3, 0.5)

    def progress(t: float) -> int:
        if t >= seconds:
            return 100
        return min(stall_at, int(stall_at * t / reached))

    return progress


def _jump(seconds: float) -> Callable[[float], int | None]:
    return lambda t: 100 if t >= seconds else 0


def mixes() -> dict[str, Callable[[random.Random], Job]]:
    """Each mix's job generator."""

    def uniform(rng: random.Random) -> Job:
        seconds = rng.uniform(60, 300)
        return Job(seconds, _linear(seconds))

    def lognormal(rng: random.Random) -> Job:
        # Median 120 s, a heavy right tail (p99 about 8 min); progress slightly noisy, after a short queue.
        seconds = min(3600.0, max(15.0, rng.lognormvariate(math.log(120), 0.6)))
        return Job(seconds, _linear(seconds, noise=random.Random(rng.random()), queued=rng.uniform(0, 10)))

    def stalled(rng: random.Random) -> Job:
        seconds = rng.uniform(60, 300)
        return Job(seconds, _stalled(seconds, rng))

    def relay_jump(rng: random.Random) -> Job:
        seconds = rng.uniform(60, 300)
        return Job(seconds, _jump(seconds))

    return {
        "uniform 60-300 s": uniform,
        "lognormal": lognormal,
        "stalled progress": stalled,
        "relay 0->100": relay_jump,
    }


# -- designs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    calls: int
    delay: float


def run_fixed(job: Job, interval: int = FIXED_SECONDS) -> Outcome:
    t = 0.0
    calls = 0
    while True:
        t += fixed_delay(interval)
        calls += 1
        if t >= job.seconds:
            return Outcome(calls, t - job.seconds)


def run_adaptive(
    job: Job,
    state: PollState,
    limits: Limits = CLOUD_LIMITS,
    *,
    webhook_at: float | None = None,
) -> Outcome:
    """Poll ``job`` as the workflow does: the delay from Submit, then after each status call.
    ``webhook_at``: when a webhook wakes the wait (``None``: no webhook, or it was lost)."""
    t = 0.0
    calls = 0
    delay = next_delay(state, t, limits)
    while t < GIVE_UP_SECONDS:
        wake = t + delay
        if webhook_at is not None and t < webhook_at < wake:
            wake = webhook_at
        t = wake
        calls += 1
        observation = Observation(elapsed=t, progress=job.progress(t))
        if t >= job.seconds:
            return Outcome(calls, t - job.seconds)
        state = state.observe(observation)
        delay = next_delay(state, t, limits, observation)
    raise RuntimeError(f"a {job.seconds:.0f} s job was never seen done")


# -- figures -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    calls: float  # status calls per task
    mean_delay: float
    p95_delay: float
    transitions: float  # state transitions per task

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> Figures:
        delays = sorted(o.delay for o in outcomes)
        calls = statistics.fmean(o.calls for o in outcomes)
        return cls(
            calls=calls,
            mean_delay=statistics.fmean(delays),
            p95_delay=delays[min(len(delays) - 1, math.ceil(0.95 * len(delays)) - 1)],
            transitions=statistics.fmean(state_transitions(o.calls) for o in outcomes),
        )


DESIGNS = ("fixed 30 s", "adaptive", "adaptive + webhooks", f"adaptive + webhooks, {WEBHOOK_DROP_SHARE:.0%} lost")


def simulate(jobs_per_mix: int = JOBS_PER_MIX, seed: int = SEED) -> dict[str, dict[str, Figures]]:
    """Figures per mix and design. The adaptive designs learn the model's typical time from the mix's
    completed jobs as the workflow does (the catalog's guess until ``MIN_LEARNED`` have completed)."""
    results: dict[str, dict[str, Figures]] = {}
    for mix_index, (mix, draw) in enumerate(mixes().items()):
        rng = random.Random(seed + mix_index)
        jobs = [draw(rng) for _ in range(jobs_per_mix)]
        latencies = [rng.uniform(*WEBHOOK_LATENCY) for _ in jobs]
        lost = [rng.random() < WEBHOOK_DROP_SHARE for _ in jobs]
        outcomes: dict[str, list[Outcome]] = {design: [] for design in DESIGNS}
        histogram = Histogram()
        for job, latency, dropped in zip(jobs, latencies, lost, strict=True):
            typical = typical_time(histogram, PRIOR_TYPICAL_SECONDS)
            outcomes[DESIGNS[0]].append(run_fixed(job))
            outcomes[DESIGNS[1]].append(run_adaptive(job, PollState(typical=typical)))
            hooked = PollState(typical=typical, await_webhook=True)
            outcomes[DESIGNS[2]].append(run_adaptive(job, hooked, webhook_at=job.seconds + latency))
            arrives = None if dropped else job.seconds + latency
            outcomes[DESIGNS[3]].append(run_adaptive(job, hooked, webhook_at=arrives))
            histogram = histogram.add(job.seconds)
        results[mix] = {design: Figures.of(found) for design, found in outcomes.items()}
    return results


def verdicts(results: dict[str, dict[str, Figures]]) -> Iterator[tuple[str, bool, str]]:
    """(target, met, figure) for the issue's targets, on the uniform mix."""
    uniform = results["uniform 60-300 s"]
    adaptive, hooked = uniform["adaptive"], uniform["adaptive + webhooks"]
    yield "no webhooks: calls <= 2.6", adaptive.calls <= TARGET_CALLS_NO_WEBHOOK, f"{adaptive.calls:.2f}"
    yield (
        "no webhooks: mean delay <= 7.5 s",
        adaptive.mean_delay <= TARGET_MEAN_DELAY_NO_WEBHOOK,
        f"{adaptive.mean_delay:.1f} s",
    )
    yield "webhooks: calls <= 1.2 (simulated)", hooked.calls <= TARGET_CALLS_WEBHOOK, f"{hooked.calls:.2f}"
    yield (
        "webhooks: mean delay <= 2 s (simulated)",
        hooked.mean_delay <= TARGET_MEAN_DELAY_WEBHOOK,
        f"{hooked.mean_delay:.1f} s",
    )


def report(results: dict[str, dict[str, Figures]] | None = None) -> str:
    results = results if results is not None else simulate()
    lines = [
        f"Polling, simulated ({JOBS_PER_MIX} jobs per mix, seed {SEED};"
        f" ratios to fixed {FIXED_SECONDS} s on the same mix;",
        f"  limits min {CLOUD_LIMITS.min_seconds} s, max {CLOUD_LIMITS.max_seconds} s, webhook max"
        f" {CLOUD_LIMITS.webhook_max_seconds} s; webhooks {WEBHOOK_LATENCY[0]}-{WEBHOOK_LATENCY[1]} s after ready)",
    ]
    header = f"  {'design':<32} {'calls/task':>16} {'mean delay s':>18} {'p95 delay s':>18} {'transitions':>18}"
    for mix, by_design in results.items():
        base = by_design["fixed 30 s"]
        lines += ["", f"{mix}", header]
        for design, figures in by_design.items():
            cells = [
                (figures.calls, base.calls),
                (figures.mean_delay, base.mean_delay),
                (figures.p95_delay, base.p95_delay),
                (figures.transitions, base.transitions),
            ]
            lines.append(f"  {design:<32} " + " ".join(f"{_cell(value, ref):>18}" for value, ref in cells))
    lines += ["", "Targets (uniform mix):"]
    lines += [f"  {'PASS' if met else 'MISS'}  {target}: {figure}" for target, met, figure in verdicts(results)]
    return "\n".join(lines)


def _cell(value: float, reference: float) -> str:
    ratio = f"{value / reference:.2f}x" if reference else "-"
    return f"{value:.2f} ({ratio})"


if __name__ == "__main__":
    print(report())
