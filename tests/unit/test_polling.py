"""The polling policy (videotasks.domain.polling): clamps, hints, stalls, webhooks, learned times."""

from __future__ import annotations

import pytest

from videotasks.domain.polling import (
    DURATION_BUCKETS,
    FIRST_POLL_FRACTION,
    MIN_LEARNED,
    NO_HINT_FRACTION,
    WEBHOOK_FALLBACK_FACTOR,
    Histogram,
    Limits,
    Observation,
    PollState,
    Sample,
    Typical,
    duration_bucket,
    fixed_delay,
    next_delay,
    predicted_end,
    predicted_start,
    typical_time,
)

LIMITS = Limits(min_seconds=5, max_seconds=120, webhook_max_seconds=900, unknown_seconds=30)
TYPICAL = Typical(median=180, slow=280, learned_from=50)


def after(state: PollState, *readings: tuple[float, int | None]) -> tuple[PollState, Observation]:
    """The state after status calls that read ``(elapsed, progress)``, and the last observation."""
    observation = Observation(elapsed=0)
    for elapsed, progress in readings:
        observation = Observation(elapsed=elapsed, progress=progress)
        state = state.observe(observation)
    return state, observation


# -- before any status call -------------------------------------------------------------------------


def test_the_first_poll_comes_at_a_share_of_the_typical_time() -> None:
    assert next_delay(PollState(typical=TYPICAL), 0, LIMITS) == round(FIRST_POLL_FRACTION * 180)


def test_with_nothing_known_the_fixed_interval_stands() -> None:
    assert next_delay(PollState(), 0, LIMITS) == LIMITS.unknown_seconds
    state, observation = after(PollState(), (30, None))
    assert next_delay(state, 30, LIMITS, observation) == LIMITS.unknown_seconds


# -- progress ---------------------------------------------------------------------------------------


def test_one_reading_is_read_as_progress_since_submit_and_the_poll_aims_just_past_the_end() -> None:
    state, observation = after(PollState(typical=TYPICAL), (60, 30))

    delay = next_delay(state, 60, LIMITS, observation)

    # 30.5% in 60 s: done near 196.7 s, 136.7 s from now, beyond the maximum wait.
    assert delay == LIMITS.max_seconds
    wide = Limits(5, 600, 900, 30)
    assert 137 <= next_delay(state, 60, wide, observation) <= 145


def test_two_readings_give_the_slope_and_ignore_a_queue_before_them() -> None:
    # Queued for 100 s, then 1% a second: 10% at 110 s, 40% at 140 s, done at 200 s.
    state, observation = after(PollState(typical=TYPICAL), (110, 10), (140, 40))

    assert predicted_end(state.samples) == pytest.approx(199.5, abs=0.6)
    assert 60 <= next_delay(state, 140, LIMITS, observation) <= 64


@pytest.mark.parametrize("elapsed", [30, 90, 150])
def test_more_progress_at_the_same_moment_never_waits_longer(elapsed: float) -> None:
    delays = [
        next_delay(*_single(elapsed, progress)[:2], LIMITS, _single(elapsed, progress)[2])
        for progress in range(1, 100, 7)
    ]
    assert delays == sorted(delays, reverse=True)


def _single(elapsed: float, progress: int) -> tuple[PollState, float, Observation]:
    state, observation = after(PollState(typical=TYPICAL), (elapsed, progress))
    return state, elapsed, observation


def test_every_delay_is_clamped_between_the_minimum_and_the_maximum() -> None:
    cases = [
        after(PollState(typical=TYPICAL), (100, 99)),  # almost done: would be ~1 s
        after(PollState(typical=TYPICAL), (10, 1)),  # barely started: would be ~15 min
        after(PollState(typical=Typical(3000, 5000)), (10, None)),
        after(PollState(typical=Typical(1, 1)), (10, None)),
    ]
    for state, observation in cases:
        assert LIMITS.min_seconds <= next_delay(state, observation.elapsed, LIMITS, observation) <= LIMITS.max_seconds


def test_a_reading_of_a_finished_job_predicts_its_end_at_that_reading() -> None:
    assert predicted_end((Sample(50, 100),)) == 50


# -- nothing that moves -----------------------------------------------------------------------------


