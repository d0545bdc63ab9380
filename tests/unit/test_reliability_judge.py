"""bench/reliability_judge.py's judgement of a task, a connection and a user's counters: each check can fail.

The reliability suites (tests/e2e/test_reliability.py, `make reliability`) only prove something if what
they count as stuck, lost, duplicated, leaked or inconsistent really is; these cases pin that down."""

from __future__ import annotations

from typing import Any

import pytest

from bench.reliability_judge import (
    FAULT_EXPECTATIONS,
    HEALTHY,
    Expected,
    Row,
    Seen,
    TaskRecord,
    Verdict,
    completes,
    fails,
    judge,
    leaked,
    stats_mismatch,
    tally,
)
from local.fake_provider import FAULTS

VIDEO_ID = "video_00000000-0000-4000-8000-000000000001"
NOW = 1000.0


def record(expected: Expected | None = None, **changes: Any) -> TaskRecord:
    fields: dict[str, Any] = {
        "row": "none",
        "user": "alice",
        "expected": expected or completes("test"),
        "video_id": VIDEO_ID,
        "create_status": 201,
        "answered_at": 100.0,
        "deadline": 500.0,
        "ended_at": 110.0,
    }
    return TaskRecord(**{**fields, **changes})


def task(status: str = "COMPLETED", code: str | None = None) -> dict[str, Any]:
    return {"videoId": VIDEO_ID, "status": status, "error": {"code": code, "message": "…"} if code else None}


def message(kind: str, status: str, video_id: str = VIDEO_ID) -> dict[str, Any]:
    return {"type": kind, "timestamp": 1, "payload": {"videoId": video_id, "status": status, "progress": 0}}


LIFE = [message("taskProgress", "queued"), message("taskProgress", "in_progress")]
COMPLETED_LIFE = [*LIFE, message("taskCompleted", "completed")]


def verdict_of(
    rec: TaskRecord | None = None,
    listed: dict[str, Any] | None = None,
    messages: list[dict[str, Any]] | None = None,
    *,
    media: int = 1,
    executions: int = 1,
    absent: bool = False,
) -> Verdict:
    return judge(
        rec or record(),
        None if absent else (listed or task()),
        COMPLETED_LIFE if messages is None else messages,
        media_objects=media,
        executions=executions,
        now=NOW,
    )


def test_a_task_that_ended_as_expected_with_one_terminal_message_is_clean() -> None:
    verdict = verdict_of()

    assert (verdict.outcome, verdict.duplicates, verdict.missing, verdict.problems) == ("completed", 0, False, [])


def test_a_failure_with_the_expected_code_counts_as_such() -> None:
    verdict = verdict_of(
        record(fails("PROVIDER_JOB_LOST", "test")),
        task("FAILED", "PROVIDER_JOB_LOST"),
        [*LIFE, message("taskFailed", "failed")],
        media=0,
    )

    assert (verdict.outcome, verdict.problems) == ("failed_expected", [])


def test_a_failure_with_another_code_is_unexpected() -> None:
    verdict = verdict_of(
        record(fails("TIMEOUT", "test")), task("FAILED", "PROVIDER_UNAVAILABLE"), [message("taskFailed", "failed")]
    )

    assert verdict.outcome == "unexpected"
    assert "expected TIMEOUT" in verdict.problems[0]


def test_a_completion_where_a_failure_was_expected_is_unexpected() -> None:
    assert verdict_of(record(fails("PROVIDER_CONTENT_GONE", "test"))).outcome == "unexpected"


def test_a_task_missing_from_its_owners_list_is_lost() -> None:
    assert verdict_of(absent=True).outcome == "lost"


@pytest.mark.parametrize("status", ["QUEUED", "PROCESSING"])
def test_a_task_still_running_is_stuck(status: str) -> None:
    assert verdict_of(record(ended_at=None), task(status), LIFE).outcome == "stuck"


def test_a_task_that_ended_after_its_deadline_is_stuck() -> None:
    assert verdict_of(record(ended_at=501.0)).outcome == "stuck"


def test_a_task_seen_ended_only_by_the_final_listing_is_judged_at_that_moment() -> None:
    assert verdict_of(record(ended_at=None, deadline=NOW + 1)).outcome == "completed"
    assert verdict_of(record(ended_at=None, deadline=NOW - 1)).outcome == "stuck"


def test_a_create_that_did_not_answer_201_is_unexpected() -> None:
    assert verdict_of(record(create_status=500, video_id=None, create_error="Internal error")).outcome == "unexpected"


def test_a_second_terminal_message_is_a_duplicate() -> None:
    verdict = verdict_of(messages=[*COMPLETED_LIFE, message("taskCompleted", "completed")])

    assert (verdict.outcome, verdict.duplicates) == ("completed", 1)


def test_no_terminal_message_is_missing() -> None:
    assert verdict_of(messages=LIFE).missing


def test_a_terminal_message_of_another_type_than_the_status_is_inconsistent() -> None:
    verdict = verdict_of(record(Expected(frozenset({"CANCELLED"}))), task("CANCELLED"), COMPLETED_LIFE, media=0)

    assert verdict.inconsistent
    assert "terminal message was taskCompleted" in verdict.problems[0]


def test_news_after_the_terminal_message_is_inconsistent() -> None:
    assert verdict_of(messages=[*COMPLETED_LIFE, message("taskProgress", "in_progress")]).inconsistent


@pytest.mark.parametrize(("status", "media"), [("COMPLETED", 0), ("COMPLETED", 2), ("CANCELLED", 1), ("FAILED", 1)])
def test_media_in_s3_must_exist_exactly_when_completed(status: str, media: int) -> None:
    rec = record(Expected(frozenset({status})))
    end = {"COMPLETED": "taskCompleted", "CANCELLED": "taskCancelled", "FAILED": "taskFailed"}[status]

    verdict = verdict_of(rec, task(status), [message(end, status.lower())], media=media)

    assert verdict.inconsistent
    assert "media objects in S3" in verdict.problems[0]


