"""The fair per-user queue on the real local stack, at a small scale (`make reliability` runs the big rows,
bench/reliability_queue.py): at most N of a user's jobs at the provider at once, high before normal before
low, queuePosition while waiting, a cancel frees the slot, and a task that waits past its deadline fails
with QUEUE_TIMEOUT."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bench.reliability_queue import max_overlap, provider_jobs
from tests.fixtures.providers import RELAY_MODEL

pytestmark = pytest.mark.e2e


def _create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = client.post("/tasks", json={"prompt": "a queued lighthouse", **body})
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["data"])


def _wait_status(client: httpx.Client, video_id: str, statuses: set[str], seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        task = client.get(f"/tasks/{video_id}").json()["data"]
        if task["status"] in statuses or time.monotonic() > deadline:
            return dict(task)
        time.sleep(0.2)


def test_a_users_tasks_never_generate_more_than_n_at_once_and_all_finish(
    local_stack_factory, user_id, wait_for_terminal
):
    stack = local_stack_factory(MAX_GENERATING_PER_USER=2, FAKE_VIDEO_SECONDS=2)
    with stack.http(user_id) as client, ThreadPoolExecutor(6) as pool:
        created = list(pool.map(lambda _: _create(client), range(6)))
        assert all(task["priority"] == "normal" for task in created)
        seen_positions: set[int] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            tasks = client.get("/tasks", params={"limit": 20}).json()["data"]["items"]
            seen_positions |= {task["queuePosition"] for task in tasks if task["queuePosition"] is not None}
            assert all(task["queuePosition"] is None for task in tasks if task["status"] != "QUEUED")
            if all(task["status"] in {"COMPLETED", "FAILED", "CANCELLED"} for task in tasks):
                break
            time.sleep(0.2)
        ended = [wait_for_terminal(client, task["videoId"], 5) for task in created]

    assert [task["status"] for task in ended] == ["COMPLETED"] * 6
    assert seen_positions and min(seen_positions) == 1, seen_positions
    jobs = provider_jobs(stack, {task["externalVideoId"] for task in ended})
    assert len(jobs) == 6
    assert max_overlap(jobs) <= 2


def test_waiting_tasks_start_high_before_normal_before_low_then_by_age(local_stack_factory, user_id):
    stack = local_stack_factory(MAX_GENERATING_PER_USER=1, FAKE_VIDEO_SECONDS=2)
    with stack.http(user_id) as client:
        # A job that never finishes holds the slot until all the others wait; its cancel frees it.
        blocker = _create(client, model=RELAY_MODEL, prompt="a queued lighthouse [fault:stuck]")
        assert _wait_status(client, blocker["videoId"], {"PROCESSING"}, 30)["status"] == "PROCESSING"
        order = ["low", "normal", "high", "normal", "high"]
        waiting = [_create(client, priority=priority) for priority in order]
        assert client.post(f"/tasks/{blocker['videoId']}/cancel").status_code == 200
        ended = [_wait_status(client, task["videoId"], {"COMPLETED", "FAILED"}, 90) for task in waiting]

    assert [task["status"] for task in ended] == ["COMPLETED"] * 5
    jobs = provider_jobs(stack, {task["externalVideoId"] for task in ended})
    started = [job["id"] for job in sorted(jobs, key=lambda job: job["createdAt"])]
    by_job = {task["externalVideoId"]: task for task in ended}
    expected = [waiting[i]["videoId"] for i in (2, 4, 1, 3, 0)]  # high, high, normal, normal, low; FIFO within
    assert [by_job[job]["videoId"] for job in started] == expected


def test_cancelling_the_running_task_starts_the_next_one(local_stack_factory, user_id, wait_for_terminal):
    stack = local_stack_factory(MAX_GENERATING_PER_USER=1, FAKE_VIDEO_SECONDS=2)  # the priority test's stack
    with stack.http(user_id) as client:
        first = _create(client, model=RELAY_MODEL, prompt="a queued lighthouse [fault:stuck]")
        assert _wait_status(client, first["videoId"], {"PROCESSING"}, 30)["status"] == "PROCESSING"
        second = _create(client)
        waiting = _wait_status(client, second["videoId"], {"PROCESSING"}, 3)
        assert waiting["status"] == "QUEUED" and waiting["queuePosition"] == 1, waiting

        assert client.post(f"/tasks/{first['videoId']}/cancel").status_code == 200
        started = _wait_status(client, second["videoId"], {"PROCESSING", "COMPLETED"}, 15)
        assert started["status"] in {"PROCESSING", "COMPLETED"} and started["queuePosition"] is None, started
        assert wait_for_terminal(client, second["videoId"], 30)["status"] == "COMPLETED"


def test_a_task_waiting_past_its_deadline_fails_with_queue_timeout(local_stack_factory, user_id, wait_for_terminal):
    # The running task times out at its own deadline; the high-priority task created meanwhile takes the slot,
    # so the low one waits until its deadline.
    stack = local_stack_factory(MAX_GENERATING_PER_USER=1, FAKE_VIDEO_SECONDS=2, TASK_TIMEOUT_SECONDS=10)
    with stack.http(user_id) as client:
        blocker = _create(client, model=RELAY_MODEL, prompt="a queued lighthouse [fault:stuck]")
        assert _wait_status(client, blocker["videoId"], {"PROCESSING"}, 30)["status"] == "PROCESSING"
        low = _create(client, priority="low")
        high = _create(client, priority="high")
        ended = wait_for_terminal(client, low["videoId"], 40)
        client.post(f"/tasks/{high['videoId']}/cancel")

    assert ended["status"] == "FAILED" and ended["error"]["code"] == "QUEUE_TIMEOUT", ended
    assert ended["queuePosition"] is None
