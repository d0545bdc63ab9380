"""Time budgets through the real local stack: a provider status call that hangs longer than the Poll
function's Lambda timeout (enforced locally from template.yaml) still lets the task end, and never as
INTERNAL. The client's per-phase timeout is set far above the Lambda timeout here, so only the deadline
taken from the invocation's remaining time can stop the hung call in time."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from local.fake_provider import FAULTS

pytestmark = pytest.mark.e2e

HANG = FAULTS["hang_status"]
NO_PHASE_TIMEOUT_BEFORE_LAMBDAS = "120"  # seconds: PROVIDER_TIMEOUT_SECONDS well past Poll's 30 s


def test_a_poll_hanging_past_the_poll_functions_timeout_still_ends_the_task_never_internal(
    local_stack_factory: Any, user_id: str, wait_for_terminal: Any
) -> None:
    stack = local_stack_factory(PROVIDER_TIMEOUT_SECONDS=NO_PHASE_TIMEOUT_BEFORE_LAMBDAS)
    assert HANG.hang_seconds is not None

    with stack.http(user_id) as client:
        created = client.post("/tasks", json={"prompt": "a lighthouse at dawn [fault:hang_status]"})
        assert created.status_code == 201, created.text
        video_id = created.json()["data"]["videoId"]
        # Bound on waiting only: the hung poll, its retry or next poll, and a healthy task's time.
        task = wait_for_terminal(client, video_id, stack.completion_deadline() + 2 * HANG.hang_seconds)

    assert (task["error"] or {}).get("code") != "INTERNAL", task
    assert task["status"] == "COMPLETED", task  # the deadline gave up on the hung call; the next poll answered
    jobs = httpx.get(f"{stack.provider_url}/fake/jobs", timeout=10, trust_env=False).json()["jobs"]
    (job,) = [job for job in jobs if job["id"] == task["externalVideoId"]]
    assert job["calls"]["status"] > HANG.first_calls  # the hung call happened, and later ones were answered
