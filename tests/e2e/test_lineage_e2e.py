"""Retry, remix and delete through the real local stack: a task failed by its provider is retried to
completion, a finished OpenAI-shape video is remixed by the fake provider's remix endpoint, and a delete
tells the owner's socket (``taskDeleted``), answers 404 afterwards and leaves no object in S3."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import websockets

from local.config import FAKE_PROVIDER_KEY
from tests.fixtures.providers import RELAY_MODEL

pytestmark = pytest.mark.e2e

# Long enough to catch a job running at the fake provider, short enough for a quick test.
VIDEO_SECONDS = "8"


def _create(client: httpx.Client, prompt: str) -> str:
    created = client.post("/tasks", json={"model": RELAY_MODEL, "prompt": prompt})
    assert created.status_code == 201, created.text
    return str(created.json()["data"]["videoId"])


def _external_id(client: httpx.Client, video_id: str, deadline_seconds: float) -> str:
    ends = time.monotonic() + deadline_seconds
    while time.monotonic() < ends:
        task = client.get(f"/tasks/{video_id}").json()["data"]
        if task["externalVideoId"]:
            return str(task["externalVideoId"])
        time.sleep(0.2)
    pytest.fail(f"{video_id} never reached the provider")


def test_a_task_its_provider_lost_is_retried_to_completion(local_stack_factory, user_id, wait_for_terminal):
    stack = local_stack_factory(FAKE_VIDEO_SECONDS=VIDEO_SECONDS)
    with stack.http(user_id) as client:
        source = _create(client, "a kite over the dunes")
        job = _external_id(client, source, stack.completion_deadline())
        # The provider forgets the job while it runs: the next poll finds it gone (PROVIDER_JOB_LOST).
        forgotten = httpx.delete(
            f"{stack.provider_url}/v1/videos/{job}",
            headers={"Authorization": f"Bearer {FAKE_PROVIDER_KEY}"},
            timeout=10,
            trust_env=False,
        )
        assert forgotten.status_code == 200, forgotten.text
        failed = wait_for_terminal(client, source, stack.completion_deadline())
        assert failed["status"] == "FAILED", failed

        retried = client.post(f"/tasks/{source}/retry", headers={"Idempotency-Key": f"retry-{source}"})
        assert retried.status_code == 201, retried.text
        again = client.post(f"/tasks/{source}/retry", headers={"Idempotency-Key": f"retry-{source}"})
        retry = retried.json()["data"]
        assert again.status_code == 200 and again.json()["data"]["videoId"] == retry["videoId"]
        assert retry["retryOf"] == source and retry["prompt"] == "a kite over the dunes"
        done = wait_for_terminal(client, retry["videoId"], stack.completion_deadline())

    assert done["status"] == "COMPLETED", done
    assert done["retryOf"] == source
    assert done["externalVideoId"] != job


def test_a_completed_video_is_remixed_to_completion_by_the_provider(local_stack_factory, user_id, wait_for_terminal):
    stack = local_stack_factory(FAKE_VIDEO_SECONDS=VIDEO_SECONDS)
    with stack.http(user_id) as client:
        source = _create(client, "a paper boat in the rain")
        finished = wait_for_terminal(client, source, stack.completion_deadline())
        assert finished["status"] == "COMPLETED", finished

        remixed = client.post(f"/tasks/{source}/remix", json={"prompt": "the same boat, at night"})
        assert remixed.status_code == 201, remixed.text
        remix = remixed.json()["data"]
        done = wait_for_terminal(client, remix["videoId"], stack.completion_deadline())

    assert done["status"] == "COMPLETED", done
    assert (done["remixOf"], done["prompt"], done["model"]) == (source, "the same boat, at night", RELAY_MODEL)
    assert done["videoUrl"]
    jobs = httpx.get(f"{stack.provider_url}/fake/jobs", timeout=10, trust_env=False).json()["jobs"]
    made = next(job for job in jobs if job["id"] == done["externalVideoId"])
    assert made["remixed_from_video_id"] == finished["externalVideoId"]


def test_a_delete_tells_the_owners_socket_and_leaves_nothing_readable(local_stack_factory, user_id, wait_for_terminal):
    stack = local_stack_factory(FAKE_VIDEO_SECONDS=VIDEO_SECONDS)
    with stack.http(user_id) as client:
        video_id = _create(client, "a lantern on a pier")
        task = wait_for_terminal(client, video_id, stack.completion_deadline())
        assert task["status"] == "COMPLETED", task
        assert [key for _, key in stack.objects_naming(video_id)]
        url = task["videoUrl"]

        async def delete_and_listen() -> dict[str, Any]:
            async with websockets.connect(f"{stack.ws_url}/?token={stack.token(user_id)}") as socket:
                await socket.send(json.dumps({"action": "subscribe"}))
                while json.loads(await asyncio.wait_for(socket.recv(), 30))["type"] != "subscribed":
                    pass
                deleted = await asyncio.to_thread(client.delete, f"/tasks/{video_id}")
                assert deleted.status_code == 200, deleted.text
                while True:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 30))
                    if message["type"] == "taskDeleted":
                        return dict(message)

        message = asyncio.run(delete_and_listen())
        assert message["payload"] == {"videoId": video_id, "externalVideoId": task["externalVideoId"]}
        assert client.get(f"/tasks/{video_id}").status_code == 404
        assert client.delete(f"/tasks/{video_id}").status_code == 404
        assert client.get(f"/tasks/{video_id}/content").status_code == 404

    assert [key for _, key in stack.objects_naming(video_id)] == []
    # The link handed out before the delete is still validly signed, but its object is gone.
    assert httpx.get(url, timeout=10, trust_env=False).status_code in (403, 404)
