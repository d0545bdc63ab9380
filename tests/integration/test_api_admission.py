"""Plans, the creates-per-minute limit, the daily video-seconds quota, POST /tasks/batch and GET /usage,
through the API function with moto: what each refusal says, and that a refused create writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.token import make_token
from tests.fixtures.environment import reset_caches
from tests.fixtures.tokens import JWT_SECRET
from tests.integration.api_harness import BASE, USER, Api, executions, item_count
from videotasks.adapters.executions import Executions
from videotasks.domain.batch import MAX_BATCH_TASKS

pytest_plugins = ["tests.integration.api_fixtures"]

# Inside one minute and one day, so no window ends while a test runs.
NOW = datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=UTC)
MINUTE_ENDS = "2026-03-14T15:10:00.000Z"
DAY_ENDS = "2026-03-15T00:00:00.000Z"
DEFAULT_SECONDS = 8  # the default model's default duration


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    for module in ("videotasks.services.tasks", "videotasks.services.admission"):
        monkeypatch.setattr(f"{module}.utc_now", lambda: NOW)
    return NOW


@pytest.fixture
def limits(api: Api, monkeypatch: pytest.MonkeyPatch, clock: datetime) -> Any:
    """``limits(CREATES_PER_MINUTE=3, ...)``: the API function's settings with these limits."""

    def set_limits(**variables: Any) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, str(value))
        reset_caches()

    return set_limits


def as_plan(api: Api, plan: str | None, user: str = USER) -> Api:
    """The API as ``user`` with a token whose plan claim is ``plan``."""
    claims = {"plan": plan} if plan is not None else {}
    token = make_token(user, JWT_SECRET, **claims)
    unsigned = api.as_user(None)

    class WithPlan(Api):
        def event(self, method: str, path: str, **parts: Any) -> dict[str, Any]:
            headers = {**(parts.pop("headers", None) or {}), "authorization": f"Bearer {token}"}
            return unsigned.event(method, path, headers=headers, **parts)

    return WithPlan(unsigned._invoke, unsigned._api_event, user)


def batch(api: Api, bodies: list[dict[str, Any]], *, key: str | None = None):
    return api.call(
        "POST", f"{BASE}/tasks/batch", body={"tasks": bodies}, headers={"idempotency-key": key} if key else None
    )


def usage(api: Api) -> dict[str, Any]:
    reply = api.call("GET", f"{BASE}/usage")
    assert reply.status == 200, reply.body
    return dict(reply.data)


def tasks_written(aws_stack) -> int:
    return item_count(aws_stack, "TASKS_TABLE")


# -- creates per minute ---------------------------------------------------------------------------------------
def test_creates_past_the_minutes_limit_are_429_rate_limited_until_the_window_ends(api: Api, aws_stack, limits):
    limits(CREATES_PER_MINUTE=3)
    for _ in range(3):
        assert api.create().status == 201

    reply = api.create()

    error = reply.error(429, "RATE_LIMITED")
    assert reply.headers["Retry-After"] == "34"  # 15:09:26.535 -> 15:10:00
    assert error["details"][0] == {
        "field": "createsPerMinute",
        "message": "limit reached",
        "limit": 3,
        "resetsAt": MINUTE_ENDS,
    }
    assert "3 a minute" in reply.body["message"] and MINUTE_ENDS in reply.body["message"]
    assert tasks_written(aws_stack) == 3
    assert len(executions(aws_stack)) == 3
    assert api.stats().data["total"] == 3


def test_the_next_minute_opens_a_new_window(api: Api, monkeypatch, limits):
    limits(CREATES_PER_MINUTE=1)
    assert api.create().status == 201
    assert api.create().status == 429

    later = NOW + timedelta(seconds=40)
    monkeypatch.setattr("videotasks.services.tasks.utc_now", lambda: later)

    assert api.create().status == 201


def test_the_limit_is_per_user(api: Api, limits):
    limits(CREATES_PER_MINUTE=1)
    assert api.create().status == 201
    assert api.as_user("bob").create().status == 201
    assert api.create().status == 429


def test_a_429_reads_in_the_callers_language(api: Api, limits):
    limits(CREATES_PER_MINUTE=1)
    api.create()

    reply = api.call("POST", f"{BASE}/tasks", body={"prompt": "x"}, headers={"accept-language": "zh-CN"})

    reply.error(429, "RATE_LIMITED")
    assert "每分钟最多创建 1 个任务" in reply.body["message"]


