"""Provider webhooks through the real local stack: the fake provider calls back signed, as fal and Replicate
do, and the waiting execution polls at once; a dropped webhook costs only the fallback wait; a forged,
stale, replayed or unknown one is refused and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from local.config import FAKE_WEBHOOK_SECRET

pytestmark = pytest.mark.e2e

FAL_MODEL = "kling-2.1-fal"
REPLICATE_MODEL = "kling-2.5-turbo-replicate"
# The fallback wait when a webhook is awaited: far longer than a task may take here, so a task that
# completes in time was woken by its webhook, not by a poll.
LONG_FALLBACK = "600"


def fake_stats(stack: Any, external_id: str) -> dict[str, Any]:
    jobs = httpx.get(f"{stack.provider_url}/_fake/stats", timeout=10, trust_env=False).json()["jobs"]
    return next(job for job in jobs if job["id"] == external_id)


def create(client: httpx.Client, model: str, prompt: str) -> str:
    created = client.post("/tasks", json={"prompt": prompt, "model": model})
    assert created.status_code == 201, created.text
    return str(created.json()["data"]["videoId"])


@pytest.mark.parametrize("model", [FAL_MODEL, REPLICATE_MODEL])
def test_the_providers_webhook_wakes_the_task_which_then_needs_one_status_call(
    local_stack_factory, user_id, wait_for_terminal, model
):
    stack = local_stack_factory(private=True, POLL_WEBHOOK_MAX_SECONDS=LONG_FALLBACK)
    with stack.http(user_id) as client:
        video_id = create(client, model, "a lighthouse at dawn")
        task = wait_for_terminal(client, video_id, stack.completion_deadline())

    assert task["status"] == "COMPLETED", task
    served = fake_stats(stack, task["externalVideoId"])
    assert served["webhooksSent"] >= 1
    assert served["statusCalls"] == 1, "the poll after the webhook; Archive reuses what it saw"


def test_a_dropped_webhook_costs_only_the_fallback_wait(local_stack_factory, user_id, wait_for_terminal):
    stack = local_stack_factory(private=True, POLL_WEBHOOK_MAX_SECONDS="3")
    with stack.http(user_id) as client:
        video_id = create(client, FAL_MODEL, "a quiet harbour [fault:drop_webhook]")
        task = wait_for_terminal(client, video_id, stack.completion_deadline(extra_polls=10))

    assert task["status"] == "COMPLETED", task
    assert fake_stats(stack, task["externalVideoId"])["webhooksSent"] == 0


def standard_webhook(body: bytes, *, secret: str = FAKE_WEBHOOK_SECRET, at: int | None = None, msg: str = "") -> dict:
    msg = msg or f"msg_{uuid.uuid4().hex}"
    at = int(time.time()) if at is None else at
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{msg}.{at}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg, "webhook-timestamp": str(at), "webhook-signature": f"v1,{signature}"}


def test_bad_webhooks_are_refused_and_change_nothing_and_a_good_one_is_taken_once(local_stack_factory, user_id):
    # Jobs long enough to stay running through the test; webhooks off, so only ours arrive.
    stack = local_stack_factory(
        private=True, FAKE_VIDEO_SECONDS="120", FAKE_WEBHOOKS="0", POLL_WEBHOOK_MAX_SECONDS=LONG_FALLBACK
    )
    with stack.http(user_id) as client:
        video_id = create(client, REPLICATE_MODEL, "a slow sunset")
        deadline = time.monotonic() + 30
        while (task := client.get(f"/tasks/{video_id}").json()["data"])["status"] != "PROCESSING":
            assert time.monotonic() < deadline, task
            time.sleep(0.2)
    job = task["externalVideoId"]
    body = json.dumps({"id": job, "status": "succeeded"}).encode()
    hook = f"{stack.api_url}/webhooks/replicate"
    other_secret = "whsec_" + base64.b64encode(b"not-the-providers-secret-at-all!").decode()
    unknown = json.dumps({"id": "no-such-prediction", "status": "succeeded"}).encode()
    refused = {
        "forged": (hook, body, standard_webhook(body, secret=other_secret), 401),
        "stale": (hook, body, standard_webhook(body, at=int(time.time()) - 360), 401),
        "unsigned": (hook, body, {}, 401),
        "unknown job": (hook, unknown, standard_webhook(unknown), 404),
        "unknown provider": (f"{stack.api_url}/webhooks/nobody", body, standard_webhook(body), 404),
        "provider without webhooks": (f"{stack.api_url}/webhooks/gemini", body, standard_webhook(body), 404),
    }
    before = stored(stack, video_id)
    polls_before = fake_stats(stack, job)["statusCalls"]

    for name, (url, payload, headers, status) in refused.items():
        reply = httpx.post(url, content=payload, headers=headers, timeout=10, trust_env=False)
        assert reply.status_code == status, (name, reply.text)
        assert reply.json()["success"] is False and reply.json()["error"]["message"], name

    assert stored(stack, video_id) == before
    assert webhook_items(stack) == []
    good = standard_webhook(body)
    accepted = httpx.post(hook, content=body, headers=good, timeout=10, trust_env=False)
    assert accepted.status_code == 200, accepted.text
    replayed = httpx.post(hook, content=body, headers=good, timeout=10, trust_env=False)
    assert replayed.status_code == 401 and "already received" in replayed.json()["error"]["message"]
    deadline = time.monotonic() + 30
    while fake_stats(stack, job)["statusCalls"] == polls_before:  # woken: it polls now, not in 10 minutes
        assert time.monotonic() < deadline, "the accepted webhook did not wake the task"
        time.sleep(0.2)
    time.sleep(1)
    assert fake_stats(stack, job)["statusCalls"] == polls_before + 1, "the replay woke nothing"
    assert stored(stack, video_id)["status"]["S"] == "PROCESSING", "the webhook's body is not trusted: the poll says"


def stored(stack: Any, video_id: str) -> dict[str, Any]:
    dynamodb = stack.boto3_client("dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if "TasksTable" in name)
    return dynamodb.get_item(TableName=table, Key={"videoId": {"S": video_id}}, ConsistentRead=True)["Item"]


def webhook_items(stack: Any) -> list[str]:
    dynamodb = stack.boto3_client("dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if "WebhooksTable" in name)
    return [item["id"]["S"] for item in dynamodb.scan(TableName=table)["Items"] if item["id"]["S"].startswith("SEEN#")]
