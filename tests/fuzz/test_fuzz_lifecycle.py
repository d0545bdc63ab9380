"""Property tests of the pure status rules (videotasks.domain.lifecycle) over any sequence hypothesis can make:
nothing leaves a terminal state, progress never goes down, and the polling policy always ends a task.

Deterministic (``derandomize``, no example database) and bounded, so a run is the same everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from videotasks.domain.lifecycle import (
    PollAction,
    ProviderState,
    can_transition,
    decide_after_poll,
    merge_progress,
    normalise_provider_status,
)
from videotasks.domain.models import TERMINAL_STATUSES, TaskStatus

FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None)
RANK = {
    TaskStatus.QUEUED: 0,
    TaskStatus.PROCESSING: 1,
    TaskStatus.COMPLETED: 2,
    TaskStatus.FAILED: 2,
    TaskStatus.CANCELLED: 2,
}
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

statuses = st.sampled_from(list(TaskStatus))
reports = st.one_of(st.none(), st.integers(-(10**6), 10**6))


@FUZZ
@given(attempts=st.lists(statuses, max_size=30))
def test_any_sequence_of_transition_attempts_moves_forward_and_never_leaves_a_terminal_state(
    attempts: list[TaskStatus],
) -> None:
    status = TaskStatus.QUEUED
    path = [status]
    for target in attempts:
        if can_transition(status, target):
            assert status not in TERMINAL_STATUSES
            assert RANK[target] > RANK[status]
            status = target
            path.append(status)
        elif status in TERMINAL_STATUSES:
            assert not any(can_transition(status, other) for other in TaskStatus)

    assert len(path) <= 3  # QUEUED, at most PROCESSING, one terminal state
    assert [RANK[step] for step in path] == sorted(RANK[step] for step in path)
    terminal_at = next((index for index, step in enumerate(path) if step in TERMINAL_STATUSES), None)
    assert terminal_at is None or terminal_at == len(path) - 1


@FUZZ
@given(reported=st.lists(reports, max_size=50))
def test_progress_folded_over_any_reports_never_goes_down_and_ends_at_the_highest_valid_one(
    reported: list[int | None],
) -> None:
    progress = 0
    history = [progress]
    for report in reported:
        progress = merge_progress(progress, report)
        history.append(progress)

    assert history == sorted(history)
    assert all(0 <= value <= 100 for value in history)
    assert progress == max([0] + [min(100, max(0, report)) for report in reported if report is not None])


@FUZZ
@given(
    state=st.sampled_from(list(ProviderState)),
    attempts=st.integers(1, 200),
    max_attempts=st.integers(1, 100),
    elapsed=st.integers(0, 10_000),
    timeout=st.integers(10, 5_000),
)
def test_the_polling_policy_follows_the_provider_and_waits_only_within_both_limits(
    state: ProviderState, attempts: int, max_attempts: int, elapsed: int, timeout: int
) -> None:
    decision = decide_after_poll(
        state,
        attempts=attempts,
        max_attempts=max_attempts,
        created_at=CREATED,
        now=CREATED + timedelta(seconds=elapsed),
        timeout_seconds=timeout,
    )

    if state is ProviderState.SUCCEEDED:
        assert decision.action is PollAction.ARCHIVE
    elif state in (ProviderState.FAILED, ProviderState.CANCELLED):
        assert decision.action is PollAction.FAIL
        assert decision.error_code
    elif attempts < max_attempts and elapsed < timeout:
        assert decision.action is PollAction.WAIT
    else:
        assert (decision.action, decision.error_code) == (PollAction.FAIL, "TIMEOUT")


@FUZZ
@given(
    max_attempts=st.integers(1, 60),
    timeout=st.integers(10, 3_600),
    interval=st.integers(1, 120),
    states=st.lists(st.sampled_from([ProviderState.QUEUED, ProviderState.RUNNING]), min_size=1, max_size=5),
)
def test_a_job_that_never_finishes_is_failed_within_the_attempt_limit(
    max_attempts: int, timeout: int, interval: int, states: list[ProviderState]
) -> None:
    # Every task reaches a terminal state: a provider that answers "still running" for ever is cut off.
    for attempt in range(1, max_attempts + 1):
        decision = decide_after_poll(
            states[attempt % len(states)],
            attempts=attempt,
            max_attempts=max_attempts,
            created_at=CREATED,
            now=CREATED + timedelta(seconds=attempt * interval),
            timeout_seconds=timeout,
        )
        if decision.action is PollAction.FAIL:
            assert decision.error_code == "TIMEOUT"
            break
        assert decision.action is PollAction.WAIT
    else:
        raise AssertionError(f"still waiting after {max_attempts} polls")


@FUZZ
@given(
    state=st.sampled_from([ProviderState.QUEUED, ProviderState.RUNNING]),
    attempts=st.integers(1, 100),
    more_attempts=st.integers(0, 100),
    elapsed=st.integers(0, 5_000),
    more_seconds=st.integers(0, 5_000),
    max_attempts=st.integers(1, 100),
    timeout=st.integers(10, 5_000),
)
def test_once_the_policy_gives_up_on_a_job_it_never_takes_it_back_later(
    state: ProviderState,
    attempts: int,
    more_attempts: int,
    elapsed: int,
    more_seconds: int,
    max_attempts: int,
    timeout: int,
) -> None:
    def action(at_attempt: int, at_second: int) -> PollAction:
        return decide_after_poll(
            state,
            attempts=at_attempt,
            max_attempts=max_attempts,
            created_at=CREATED,
            now=CREATED + timedelta(seconds=at_second),
            timeout_seconds=timeout,
        ).action

    if action(attempts, elapsed) is PollAction.FAIL:
        assert action(attempts + more_attempts, elapsed + more_seconds) is PollAction.FAIL


@FUZZ
@given(raw=st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["COMPLETED", "in-progress", " Failed "])))
def test_a_normalised_provider_status_normalises_to_itself(raw: str | None) -> None:
    state = normalise_provider_status(raw)

    assert normalise_provider_status(state.value) is state