# -- video seconds per day ------------------------------------------------------------------------------------
def test_video_seconds_past_the_days_quota_are_429_quota_exceeded_saying_when_it_resets(api: Api, aws_stack, limits):
    limits(VIDEO_SECONDS_PER_DAY=2 * DEFAULT_SECONDS + 1)
    assert api.create().status == 201
    assert api.create().status == 201

    reply = api.create()

    error = reply.error(429, "QUOTA_EXCEEDED")
    assert error["details"][0] == {
        "field": "videoSecondsPerDay",
        "message": "quota reached",
        "limit": 17,
        "requested": DEFAULT_SECONDS,
        "resetsAt": DAY_ENDS,
    }
    assert reply.headers["Retry-After"] == str(int((datetime(2026, 3, 15, tzinfo=UTC) - NOW).total_seconds()) + 1)
    assert tasks_written(aws_stack) == 2
    # An image asks for no video seconds: a full quota does not stop it.
    assert api.create(type="IMAGE", prompt="a red kite").status == 201
    assert usage(api)["usage"]["videoSecondsToday"] == 16


def test_a_request_for_more_than_the_whole_quota_is_refused_without_a_write(api: Api, aws_stack, limits):
    limits(VIDEO_SECONDS_PER_DAY=DEFAULT_SECONDS - 1)

    api.create().error(429, "QUOTA_EXCEEDED")

    assert item_count(aws_stack, "STATS_TABLE") == 0
    assert tasks_written(aws_stack) == 0


def test_a_task_cancelled_before_its_provider_took_it_gives_its_seconds_back(api: Api, steps, limits):
    limits(VIDEO_SECONDS_PER_DAY=DEFAULT_SECONDS)
    waiting = api.create_id()
    api.create().error(429, "QUOTA_EXCEEDED")

    assert api.cancel(waiting).status == 200
    assert api.cancel(waiting).status == 409  # ended once, given back once

    assert usage(api)["usage"]["videoSecondsToday"] == 0
    running = api.create_id()
    steps.submit(running)  # the provider has the job now: it may have been paid for
    assert api.cancel(running).status == 200
    assert usage(api)["usage"]["videoSecondsToday"] == DEFAULT_SECONDS


def test_a_task_whose_workflow_cannot_start_gives_its_seconds_back(api: Api, monkeypatch, limits):
    limits(VIDEO_SECONDS_PER_DAY=DEFAULT_SECONDS)

    def refuse(self, video_id, *, webhook_base=None):
        raise RuntimeError("Step Functions is down")

    monkeypatch.setattr(Executions, "start", refuse)

    assert api.create().status == 500

    assert usage(api)["usage"]["videoSecondsToday"] == 0


# -- plans ----------------------------------------------------------------------------------------------------
def test_the_tokens_plan_claim_picks_its_limits_and_an_unknown_plan_gets_the_default(api: Api, repository, limits):
    limits(CREATES_PER_MINUTE=1, PLANS='{"pro": {"createsPerMinute": 3, "videoSecondsPerDay": 100}}')
    pro = as_plan(api, "pro")
    stranger = as_plan(api, "platinum", user="carol")

    created = [pro.create() for _ in range(4)]

    assert [reply.status for reply in created] == [201, 201, 201, 429]
    assert repository.get(created[0].data["videoId"]).plan == "pro"
    assert usage(pro)["limits"] == {"maxGenerating": 3, "createsPerMinute": 3, "videoSecondsPerDay": 100}
    assert stranger.create().status == 201
    assert stranger.create().status == 429
    assert usage(stranger)["plan"] == "free"
    assert repository.get(stranger.list().data["items"][0]["videoId"]).plan == "free"


def test_usage_shows_the_plan_its_limits_what_is_used_and_when_each_resets(api: Api, steps, limits):
    limits(CREATES_PER_MINUTE=10, VIDEO_SECONDS_PER_DAY=1000, MAX_GENERATING_PER_USER=2)
    first = api.create_id()
    api.create_id()
    api.create(type="IMAGE", prompt="a red kite")
    steps.submit(first)

    assert usage(api) == {
        "plan": "free",
        "limits": {"maxGenerating": 2, "createsPerMinute": 10, "videoSecondsPerDay": 1000},
        "usage": {"createsThisMinute": 3, "videoSecondsToday": 16, "generating": 1, "queued": 2},
        "resets": {"createsPerMinute": MINUTE_ENDS, "videoSecondsPerDay": DAY_ENDS},
    }
    assert usage(api.as_user("bob"))["usage"] == {
        "createsThisMinute": 0,
        "videoSecondsToday": 0,
        "generating": 0,
        "queued": 0,
    }


