"""The pure status rules: transitions, progress, provider status words and the polling policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videotasks.domain.lifecycle import (
    PollAction,
    PollDecision,
    ProviderState,
    can_transition,
    decide_after_poll,
    merge_progress,
    normalise_provider_status,
)
from videotasks.domain.models import TERMINAL_STATUSES, TaskStatus

Q, P, C, F, X = (
    TaskStatus.QUEUED,
    TaskStatus.PROCESSING,
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
)
LEGAL = {(Q, P), (Q, F), (Q, X), (P, C), (P, F), (P, X)}
ALL_PAIRS = [(current, target) for current in TaskStatus for target in TaskStatus]


# -- transitions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=lambda status: status.value)
def test_only_the_documented_transitions_are_allowed(current: TaskStatus, target: TaskStatus) -> None:
    assert can_transition(current, target) is ((current, target) in LEGAL)


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
def test_terminal_states_never_change(terminal: TaskStatus) -> None:
    assert not any(can_transition(terminal, target) for target in TaskStatus)


def test_the_terminal_states_are_the_three_endings() -> None:
    assert {C, F, X} == TERMINAL_STATUSES


def test_the_queued_state_is_never_a_target() -> None:
    assert not any(can_transition(current, Q) for current in TaskStatus)


# -- progress ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (0, 10, 10),
        (40, 30, 40),  # a relay reporting less than before does not move us back
        (40, 40, 40),
        (40, None, 40),  # no report keeps what we have
        (40, 250, 100),
        (40, -5, 40),
        (0, 100, 100),
    ],
)
def test_progress_never_goes_down_and_stays_within_0_and_100(current: int, reported: int | None, expected: int) -> None:
    assert merge_progress(current, reported) == expected


@settings(deadline=None, max_examples=200)
@given(current=st.integers(0, 100), reported=st.one_of(st.none(), st.integers(-1000, 1000)))
def test_merged_progress_is_monotonic_and_bounded(current: int, reported: int | None) -> None:
    merged = merge_progress(current, reported)
    assert current <= merged <= 100


# -- provider status words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("queued", ProviderState.QUEUED),
        ("pending", ProviderState.QUEUED),  # the old backend's relay
        ("NOT_START", ProviderState.QUEUED),  # relays in capitals
        ("not-started", ProviderState.QUEUED),
        ("submitted", ProviderState.QUEUED),
        ("in_progress", ProviderState.RUNNING),
        ("IN_PROGRESS", ProviderState.RUNNING),
        ("in-progress", ProviderState.RUNNING),
        ("processing", ProviderState.RUNNING),
        ("running", ProviderState.RUNNING),
        ("completed", ProviderState.SUCCEEDED),
        ("succeeded", ProviderState.SUCCEEDED),
        ("SUCCESS", ProviderState.SUCCEEDED),
        ("  Completed \n", ProviderState.SUCCEEDED),
        ("failed", ProviderState.FAILED),
        ("error", ProviderState.FAILED),
        ("expired", ProviderState.FAILED),  # a relay's word for a job it dropped
        ("rejected", ProviderState.FAILED),
        ("cancelled", ProviderState.CANCELLED),
        ("canceled", ProviderState.CANCELLED),
    ],
)
def test_provider_status_words_are_normalised_into_the_closed_set(raw: str, state: ProviderState) -> None:
    assert normalise_provider_status(raw) is state


@pytest.mark.parametrize("raw", ["weird_new_state", "排队中", "", None])
def test_unknown_or_missing_provider_status_counts_as_still_running(raw: str | None) -> None:
    # The attempt and time limits of the polling policy end such a task, so nothing waits forever.
    assert normalise_provider_status(raw) is ProviderState.RUNNING


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=40))
def test_normalising_any_text_yields_a_member_of_the_closed_set(raw: str) -> None:
    assert normalise_provider_status(raw) in set(ProviderState)


# -- the polling policy ------------------------------------------------------------------------------

CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def decide(
    state: ProviderState, *, attempts: int = 1, elapsed: float = 0, provider_error: str | None = None
) -> PollDecision:
    return decide_after_poll(
        state,
        attempts=attempts,
        max_attempts=5,
        created_at=CREATED,
        now=CREATED + timedelta(seconds=elapsed),
        timeout_seconds=600,
        provider_error=provider_error,
    )


@pytest.mark.parametrize("state", [ProviderState.QUEUED, ProviderState.RUNNING])
def test_a_job_still_in_progress_within_the_limits_waits(state: ProviderState) -> None:
    decision = decide(state, attempts=4, elapsed=599)
    assert decision.action is PollAction.WAIT
    assert decision.error_code is None


def test_a_finished_job_is_archived() -> None:
    assert decide(ProviderState.SUCCEEDED).action is PollAction.ARCHIVE


def test_a_job_that_finishes_on_the_last_allowed_poll_is_archived_not_timed_out() -> None:
    assert decide(ProviderState.SUCCEEDED, attempts=5, elapsed=10_000).action is PollAction.ARCHIVE


def test_a_failed_job_fails_the_task_with_the_providers_message() -> None:
    decision = decide(ProviderState.FAILED, provider_error="content policy violation")
    assert (decision.action, decision.error_code, decision.error_message) == (
        PollAction.FAIL,
        "PROVIDER_FAILED",
        "content policy violation",
    )


def test_a_failed_job_without_a_message_still_explains_itself() -> None:
    decision = decide(ProviderState.FAILED)
    assert decision.error_code == "PROVIDER_FAILED"
    assert decision.error_message


def test_a_job_cancelled_by_the_provider_fails_the_task() -> None:
    decision = decide(ProviderState.CANCELLED)
    assert (decision.action, decision.error_code) == (PollAction.FAIL, "PROVIDER_CANCELLED")


def test_the_last_allowed_poll_of_a_running_job_times_out() -> None:
    decision = decide(ProviderState.RUNNING, attempts=5)
    assert (decision.action, decision.error_code) == (PollAction.FAIL, "TIMEOUT")
    assert "5 polls" in (decision.error_message or "")


def test_a_running_job_past_the_task_timeout_times_out() -> None:
    decision = decide(ProviderState.RUNNING, attempts=1, elapsed=600)
    assert (decision.action, decision.error_code) == (PollAction.FAIL, "TIMEOUT")
    assert "600 seconds" in (decision.error_message or "")