def test_stalled_progress_falls_back_to_the_typical_schedule_instead_of_spinning() -> None:
    state, observation = after(PollState(typical=TYPICAL), (60, 70), (100, 70))

    assert predicted_end(state.samples) is None
    assert next_delay(state, 100, LIMITS, observation) == round(NO_HINT_FRACTION * 180 + 0.5)


def test_progress_slowing_to_a_crawl_is_treated_as_a_stall_not_a_far_end() -> None:
    # 40% in the first 60 s, then 2% in the next 100 s: the latest pace predicts an end 50 min away.
    state, observation = after(PollState(typical=TYPICAL), (60, 40), (160, 42))

    assert predicted_end(state.samples) is None
    assert next_delay(state, 160, LIMITS, observation) < 60


def test_a_relay_reporting_zero_until_done_is_polled_on_the_typical_schedule() -> None:
    state, observation = after(PollState(typical=TYPICAL), (60, 0), (86, 0))

    assert next_delay(state, 86, LIMITS, observation) == round(NO_HINT_FRACTION * 180 + 0.5)


def test_past_the_slow_time_the_interval_grows_with_the_age_of_the_job_up_to_the_maximum() -> None:
    state, _ = after(PollState(typical=TYPICAL), (60, None))
    delays = [next_delay(state, elapsed, LIMITS) for elapsed in (100, 300, 500, 800, 2000)]

    assert delays == sorted(delays)
    assert delays[0] < delays[2] and delays[-1] == LIMITS.max_seconds


# -- provider hints ---------------------------------------------------------------------------------


def test_retry_after_is_a_floor_even_above_the_maximum() -> None:
    state, _ = after(PollState(typical=TYPICAL), (100, 99))

    assert next_delay(state, 100, LIMITS, Observation(100, retry_after=40)) == 40
    assert next_delay(state, 100, LIMITS, Observation(100, retry_after=400)) == 400


def test_an_absurd_retry_after_is_capped_at_an_hour() -> None:
    assert next_delay(PollState(typical=TYPICAL), 10, LIMITS, Observation(10, retry_after=10**6)) == 3600


def test_a_provider_eta_is_aimed_just_past() -> None:
    assert 41 <= next_delay(PollState(typical=TYPICAL), 10, LIMITS, Observation(10, eta_seconds=40)) <= 44


# -- webhooks ---------------------------------------------------------------------------------------


def test_with_a_webhook_expected_the_first_wait_is_a_long_fallback_past_the_slow_time() -> None:
    delay = next_delay(PollState(typical=TYPICAL, await_webhook=True), 0, LIMITS)

    assert delay == round(WEBHOOK_FALLBACK_FACTOR * TYPICAL.slow)
    assert delay > LIMITS.max_seconds


def test_the_webhook_fallback_is_clamped_at_the_webhook_maximum() -> None:
    slow_model = Typical(median=2000, slow=3000)

    assert next_delay(PollState(typical=slow_model, await_webhook=True), 0, LIMITS) == LIMITS.webhook_max_seconds


def test_once_the_fallback_moment_has_passed_polling_goes_on_as_without_webhooks() -> None:
    late = WEBHOOK_FALLBACK_FACTOR * TYPICAL.slow + 10
    hooked, observation = after(PollState(typical=TYPICAL, await_webhook=True), (late, 95))
    plain, _ = after(PollState(typical=TYPICAL), (late, 95))

    assert next_delay(hooked, late, LIMITS, observation) == next_delay(plain, late, LIMITS, observation)


# -- the state on the wire --------------------------------------------------------------------------


def test_the_state_survives_its_trip_through_the_payload() -> None:
    state, _ = after(PollState(typical=TYPICAL, await_webhook=True), (10, 5), (20, 10), (30, 15), (40, 20))

    back = PollState.from_wire(state.to_wire(), await_webhook=True)

    assert back == state
    assert len(back.samples) == 3  # only the latest readings travel
    assert back.polls == 4


@pytest.mark.parametrize(
    "wire",
    [None, "x", {"samples": "nonsense", "typical": [0, 0, 0], "polls": -1}, {"samples": [[1]], "typical": "x"}],
)
def test_a_malformed_state_is_read_as_knowing_nothing(wire: object) -> None:
    assert PollState.from_wire(wire) == PollState()  # type: ignore[arg-type]