# -- batch ----------------------------------------------------------------------------------------------------
def test_a_batch_creates_every_task_in_order_and_starts_each(api: Api, aws_stack, repository, clock):
    bodies = [{"prompt": f"shot {index}"} for index in range(3)] + [{"prompt": "poster", "type": "IMAGE"}]

    reply = batch(api, bodies)

    assert reply.status == 201, reply.body
    items = reply.data["items"]
    assert [item["prompt"] for item in items] == ["shot 0", "shot 1", "shot 2", "poster"]
    assert len({item["videoId"] for item in items}) == 4
    assert all(item["status"] == "QUEUED" for item in items)
    assert len(executions(aws_stack)) == 4
    stats = api.stats().data
    assert (stats["total"], stats["byType"]) == (4, {"VIDEO": 3, "IMAGE": 1})
    assert usage(api)["usage"]["createsThisMinute"] == 4
    assert usage(api)["usage"]["videoSecondsToday"] == 3 * DEFAULT_SECONDS
    assert all(repository.get(item["videoId"]).plan == "free" for item in items)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"prompt": ""}, "tasks[2].prompt"),
        ({"prompt": "x", "seconds": 999}, "tasks[2].seconds"),
        ({"prompt": "x", "duration": 999}, "tasks[2].duration"),  # an old client's name, as it sent it
        ({"prompt": "x", "seconds": 5}, "tasks[2].seconds"),  # the catalog's refusal: no 5 s on this model
        ({"prompt": "x", "model": "no-such-model"}, "tasks[2].model"),
        ({"prompt": "x", "colour": "red"}, "tasks[2].colour"),
    ],
)
def test_one_bad_item_refuses_the_batch_naming_its_index_and_field_and_nothing_is_written(
    api: Api, aws_stack, bad, field
):
    reply = batch(api, [{"prompt": "a"}, {"prompt": "b"}, bad, {"prompt": "d"}])

    reply.validation_error(field)
    assert reply.fields()[0] == field
    assert reply.body["message"].startswith(f"{field}: ")
    assert tasks_written(aws_stack) == 0
    assert item_count(aws_stack, "STATS_TABLE") == 0
    assert executions(aws_stack) == []


@pytest.mark.parametrize("count", [0, MAX_BATCH_TASKS + 1])
def test_an_empty_batch_or_one_of_more_than_twenty_is_a_400_naming_tasks(api: Api, aws_stack, count):
    reply = batch(api, [{"prompt": "x"}] * count)

    reply.validation_error("tasks")
    assert reply.fields() == ["tasks"]
    assert tasks_written(aws_stack) == 0


def test_twenty_tasks_are_one_batch(api: Api, aws_stack):
    reply = batch(api, [{"prompt": f"take {index}"} for index in range(MAX_BATCH_TASKS)])

    assert reply.status == 201, reply.body
    assert len(reply.data["items"]) == MAX_BATCH_TASKS
    assert tasks_written(aws_stack) == MAX_BATCH_TASKS


def test_a_batch_past_the_rate_limit_or_the_quota_creates_none_of_its_tasks(api: Api, aws_stack, limits):
    limits(CREATES_PER_MINUTE=5, VIDEO_SECONDS_PER_DAY=4 * DEFAULT_SECONDS)
    assert api.create().status == 201

    batch(api, [{"prompt": "x", "type": "IMAGE"}] * 5).error(429, "RATE_LIMITED")
    batch(api, [{"prompt": "x"}] * 4).error(429, "QUOTA_EXCEEDED")

    assert tasks_written(aws_stack) == 1
    assert batch(api, [{"prompt": "x"}] * 3).status == 201
    assert tasks_written(aws_stack) == 4


def test_one_idempotency_key_covers_the_whole_batch(api: Api, aws_stack):
    bodies = [{"prompt": "one"}, {"prompt": "two"}]
    first = batch(api, bodies, key="batch-0001")
    again = batch(api, bodies, key="batch-0001")

    assert (first.status, again.status) == (201, 200)
    assert [item["videoId"] for item in again.data["items"]] == [item["videoId"] for item in first.data["items"]]
    assert tasks_written(aws_stack) == 2
    batch(api, [{"prompt": "three"}], key="batch-0001").error(409, "CONFLICT")
    # A single create with the same key is another request: it makes its own task.
    assert api.create(key="batch-0001").status == 201


def test_a_batch_task_whose_workflow_cannot_start_is_failed_alone(api: Api, monkeypatch):
    real_start = Executions.start
    calls: list[str] = []

    def second_fails(self, video_id, *, webhook_base=None):
        calls.append(video_id)
        if len(calls) == 2:
            raise RuntimeError("Step Functions is down")
        return real_start(self, video_id, webhook_base=webhook_base)

    monkeypatch.setattr(Executions, "start", second_fails)

    reply = batch(api, [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}])

    assert reply.status == 201, reply.body
    assert [item["status"] for item in reply.data["items"]] == ["QUEUED", "FAILED", "QUEUED"]
    assert reply.data["items"][1]["error"]["code"] == "INTERNAL"
