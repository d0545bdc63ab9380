"""Recognising the job a lost create reply would have named: the rules a retried Submit applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from videotasks.domain.submission import ListedJob, Wanted, adoptable_job, idempotency_key, matching_jobs

MARK = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
WANTED = Wanted("a fox", "sora-2", 4, "1280x720", since=MARK, until=MARK + timedelta(seconds=30))


def listed(job_id: str = "video_1", **fields: object) -> ListedJob:
    values: dict[str, object] = {
        "created_at": MARK + timedelta(seconds=5),
        "prompt": "a fox",
        "model": "sora-2",
        "seconds": "4",
        "size": "1280x720",
    }
    values.update(fields)
    return ListedJob(id=job_id, **values)  # type: ignore[arg-type]


def test_the_idempotency_key_is_stable_per_task() -> None:
    assert idempotency_key("video_abc") == idempotency_key("video_abc") == "videotasks-video_abc"
    assert idempotency_key("video_abc") != idempotency_key("video_abd")


def test_a_job_like_the_request_made_in_the_window_matches() -> None:
    assert matching_jobs([listed()], WANTED) == ["video_1"]


def test_fields_the_listing_omits_do_not_count_against_a_match_except_the_prompt() -> None:
    assert matching_jobs([listed(model=None, seconds=None, size=None)], WANTED) == ["video_1"]
    assert matching_jobs([listed(prompt=None)], WANTED) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "a wolf"},
        {"model": "sora-2-pro"},
        {"seconds": "8"},
        {"size": "720x1280"},
        {"created_at": MARK - timedelta(minutes=5)},
        {"created_at": MARK + timedelta(minutes=5)},
        {"created_at": None},
    ],
)
def test_a_job_that_differs_or_falls_outside_the_window_does_not_match(fields: dict[str, object]) -> None:
    assert matching_jobs([listed(**fields)], WANTED) == []


def test_only_a_single_unclaimed_match_is_adopted() -> None:
    assert adoptable_job(["a"], set()) == "a"
    assert adoptable_job(["a", "b"], {"a"}) == "b"
    assert adoptable_job(["a", "b"], set()) is None
    assert adoptable_job(["a"], {"a"}) is None
    assert adoptable_job([], set()) is None
