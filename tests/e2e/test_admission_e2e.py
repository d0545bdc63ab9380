"""Plans, rate limits and quotas through the real local stack, on small limits: the short variant of the
limits suite of `make reliability` (bench/reliability_limits.py), and what a client reads at the edges."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.reliability import STACK_ENV
from bench.reliability_limits import (
    QUOTA_PLAN,
    QUOTA_STORM,
    QUOTA_TASKS,
    RATE_LIMIT,
    RATE_STORM,
    limits_env,
    run_limits,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def limits_stack(local_stack_factory: Any) -> Any:
    # A provider call may wait longer than the suite's 5 s on shared cores busy with other stacks.
    return local_stack_factory(**{**STACK_ENV, "PROVIDER_TIMEOUT_SECONDS": "20"}, **limits_env())


@pytest.mark.reliability
def test_concurrent_creates_never_pass_a_limit_and_every_created_task_ends(limits_stack: Any) -> None:
    report = asyncio.run(run_limits(limits_stack, users=2, creates=RATE_LIMIT * 3))

    rows = {row.name: row for row in report.rows}
    # Each user fills the minute its storm starts in (a storm that runs into the next minute may fill more).
    assert rows[RATE_STORM].tasks >= 2 * RATE_LIMIT, report.render()
    assert rows[QUOTA_STORM].tasks == 2 * QUOTA_TASKS, report.render()
    for row in report.rows:
        assert row.ok, f"row {row.name!r}:\n{report.render()}"
        assert row.outcomes["completed"] == row.tasks, report.render()


def test_usage_and_a_batch_through_the_gateway(limits_stack: Any, user_id: str) -> None:
    token = limits_stack.token(user_id, plan=QUOTA_PLAN)
    with limits_stack.http() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        created = client.post("/tasks/batch", json={"tasks": [{"prompt": "a", "seconds": 10, "model": "sora_video2"}]})
        too_many = client.post(
            "/tasks/batch", json={"tasks": [{"prompt": "b", "seconds": 10, "model": "sora_video2"}] * QUOTA_TASKS}
        )
        usage = client.get("/usage")

    assert created.status_code == 201, created.text
    assert len(created.json()["data"]["items"]) == 1
    assert too_many.status_code == 429, too_many.text
    assert too_many.json()["error"]["code"] == "QUOTA_EXCEEDED"
    assert int(too_many.headers["Retry-After"]) >= 1
    data = usage.json()["data"]
    assert data["plan"] == QUOTA_PLAN
    assert data["limits"]["videoSecondsPerDay"] == QUOTA_TASKS * 10
    assert data["usage"]["videoSecondsToday"] == 10
    assert data["usage"]["createsThisMinute"] == 1
