"""Admission's pure rules: the windows, what a task costs, when its seconds come back, what a 429 says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from videotasks.domain.admission import (
    Charge,
    day_window,
    minute_window,
    refund_day,
    refundable,
    seconds_until,
    video_seconds,
)
from videotasks.domain.errors import QuotaExceededError, RateLimitedError
from videotasks.domain.models import Task, TaskType
from videotasks.domain.plans import Limits

LIMITS = Limits(max_generating=3, creates_per_minute=5, video_seconds_per_day=60)
AT = datetime(2026, 12, 31, 23, 59, 58, 250000, tzinfo=UTC)


def task(user: str = "alice", **fields: object) -> Task:
    values: dict[str, object] = {
        "videoId": "video_1",
        "userId": user,
        "prompt": "p",
        "model": "m",
        "seconds": 8,
        "createdAt": "2026-12-31T23:59:58.250Z",
        "updatedAt": "2026-12-31T23:59:58.250Z",
        **fields,
    }
    return Task.model_validate(values)


def test_windows_are_the_utc_minute_and_the_utc_day_and_end_where_the_next_begins():
    assert minute_window(AT) == ("202612312359", datetime(2027, 1, 1, tzinfo=UTC))
    assert day_window(AT) == ("20261231", datetime(2027, 1, 1, tzinfo=UTC))
    assert minute_window(datetime(2027, 1, 1, tzinfo=UTC))[0] == "202701010000"


def test_retry_after_is_whole_seconds_rounded_up_and_never_zero():
    assert seconds_until(datetime(2027, 1, 1, tzinfo=UTC), AT) == 2
    assert seconds_until(AT, AT) == 1


def test_an_image_costs_no_video_seconds_and_a_video_its_own():
    assert video_seconds(task(seconds=12)) == 12
    assert video_seconds(task(type=TaskType.IMAGE, seconds=None)) == 0


def test_only_a_task_no_provider_took_gives_its_seconds_back_to_the_day_it_was_created():
    assert refundable(task())
    assert not refundable(task(externalTaskId="job-1"))
    assert not refundable(task(type=TaskType.IMAGE, seconds=None))
    assert refund_day(task()) == "20261231"


def test_a_charge_sums_its_tasks_and_refuses_more_than_a_whole_window_at_once():
    charge = Charge.of([task(), task(seconds=4)], LIMITS, AT)
    assert (charge.creates, charge.video_seconds) == (2, 12)
    charge.refuse_beyond_limits()

    with pytest.raises(RateLimitedError):
        Charge.of([task()] * 6, LIMITS, AT).refuse_beyond_limits()
    with pytest.raises(QuotaExceededError) as refused:
        Charge.of([task(seconds=61)], LIMITS, AT).refuse_beyond_limits()
    assert refused.value.retry_after_seconds == 2
    assert refused.value.details[0]["resetsAt"] == "2027-01-01T00:00:00.000Z"


def test_a_charge_covers_one_user():
    with pytest.raises(ValueError, match="one user"):
        Charge.of([task("alice"), task("bob")], LIMITS, AT)


def test_the_429s_say_the_limit_and_when_it_resets_in_both_languages():
    charge = Charge.of([task()], LIMITS, AT)
    limited, exceeded = charge.rate_limited(), charge.quota_exceeded()

    assert (limited.code, limited.http_status, limited.retry_after_seconds) == ("RATE_LIMITED", 429, 2)
    assert (exceeded.code, exceeded.http_status) == ("QUOTA_EXCEEDED", 429)
    assert "5 a minute" in limited.user_message("en") and "2027-01-01T00:00:00.000Z" in limited.user_message("en")
    assert "每分钟最多创建 5 个任务" in limited.user_message("zh-CN")
    assert "60 video seconds a day" in exceeded.user_message("en")
    assert "每天最多生成 60 秒视频" in exceeded.user_message("zh-CN")
