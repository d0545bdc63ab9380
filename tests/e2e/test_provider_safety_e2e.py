"""What a misbehaving provider cannot do to us, through the real local stack: have HTML stored and served
from our bucket, or bill a second job when the reply to a create is lost."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.fixtures.providers import RELAY_MODEL

pytestmark = pytest.mark.e2e


def test_html_served_as_the_video_fails_the_task_and_stores_nothing(local_stack, user_id, wait_for_terminal):
    with local_stack.http(user_id) as client:
        created = client.post("/tasks", json={"prompt": "an innocent clip [fault:content_html]"})
        assert created.status_code == 201, created.text
        video_id = created.json()["data"]["videoId"]

        task = wait_for_terminal(client, video_id, local_stack.completion_deadline())

    assert task["status"] == "FAILED"
    assert task["error"]["code"] == "PROVIDER_BAD_MEDIA"
    # what was wrong is the owner's to read in details; the message is our sentence for the code
    assert task["error"]["message"] == "The provider's result is not a video or image we can deliver"
    assert "text/html" in task["error"]["details"]["providerMessage"]
    assert [key for _, key in local_stack.objects_naming(video_id)] == []


def test_a_lost_create_reply_is_retried_without_a_second_job_at_the_provider(local_stack_factory, wait_for_terminal):
    # The fake makes the job, then holds the reply for 30 s; the client gives up after 2 s and Step
    # Functions retries Submit, which must find that job rather than create (and pay for) another. Only a
    # shape with an idempotency key or a job listing can (the relay's; docs/PROVIDERS.md says which).
    stack = local_stack_factory(PROVIDER_TIMEOUT_SECONDS="2")
    marker = uuid.uuid4().hex
    prompt = f"billed once {marker} [fault:drop_create_reply]"
    with stack.http(f"e2e-{marker[:12]}") as client:
        created = client.post("/tasks", json={"prompt": prompt, "model": RELAY_MODEL})
        assert created.status_code == 201, created.text
        video_id = created.json()["data"]["videoId"]

        task = wait_for_terminal(client, video_id, stack.completion_deadline(extra_polls=10))

    assert task["status"] == "COMPLETED", task
    jobs = httpx.get(f"{stack.provider_url}/fake/jobs", timeout=10, trust_env=False).json()["jobs"]
    ours = [job for job in jobs if marker in job["prompt"]]
    assert [job["id"] for job in ours] == [task["externalVideoId"]]
    stats = httpx.get(f"{stack.provider_url}/_fake/stats", timeout=10, trust_env=False).json()["jobs"]
    assert [job["id"] for job in stats if job["id"] == task["externalVideoId"]] == [task["externalVideoId"]]
