"""Short variants of `make reliability` (bench/reliability.py), through the real local stack.

`make test` runs the fault matrix; the concurrency, race, storm and contention variants (minutes of several
local stacks' work on two cores) are marked `reliability` and run by `make reliability`, before its long table.

Each test runs a few tasks per scenario under its own users, then asserts every row of the report: each
task ended in its expected state before its deadline (none stuck, none lost), exactly one terminal
WebSocket message per task and of the matching type, no message about another user's task, media in S3
exactly for COMPLETED tasks, one execution per task, and /stats equal to a recount of the list. A failing
assertion prints the whole table with the problems found. Waits are bounded by each task's own timeout;
nothing here asserts how fast anything is (`make reliability` prints the figures).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.reliability import CONFLICT_RATE, STACK_ENV, run_concurrency, run_contention, run_faults
from bench.reliability_judge import (
    CANCEL_VS_ARCHIVE,
    CANCEL_VS_COMPLETION,
    CONCURRENT_CREATES,
    CONTENTION,
    FAULT_EXPECTATIONS,
    HEALTHY,
    IDEMPOTENCY_STORM,
    Report,
)
from local.fake_provider import FAULTS

pytestmark = pytest.mark.e2e

TASKS_PER_FAULT = 2
NO_CONCURRENCY = {"creates": 0, "users": 0, "races": 0, "archive_races": 0, "storms": 0, "storm_size": 0}


@pytest.fixture
def reliability_stack(local_stack_factory: Any) -> Any:
    """One stack for this file: 3 s videos, 1 s polls, 15 polls at most, a 5 s provider timeout."""
    return local_stack_factory(**STACK_ENV)


def assert_every_row_holds(report: Report) -> None:
    for row in report.rows:
        assert row.ok, f"row {row.name!r}:\n{report.render()}"


def test_every_provider_fault_ends_in_its_expected_state_with_one_terminal_message_per_task(
    reliability_stack: Any,
) -> None:
    faults = [HEALTHY, *FAULTS]

    report = asyncio.run(run_faults(reliability_stack, faults=faults, tasks_per_fault=TASKS_PER_FAULT))

    assert [(row.name, row.tasks) for row in report.rows] == [(fault, TASKS_PER_FAULT) for fault in faults]
    assert_every_row_holds(report)
    for row in report.rows:  # transient faults that clear are survived; the others fail with their code
        expected = FAULT_EXPECTATIONS[row.name]
        ended_as_expected = row.outcomes["completed" if "COMPLETED" in expected.statuses else "failed_expected"]
        assert ended_as_expected == row.tasks, report.render()


@pytest.mark.reliability
def test_concurrent_creates_from_several_users_give_one_task_and_one_execution_each(reliability_stack: Any) -> None:
    report = asyncio.run(run_concurrency(reliability_stack, **{**NO_CONCURRENCY, "creates": 40, "users": 4}))

    row = report.row(CONCURRENT_CREATES)
    assert (row.tasks, row.outcomes["completed"]) == (40, 40), report.render()
    assert_every_row_holds(report)  # one execution each, nobody else's tasks listed, stats = recount


@pytest.mark.reliability
def test_cancels_racing_completion_and_the_archive_step_end_in_one_consistent_state(reliability_stack: Any) -> None:
    report = asyncio.run(run_concurrency(reliability_stack, **{**NO_CONCURRENCY, "races": 8, "archive_races": 4}))

    assert [row.name for row in report.rows] == [CANCEL_VS_COMPLETION, CANCEL_VS_ARCHIVE]
    # A 200 means CANCELLED, a 409 COMPLETED; task, counters, S3 and the one terminal message agree.
    assert_every_row_holds(report)
    # The earliest cancels come halfway through a task and a second before the archive's last download.
    assert sum(row.outcomes["cancelled"] for row in report.rows) >= 1, report.render()


@pytest.mark.reliability
def test_an_idempotency_key_storm_creates_one_task(reliability_stack: Any) -> None:
    report = asyncio.run(run_concurrency(reliability_stack, **{**NO_CONCURRENCY, "storms": 2, "storm_size": 12}))

    row = report.row(IDEMPOTENCY_STORM)
    # One task per storm; every other reply a replay of it (200) or "in progress" (409), and no other
    # task in the storm user's list.
    assert (row.tasks, row.outcomes["completed"]) == (2, 2), report.render()
    assert_every_row_holds(report)


@pytest.mark.reliability
def test_tasks_of_one_user_run_together_under_injected_dynamodb_conflicts_none_stuck_or_lost(
    local_stack_factory: Any,
) -> None:
    stack = local_stack_factory(**STACK_ENV, LOCAL_DYNAMODB_CONFLICT_RATE=CONFLICT_RATE)

    report = asyncio.run(run_contention(stack, tasks=12))

    row = report.row(CONTENTION)
    assert row.tasks == 12, report.render()
    assert (row.outcomes["stuck"], row.outcomes["lost"], row.outcomes["unexpected"]) == (0, 0, 0), report.render()
    assert row.stats_ok, report.render()
    assert_every_row_holds(report)  # one execution each, media iff COMPLETED, one terminal message each
