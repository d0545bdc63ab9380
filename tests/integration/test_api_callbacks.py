"""Outbound webhooks through the API function and the delivery step, in process with moto: callbackUrl
refusals (400 naming it, nothing written), the signing secret routes, the deliveries route, a stream record
turned into one delivery execution, and the delivery step against a real receiver on 127.0.0.1, including
the SSRF check after DNS and the dead-letter queue."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from local.fake_receiver import Answer, FakeReceiver
from tests.integration.api_harness import BASE, OTHER_USER, Api, executions, item_count
from videotasks.adapters.callback_http import CallbackPoster
from videotasks.adapters.callback_runs import DeadLetters, DeliveryRuns
from videotasks.adapters.store.callbacks import CallbackStore
from videotasks.adapters.store.items import task_item
from videotasks.domain.models import TaskStatus, utc_now
from videotasks.services.callbacks import CallbackDelivery, CallbackEvents
from videotasks.settings import get_settings

pytest_plugins = ["tests.integration.api_fixtures"]

HOOK = "https://hooks.example.com/videotasks"


def _written(aws_stack: Any) -> dict[str, int]:
    return {
        "tasks": item_count(aws_stack, "TASKS_TABLE"),
        "stats": item_count(aws_stack, "STATS_TABLE"),
        "executions": len(executions(aws_stack)),
    }


# ------------------------------------------------------------------------------------------ the request side
@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/videotasks",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00::1]/hook",
        "https://10.0.0.8/hook",
        "https://0x7f000001/hook",
        "https://localhost/hook",
        "https://hooks.example.com/" + "a" * 2048,
        "http://localhost:8000/hook",
        "http://127.0.0.1:8000/hook",  # the local allowance is off here, as in template.yaml
    ],
)
def test_a_refused_callback_url_is_a_400_naming_it_and_nothing_is_created(api: Api, aws_stack: Any, url: str):
    before = _written(aws_stack)
    reply = api.create(callbackUrl=url)
    reply.validation_error("callbackUrl")
    assert "callbackUrl" in reply.fields()
    assert _written(aws_stack) == before


def test_a_batch_item_with_a_refused_callback_url_names_the_item_and_creates_none(api: Api, aws_stack: Any):
    before = _written(aws_stack)
    bodies = [{"prompt": "one", "callbackUrl": HOOK}, {"prompt": "two", "callbackUrl": "https://192.168.0.1/x"}]
    reply = api.call("POST", f"{BASE}/tasks/batch", body={"tasks": bodies})
    reply.validation_error("tasks[1].callbackUrl")
    assert _written(aws_stack) == before


def test_callback_events_without_a_url_are_refused(api: Api):
    api.create(callbackEvents=["task.progress"]).validation_error("callbackEvents")
    api.create(callbackUrl=HOOK, callbackEvents=["task.everything"]).validation_error("callbackEvents")


def test_the_callback_url_is_stored_and_shown_and_a_retry_inherits_or_replaces_it(api: Api, aws_stack: Any):
    reply = api.create(callbackUrl=HOOK, callbackEvents=["task.progress"])
    assert reply.status == 201, reply.body
    task = reply.data
    assert (task["callbackUrl"], task["callbackEvents"]) == (HOOK, ["task.progress"])
    assert aws_stack.stored(task["videoId"])["callbackUrl"] == HOOK
    assert api.create().data["callbackUrl"] is None

    api.cancel(task["videoId"])
    inherited = api.retry(task["videoId"]).data
    assert (inherited["callbackUrl"], inherited["callbackEvents"]) == (HOOK, ["task.progress"])
    api.cancel(inherited["videoId"])
    other = "https://other.example.com/hook"
    replaced = api.retry(inherited["videoId"], {"callbackUrl": other}).data
    assert (replaced["callbackUrl"], replaced["callbackEvents"]) == (other, None)
    api.cancel(replaced["videoId"])
    api.retry(replaced["videoId"], {"callbackUrl": "https://10.0.0.1/"}).validation_error("callbackUrl")
    api.retry(replaced["videoId"], {"callbackEvents": ["task.progress"]}).validation_error("callbackEvents")


# -------------------------------------------------------------------------------------- the signing secret
def test_the_secret_is_created_on_first_read_kept_and_rotated_with_an_overlap(api: Api):
    first = api.call("GET", f"{BASE}/webhook-secret")
    assert first.status == 200, first.body
    secret = first.data["secret"]
    assert secret.startswith("whsec_") and first.data["previousSecretExpiresAt"] is None
    assert api.call("GET", f"{BASE}/webhook-secret").data["secret"] == secret
    assert api.as_user(OTHER_USER).call("GET", f"{BASE}/webhook-secret").data["secret"] != secret

    rotated = api.call("POST", f"{BASE}/webhook-secret/rotate")
    assert rotated.status == 200, rotated.body
    assert rotated.data["secret"] != secret and rotated.data["previousSecretExpiresAt"]
    assert api.call("GET", f"{BASE}/webhook-secret").data["secret"] == rotated.data["secret"]

    signing = CallbackStore(get_settings()).secrets(api.user or "").signing(utc_now())
    assert signing == [rotated.data["secret"], secret]
    later = CallbackStore(get_settings()).secrets(api.user or "").signing(utc_now() + timedelta(days=2))
    assert later == [rotated.data["secret"]]


def test_the_secret_routes_need_a_token(api: Api):
    api.as_user(None).call("GET", f"{BASE}/webhook-secret").error(401, "UNAUTHORIZED")


# ------------------------------------------------------------------------------------------ the receiver
@pytest.fixture
def receiver() -> Iterator[Callable[[list[Answer]], FakeReceiver]]:
    """``receiver([503, 200])``: a receiver on 127.0.0.1 whose ``/hook`` answers those in turn."""
    made: list[FakeReceiver] = []

    def make(answers: list[Answer]) -> FakeReceiver:
        made.append(FakeReceiver({"/hook": answers}))
        return made[-1]

    yield make
    for one in made:
        one.stop()


def _delivery(monkeypatch: pytest.MonkeyPatch, resolver: Any = None, *, window: int = 5) -> CallbackDelivery:
    monkeypatch.setenv("CALLBACK_RETRY_WINDOW_SECONDS", str(window))
    monkeypatch.setenv("CALLBACK_RETRY_BASE_SECONDS", "1")
    get_settings.cache_clear()
    settings = get_settings()
    poster = CallbackPoster(timeout_seconds=2, allow_loopback_http=True, **({"resolver": resolver} if resolver else {}))
    return CallbackDelivery(
        settings, CallbackStore(settings), poster, DeadLetters(settings.callback_dead_letter_queue_url)
    )


def _state(url: str, video_id: str, user: str = "alice") -> dict[str, Any]:
    body = json.dumps(
        {"type": "task.completed", "timestamp": "2026-01-01T00:00:00.000Z", "data": {"videoId": video_id}}
    )
    return {
        "webhookId": "msg_0123456789abcdef0123456789abcdef",
        "event": "task.completed",
        "userId": user,
        "videoId": video_id,
        "url": url,
        "body": body,
        "attempt": 0,
    }


def test_attempts_are_signed_retried_on_5xx_and_listed_to_the_owner_only(
    api: Api, aws_stack: Any, receiver: Callable[[list[Answer]], FakeReceiver], monkeypatch: pytest.MonkeyPatch
):
    video_id = api.create_id(callbackUrl=HOOK)
    hook = receiver([503, 200])
    delivery = _delivery(monkeypatch)
    state = delivery.attempt(_state(hook.url("/hook"), video_id))
    assert (state["next"], state["attempt"]) == ("WAIT", 1) and state["waitSeconds"] >= 1
    state = delivery.attempt(state)
    assert (state["next"], state["attempt"]) == ("DONE", 2)

    secret = api.call("GET", f"{BASE}/webhook-secret").data["secret"]
    ids = set()
    for delivery in hook.received():
        Webhook(secret).verify(delivery.body, delivery.headers)
        ids.add(delivery.headers["webhook-id"])
    assert ids == {"msg_0123456789abcdef0123456789abcdef"}  # the same id on every attempt

    listed = api.call("GET", f"{BASE}/tasks/{video_id}/deliveries")
    assert listed.status == 200, listed.body
    attempts = listed.data["items"]
    assert [(a["attempt"], a["statusCode"], a["outcome"]) for a in attempts] == [
        (1, 503, "retry"),
        (2, 200, "delivered"),
    ]
    assert attempts[0]["nextRetryAt"] and attempts[1]["nextRetryAt"] is None
    api.as_user(OTHER_USER).call("GET", f"{BASE}/tasks/{video_id}/deliveries").error(404, "NOT_FOUND")


def test_a_410_stops_at_once(
    api: Api, receiver: Callable[[list[Answer]], FakeReceiver], monkeypatch: pytest.MonkeyPatch
):
    video_id = api.create_id(callbackUrl=HOOK)
    hook = receiver([410])
    state = _delivery(monkeypatch).attempt(_state(hook.url("/hook"), video_id))
    assert state["next"] == "DONE" and len(hook.received()) == 1


def test_past_the_window_the_event_goes_to_the_dead_letter_queue(
    api: Api, aws_stack: Any, receiver: Callable[[list[Answer]], FakeReceiver], monkeypatch: pytest.MonkeyPatch
):
    video_id = api.create_id(callbackUrl=HOOK)
    hook = receiver([500])
    delivery = _delivery(monkeypatch, window=1)  # the first retry (>= 1 s, jittered up to 1 s) already ends it
    state = _state(hook.url("/hook"), video_id)
    while (state := delivery.attempt(state))["next"] == "WAIT":
        pass
    assert state["next"] == "DEAD"
    sqs = aws_stack.client("sqs")
    messages = sqs.receive_message(QueueUrl=get_settings().callback_dead_letter_queue_url).get("Messages", [])
    [dead] = [json.loads(message["Body"]) for message in messages]
    assert (dead["videoId"], dead["webhookId"], dead["lastStatusCode"]) == (video_id, state["webhookId"], 500)
    assert json.loads(dead["body"])["data"]["videoId"] == video_id


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery_without_connecting(
    api: Api, receiver: Callable[[list[Answer]], FakeReceiver], monkeypatch: pytest.MonkeyPatch
):
    video_id = api.create_id(callbackUrl=HOOK)  # accepted at create: a public-looking name
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[Any]:
        asked.append(host)
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("169.254.169.254")]

    state = _delivery(monkeypatch, rebinding).attempt(_state(HOOK, video_id))
    assert asked == ["hooks.example.com"]
    assert state["next"] == "DONE"  # refused for good: never retried onto an internal address
    [attempt] = api.call("GET", f"{BASE}/tasks/{video_id}/deliveries").data["items"]
    assert (attempt["error"], attempt["statusCode"], attempt["outcome"]) == ("refused_address", None, "stop")


# -------------------------------------------------------------------------------------------- the stream
def test_an_ending_starts_one_delivery_named_after_its_webhook_id_even_when_the_record_comes_twice(
    aws_stack: Any, make_task: Callable[..., Any]
):
    machine = aws_stack.environment["CALLBACK_STATE_MACHINE_ARN"]
    events = CallbackEvents(get_settings(), DeliveryRuns(machine), aws_stack_media(aws_stack))
    running = make_task(status=TaskStatus.PROCESSING, progress=50, callbackUrl=HOOK)
    failed = running.model_copy(update={"status": TaskStatus.FAILED})

    first = events.publish(task_item(running), task_item(failed))
    again = events.publish(task_item(running), task_item(failed))
    assert first and first == again
    assert events.publish(task_item(running), task_item(running.model_copy(update={"progress": 60}))) is None

    sfn = aws_stack.client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == first
    payload = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    body = json.loads(payload["body"])
    assert (body["type"], body["data"]["videoId"], body["data"]["status"]) == ("task.failed", running.videoId, "FAILED")
    assert "userId" not in body["data"]


def aws_stack_media(aws_stack: Any) -> Any:
    from videotasks.adapters.media import MediaStore

    return MediaStore(aws_stack.bucket)