def test_progress_readings_never_go_down_in_the_state() -> None:
    state, _ = after(PollState(), (10, 30), (20, 20))

    assert [s.progress for s in state.samples] == [30, 30]


# -- learned times ----------------------------------------------------------------------------------


def test_duration_buckets_hold_their_upper_bound_and_the_last_takes_anything_longer() -> None:
    assert duration_bucket(0) == 0
    assert duration_bucket(DURATION_BUCKETS[3]) == 3
    assert duration_bucket(DURATION_BUCKETS[3] + 0.01) == 4
    assert duration_bucket(10**7) == len(DURATION_BUCKETS) - 1


def test_the_histograms_quantiles_fall_in_the_right_buckets() -> None:
    histogram = Histogram()
    for seconds in [60] * 5 + [120] * 4 + [600]:
        histogram = histogram.add(seconds)

    median, slow = histogram.quantile(0.5), histogram.quantile(0.9)

    assert DURATION_BUCKETS[duration_bucket(60) - 1] < median <= DURATION_BUCKETS[duration_bucket(60)]
    assert DURATION_BUCKETS[duration_bucket(120) - 1] < slow <= DURATION_BUCKETS[duration_bucket(120)]
    with pytest.raises(ValueError, match="empty"):
        Histogram().quantile(0.5)


def test_learned_times_replace_the_catalogs_only_once_there_are_enough() -> None:
    few = Histogram({duration_bucket(300): MIN_LEARNED - 1})
    enough = Histogram({duration_bucket(300): MIN_LEARNED})

    assert typical_time(few, 120) == Typical(120, 192)
    learned = typical_time(enough, 120)
    assert learned is not None and learned.learned_from == MIN_LEARNED and learned.median > 250
    assert typical_time(None, None) is None


def test_the_fixed_poller_ignores_everything() -> None:
    assert fixed_delay(30) == 30


# -- a queue that moves -------------------------------------------------------------------------------


def queued(state: PollState, *readings: tuple[float, int]) -> tuple[PollState, Observation]:
    """The state after status calls of a queued job that read ``(elapsed, queue position)``."""
    observation = Observation(elapsed=0)
    for elapsed, position in readings:
        observation = Observation(elapsed=elapsed, queue_position=position)
        state = state.observe(observation)
    return state, observation


def test_a_moving_queue_predicts_the_start_and_the_poll_aims_a_typical_generation_past_it() -> None:
    state, observation = queued(PollState(typical=Typical(median=60, slow=90)), (10, 8), (20, 6))

    # two places in 10 s: six more take 30 s, so the job starts at 50 s and should end at 110 s
    assert predicted_start(state.queue) == 50
    assert next_delay(state, 20, LIMITS, observation) == pytest.approx(90 * 1.04 + 1, abs=1)


def test_a_queue_that_does_not_move_predicts_nothing_and_the_typical_schedule_stands() -> None:
    still, observation = queued(PollState(typical=TYPICAL), (10, 5), (20, 5))
    plain, _ = queued(PollState(typical=TYPICAL), (20, 5))

    assert predicted_start(still.queue) is None
    assert next_delay(still, 20, LIMITS, observation) == next_delay(
        PollState(typical=TYPICAL, polls=2), 20, LIMITS, observation
    )
    assert predicted_start(plain.queue) is None, "one reading gives no pace"


def test_a_job_out_of_the_queue_is_timed_by_its_progress_not_its_old_queue() -> None:
    was_queued, _ = queued(PollState(typical=TYPICAL), (10, 8), (20, 6))
    running = Observation(elapsed=30, progress=10, queue_position=0)
    never_queued = PollState(typical=TYPICAL, polls=2)

    assert next_delay(was_queued.observe(running), 30, LIMITS, running) == next_delay(
        never_queued.observe(running), 30, LIMITS, running
    )


def test_the_queue_readings_travel_in_the_payload() -> None:
    state, _ = queued(PollState(typical=TYPICAL), (10, 8), (20, 6), (30, 3))

    back = PollState.from_wire(state.to_wire())

    assert back.queue == state.queue == (Sample(20, 6), Sample(30, 3))
