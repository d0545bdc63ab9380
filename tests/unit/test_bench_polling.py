"""The polling simulation's bookkeeping (bench/polling.py), on cases small enough to check by hand."""

from __future__ import annotations

import pytest

from bench.polling import (
    CLOUD_LIMITS,
    DESIGNS,
    Figures,
    Job,
    Outcome,
    report,
    run_adaptive,
    run_fixed,
    simulate,
    state_transitions,
    verdicts,
)
from videotasks.domain.polling import PollState, Typical

TYPICAL = Typical(median=180, slow=280, learned_from=50)


def linear(seconds: float) -> Job:
    return Job(seconds, lambda t: 100 if t >= seconds else int(100 * t / seconds))


def test_the_fixed_poller_sees_a_job_at_the_first_multiple_of_its_interval_past_ready() -> None:
    assert run_fixed(linear(61)) == Outcome(calls=3, delay=29)
    assert run_fixed(linear(60)) == Outcome(calls=2, delay=0)


def test_the_adaptive_poller_reads_progress_once_and_then_aims_at_the_end() -> None:
    # First call at 60 s (a third of 180 s) reads 66%; the end predicted from it is about 90.5 s.
    outcome = run_adaptive(linear(90), PollState(typical=TYPICAL))

    assert outcome.calls == 2
    assert 0 < outcome.delay < 6


def test_a_webhook_wakes_the_wait_and_costs_one_call() -> None:
    hooked = PollState(typical=TYPICAL, await_webhook=True)

    assert run_adaptive(linear(100), hooked, webhook_at=100.5) == Outcome(calls=1, delay=pytest.approx(0.5))


def test_a_lost_webhook_is_made_up_for_by_the_fallback_poll() -> None:
    hooked = PollState(typical=TYPICAL, await_webhook=True)

    outcome = run_adaptive(linear(100), hooked, webhook_at=None)

    assert outcome.calls == 1
    assert outcome.delay == pytest.approx(1.25 * 280 - 100)


def test_a_job_that_never_reports_done_is_reported_not_counted() -> None:
    with pytest.raises(RuntimeError, match="never seen done"):
        run_adaptive(Job(10**9, lambda t: 0), PollState(typical=TYPICAL), CLOUD_LIMITS)


def test_transitions_are_four_plus_three_per_poll() -> None:
    assert [state_transitions(polls) for polls in (0, 1, 2)] == [4, 7, 10]
    assert state_transitions(2, states_per_loop=4) == 12


def test_figures_average_the_outcomes_and_take_the_95th_percentile_delay() -> None:
    outcomes = [Outcome(1, 0.0)] * 19 + [Outcome(3, 40.0)]

    figures = Figures.of(outcomes)

    assert figures.calls == pytest.approx(1.1)
    assert figures.mean_delay == pytest.approx(2.0)
    assert figures.p95_delay == 0.0  # the 19th of 20 sorted delays
    assert figures.transitions == pytest.approx(4 + 3 * 1.1)
    assert Figures.of([*outcomes, Outcome(3, 40.0)]).p95_delay == 40.0


def test_the_simulation_gives_every_mix_every_design_and_the_fixed_baseline_matches_the_issue() -> None:
    results = simulate(jobs_per_mix=400)

    assert all(list(by_design) == list(DESIGNS) for by_design in results.values())
    fixed = results["uniform 60-300 s"]["fixed 30 s"]
    assert 6.0 < fixed.calls < 7.0 and 13.5 < fixed.mean_delay < 16.5  # 6.49 calls, 15 s on many jobs
    assert [target for target, _, _ in verdicts(results)] == [
        "no webhooks: calls <= 2.6",
        "no webhooks: mean delay <= 7.5 s",
        "webhooks: calls <= 1.2 (simulated)",
        "webhooks: mean delay <= 2 s (simulated)",
    ]
    assert report(results).count("PASS") + report(results).count("MISS") == 4
