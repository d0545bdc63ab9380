"""Outbound webhooks through the real local stack: a task created with a callbackUrl on 127.0.0.1 sends its
ending, signed, to the receiver within seconds; a receiver that fails first gets the same event (same
webhook-id) again until it takes it; SSRF attempts are refused at create. The long variants (timeouts, 410,
a receiver down for a while, dead letters) are the reliability row (bench/reliability_callbacks.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from local.fake_receiver import FakeReceiver

pytestmark = pytest.mark.e2e

# Retries within seconds: 1 s, then 2 s between attempts, for at most 20 s.
FAST_RETRIES = {
    "CALLBACK_RETRY_BASE_SECONDS": "1",
    "CALLBACK_RETRY_MAX_DELAY_SECONDS": "2",
    "CALLBACK_RETRY_WINDOW_SECONDS": "20",
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[FakeReceiver]:
    server = FakeReceiver({"/flaky": [500, 503, 200]})
    yield server
    server.stop()


def wait_for(receiver: FakeReceiver, path: str, count: int, seconds: float) -> list[Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(received := receiver.received(path)) >= count:
            return received
        time.sleep(0.2)
    raise AssertionError(f"{path}: {len(receiver.received(path))} deliveries of {count} within {seconds} s")


def test_an_ended_task_is_posted_signed_to_its_callback_url_within_seconds(
    local_stack_factory: Any, user_id: str, wait_for_terminal: Any, receiver: FakeReceiver
) -> None:
    stack = local_stack_factory(**FAST_RETRIES)
    with stack.http(user_id) as client:
        created = client.post("/tasks", json={"prompt": "a kite over dunes", "callbackUrl": receiver.url("/done")})
        assert created.status_code == 201, created.text
        video_id = created.json()["data"]["videoId"]
        task = wait_for_terminal(client, video_id, stack.completion_deadline())
        ended = time.time()
        secret = client.get("/webhook-secret").json()["data"]["secret"]

    [delivery] = wait_for(receiver, "/done", 1, 15)
    assert delivery.at - ended < 10, "delivered within seconds of the ending"
    event = Webhook(secret).verify(delivery.body, delivery.headers)
    assert (event["type"], event["data"]["videoId"], event["data"]["status"]) == (
        "task.completed",
        video_id,
        "COMPLETED",
    )
    assert event["data"]["videoUrl"] and task["status"] == "COMPLETED"
    time.sleep(2)
    assert len(receiver.received("/done")) == 1, "delivered once"


def test_a_failing_receiver_gets_the_same_event_again_until_it_takes_it(
    local_stack_factory: Any, user_id: str, receiver: FakeReceiver
) -> None:
    stack = local_stack_factory(**FAST_RETRIES)
    with stack.http(user_id) as client:
        created = client.post(
            "/tasks", json={"prompt": "a slow tide", "callbackUrl": receiver.url("/flaky"), "priority": "low"}
        )
        video_id = created.json()["data"]["videoId"]
        assert client.post(f"/tasks/{video_id}/cancel").status_code == 200
        deliveries = wait_for(receiver, "/flaky", 3, 30)
        secret = client.get("/webhook-secret").json()["data"]["secret"]
        attempts = client.get(f"/tasks/{video_id}/deliveries").json()["data"]["items"]

    assert {d.headers["webhook-id"] for d in deliveries} == {deliveries[0].headers["webhook-id"]}
    for delivery in deliveries:
        assert Webhook(secret).verify(delivery.body, delivery.headers)["type"] == "task.cancelled"
    assert [(a["statusCode"], a["outcome"]) for a in attempts] == [(500, "retry"), (503, "retry"), (200, "delivered")]


def test_ssrf_callback_urls_are_refused_at_create_even_locally(local_stack_factory: Any, user_id: str) -> None:
    stack = local_stack_factory(**FAST_RETRIES)
    with stack.http(user_id) as client:
        for url in (
            "http://10.0.0.1:8080/x",
            "http://localhost:8080/x",
            "https://169.254.169.254/",
            "http://[::1]:80/",
        ):
            reply = client.post("/tasks", json={"prompt": "p", "callbackUrl": url})
            assert reply.status_code == 400, (url, reply.text)
            assert reply.json()["error"]["details"][0]["field"] == "callbackUrl"
        assert client.get("/tasks").json()["total"] == 0