@pytest.mark.parametrize("executions", [0, 2])
def test_a_task_needs_exactly_one_execution(executions: int) -> None:
    assert verdict_of(executions=executions).inconsistent


def test_task_messages_about_tasks_the_user_does_not_own_are_leaks() -> None:
    stranger = "video_00000000-0000-4000-8000-000000000002"
    heard = [
        *COMPLETED_LIFE,
        {"type": "subscribed", "payload": {"videoId": None, "scope": "all"}},
        {"type": "pong", "payload": {}},
        message("taskProgress", "queued", stranger),
    ]

    assert leaked({VIDEO_ID}, heard) == [message("taskProgress", "queued", stranger)]


def test_stats_must_equal_a_recount_of_the_list() -> None:
    listed = [task("COMPLETED"), task("FAILED"), task("COMPLETED")]
    agreeing = {"total": 3, "byStatus": {"QUEUED": 0, "PROCESSING": 0, "COMPLETED": 2, "FAILED": 1, "CANCELLED": 0}}
    off_by_one = {**agreeing, "byStatus": {**agreeing["byStatus"], "COMPLETED": 1, "PROCESSING": 1}}

    assert stats_mismatch(agreeing, listed) is None
    assert stats_mismatch(off_by_one, listed) is not None
    assert stats_mismatch({**agreeing, "total": 4}, listed) is not None


@pytest.mark.parametrize("bad", ["unexpected", "stuck", "lost"])
def test_a_row_with_any_bad_outcome_fails(bad: str) -> None:
    row = Row("none", completes("test"), tasks=2)
    row.outcomes.update({"completed": 1, bad: 1})

    assert not row.ok


@pytest.mark.parametrize("field", ["duplicates", "missing", "leaks", "inconsistent"])
def test_a_row_with_any_message_or_consistency_problem_fails(field: str) -> None:
    row = Row("none", completes("test"), tasks=1)
    row.outcomes["completed"] = 1
    setattr(row, field, 1)

    assert not row.ok


def test_a_row_whose_stats_disagree_fails() -> None:
    row = Row("none", completes("test"), tasks=1, stats_ok=False)
    row.outcomes["completed"] = 1

    assert not row.ok


def test_every_fault_mode_of_the_fake_provider_has_an_expected_outcome() -> None:
    assert set(FAULT_EXPECTATIONS) == {HEALTHY, *FAULTS}


# -- a whole run --------------------------------------------------------------------------------------


def seen(user: str = "alice", listed: list[dict[str, Any]] | None = None, **changes: Any) -> Seen:
    stats = {"total": 1, "byStatus": {"QUEUED": 0, "PROCESSING": 0, "COMPLETED": 1, "FAILED": 0, "CANCELLED": 0}}
    fields: dict[str, Any] = {
        "row": "none",
        "listed": [task()] if listed is None else listed,
        "stats": stats,
        "messages": list(COMPLETED_LIFE),
    }
    return Seen(user=user, **{**fields, **changes})


def tally_of(*views: Seen, records: list[TaskRecord] | None = None, media: int = 1) -> Row:
    rows = {"none": Row("none", completes("test"))}
    records = [record()] if records is None else records
    for _ in records:
        rows["none"].tasks += 1
    [row] = tally(rows, records, views, media={VIDEO_ID: media}, executions={VIDEO_ID: ["SUCCEEDED"]}, now=NOW)
    return row


def test_a_clean_run_makes_an_ok_row_timed_from_the_create_to_the_end() -> None:
    row = tally_of(seen())

    assert row.ok
    assert (row.outcomes["completed"], row.seconds, row.problems) == (1, [10.0], [])


def test_a_task_in_a_list_that_nobody_created_is_inconsistent() -> None:
    stranger = {**task(), "videoId": "video_00000000-0000-4000-8000-000000000009"}
    stats = {"total": 2, "byStatus": {"QUEUED": 0, "PROCESSING": 0, "COMPLETED": 2, "FAILED": 0, "CANCELLED": 0}}

    row = tally_of(seen(listed=[task(), stranger], stats=stats))

    assert (row.ok, row.inconsistent) == (False, 1)
    assert "nobody created" in row.problems[0]


def test_a_message_about_another_users_task_is_a_leak() -> None:
    other = message("taskProgress", "queued", "video_00000000-0000-4000-8000-000000000002")

    row = tally_of(seen(messages=[*COMPLETED_LIFE, other]))

    assert (row.ok, row.leaks) == (False, 1)


def test_stats_that_disagree_with_the_list_fail_the_users_row() -> None:
    row = tally_of(seen(stats={"total": 1, "byStatus": {"QUEUED": 1}}))

    assert not row.stats_ok
    assert row.problems[0].startswith("alice: /stats says")


def test_a_connection_closed_before_the_end_is_inconsistent() -> None:
    row = tally_of(seen(closed_early="ConnectionClosedError(1006)"))

    assert (row.ok, row.inconsistent) == (False, 1)


def test_an_ended_task_without_a_terminal_message_is_missing_and_says_so() -> None:
    row = tally_of(seen(messages=list(LIFE)))

    assert row.missing == 1
    assert "with no terminal message" in row.problems[-1]


def test_rows_without_tasks_are_left_out() -> None:
    rows = {"none": Row("none", completes("test")), "429": Row("429", completes("test"))}

    assert tally(rows, [], [], media={}, executions={}, now=NOW) == []
