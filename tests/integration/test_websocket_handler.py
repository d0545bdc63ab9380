"""The WebSocket function on every route, against moto's tables built from template.yaml.

Events are what API Gateway sends a WebSocket integration: ``requestContext.routeKey``/``connectionId``,
the ``$connect`` authorizer's context on every route, and the frame as ``body``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from tests.fixtures.aws import AwsStack
from videotasks.adapters.media import MediaStore
from videotasks.adapters.store.connections import ConnectionRepository
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.ids import new_video_id
from videotasks.domain.models import Task, TaskStatus, utc_now
from videotasks.domain.socket_inbound import KNOWN_ACTIONS
from videotasks.services import subscriptions

Invoke = Callable[[str, Any], Any]


def ws_event(route_key: str, connection_id: str, *, user: str | None = "alice", body: Any = None) -> dict[str, Any]:
    """An API Gateway WebSocket proxy event; ``body`` is JSON-encoded unless it is a string."""
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE"),
        "connectionId": connection_id,
        "requestId": str(uuid.uuid4()),
        "stage": "test",
        "apiId": "wsapi12345",
        "domainName": "wsapi12345.execute-api.us-east-1.amazonaws.com",
        "connectedAt": 1_773_342_238_000,
    }
    if user is not None:
        context["authorizer"] = {"principalId": user, "userId": user}
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


class Socket:
    """One client connection as the WebSocket function sees it."""

    def __init__(self, invoke: Invoke, user: str = "alice") -> None:
        self._invoke = invoke
        self.user = user
        self.connection_id = f"{uuid.uuid4().hex[:15]}="

    def connect(self) -> dict[str, Any]:
        return dict(self._invoke("WebSocketFunction", ws_event("$connect", self.connection_id, user=self.user)))

    def disconnect(self) -> None:
        self._invoke("WebSocketFunction", ws_event("$disconnect", self.connection_id, user=self.user))

    def send(self, body: Any, route_key: str | None = None) -> dict[str, Any]:
        """Send a frame on the route API Gateway would pick; returns the reply the client gets."""
        if route_key is None:
            action = body.get("action") if isinstance(body, dict) else None
            route_key = action if action in KNOWN_ACTIONS else "$default"
        result = self._invoke("WebSocketFunction", ws_event(route_key, self.connection_id, user=self.user, body=body))
        assert result["statusCode"] == 200, result
        return dict(json.loads(result["body"]))


@pytest.fixture
def _parent_logger() -> None:
    """The module's child logger was made at import, before POWERTOOLS_SERVICE_NAME was set; in Lambda the
    variable comes first. Give it the parent it would have had."""
    Logger(service=subscriptions.logger.service)


@pytest.fixture
def socket(aws_stack: AwsStack, invoke: Invoke, _parent_logger: None) -> Socket:
    client = Socket(invoke)
    assert client.connect() == {"statusCode": 200}
    return client


def follows(connections: ConnectionRepository, socket: Socket, video_id: str) -> bool:
    return socket.connection_id in connections.subscribers(socket.user, video_id)


# $connect / $disconnect -------------------------------------------------------------------------
def test_connect_registers_the_connection_for_the_authorised_user(
    socket: Socket, connections: ConnectionRepository, aws_stack: AwsStack
) -> None:
    stored = aws_stack.table("CONNECTIONS_TABLE").get_item(Key={"connectionId": socket.connection_id})["Item"]

    assert stored["userId"] == "alice"
    assert stored["allTasks"] is False
    assert "subscriptions" not in stored
    assert int(stored["expiresAt"]) > 0 and stored["connectedAt"]


def test_connect_without_the_authorizers_user_is_refused(aws_stack: AwsStack, invoke: Invoke) -> None:
    result = invoke("WebSocketFunction", ws_event("$connect", "c-anon=", user=None))

    assert result["statusCode"] == 401
    assert "Item" not in aws_stack.table("CONNECTIONS_TABLE").get_item(Key={"connectionId": "c-anon="})


def test_disconnect_forgets_the_connection(socket: Socket, connections: ConnectionRepository) -> None:
    socket.send({"action": "subscribe"})

    socket.disconnect()

    assert connections.get(socket.connection_id) is None
    assert connections.subscribers("alice", new_video_id()) == []


# subscribe ----------------------------------------------------------------------------------------
def test_subscribing_to_an_own_task_answers_its_state_with_both_ids_and_follows_it(
    socket: Socket, stored_task: Callable[..., Task], connections: ConnectionRepository
) -> None:
    task = stored_task("alice", status=TaskStatus.PROCESSING)

    reply = socket.send({"action": "subscribe", "videoId": task.videoId})

    assert reply["type"] == "taskProgress"
    assert reply["payload"]["videoId"] == task.videoId
    assert reply["payload"]["externalVideoId"] == "ext_1"
    assert reply["payload"]["status"] == "in_progress"
    assert follows(connections, socket, task.videoId)


def test_subscribing_to_a_completed_task_answers_with_a_playable_url_and_records_nothing(
    socket: Socket, stored_task: Callable[..., Task], connections: ConnectionRepository, aws_stack: AwsStack
) -> None:
    task = stored_task("alice", status=TaskStatus.COMPLETED, mediaKey="media/done.mp4")

    reply = socket.send({"action": "subscribe", "videoId": task.videoId})

    assert reply["type"] == "taskCompleted"
    url = reply["payload"]["result"]["videoUrl"]
    assert aws_stack.bucket in url and "media/done.mp4" in url and "Signature" in url
    assert not follows(connections, socket, task.videoId)  # a terminal task never changes again


@pytest.mark.parametrize("owner", ["bob", None])
def test_subscribing_to_another_users_or_a_missing_task_is_refused_and_records_nothing(
    owner: str | None, socket: Socket, stored_task: Callable[..., Task], connections: ConnectionRepository
) -> None:
    video_id = stored_task(owner).videoId if owner else new_video_id()

    reply = socket.send({"action": "subscribe", "videoId": video_id})

    assert reply["type"] == "error"
    assert reply["payload"]["code"] == "NOT_FOUND"
    assert reply["payload"]["videoId"] == video_id
    assert connections.subscribers("alice", video_id) == []
    assert connections.subscribers("bob", video_id) == []


def test_a_malformed_subscribe_is_refused_and_changes_nothing(
    socket: Socket, connections: ConnectionRepository
) -> None:
    before = connections.get(socket.connection_id)

    reply = socket.send({"action": "subscribe", "videoId": "video_not-a-uuid"})

    assert reply["type"] == "error"
    assert reply["payload"]["code"] == "VALIDATION_ERROR"
    assert connections.get(socket.connection_id) == before


def test_subscribing_without_a_video_id_follows_every_task_of_the_caller_only(
    socket: Socket, connections: ConnectionRepository
) -> None:
    reply = socket.send({"action": "subscribe"})

    assert reply["type"] == "subscribed" and reply["payload"] == {"videoId": None, "scope": "all"}
    assert follows(connections, socket, new_video_id())
    assert connections.subscribers("bob", new_video_id()) == []


def test_unsubscribe_stops_following_the_task(
    socket: Socket, stored_task: Callable[..., Task], connections: ConnectionRepository
) -> None:
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    socket.send({"action": "subscribe", "videoId": task.videoId})

    reply = socket.send({"action": "unsubscribe", "videoId": task.videoId})

    assert reply["type"] == "unsubscribed" and reply["payload"] == {"videoId": task.videoId, "scope": "task"}
    assert not follows(connections, socket, task.videoId)


def test_unsubscribe_without_a_video_id_stops_everything(
    socket: Socket, stored_task: Callable[..., Task], connections: ConnectionRepository
) -> None:
    task = stored_task("alice")
    socket.send({"action": "subscribe"})
    socket.send({"action": "subscribe", "videoId": task.videoId})

    socket.send({"action": "unsubscribe"})

    assert not follows(connections, socket, task.videoId)
    assert connections.get(socket.connection_id) is not None  # still connected


def test_ping_answers_pong(socket: Socket) -> None:
    assert socket.send({"action": "ping"})["type"] == "pong"


# $default ---------------------------------------------------------------------------------------
def test_the_old_backends_subscribe_task_works_on_default(
    socket: Socket, stored_task: Callable[..., Task], connections: ConnectionRepository
) -> None:
    task = stored_task("alice")

    reply = socket.send({"type": "subscribe_task", "payload": {"videoId": task.videoId}})

    assert reply["type"] == "taskProgress" and reply["payload"]["status"] == "queued"
    assert follows(connections, socket, task.videoId)
    assert socket.send({"type": "unsubscribe_task", "payload": {"videoId": task.videoId}})["type"] == "unsubscribed"
    assert socket.send({"type": "ping"})["type"] == "pong"


@pytest.mark.parametrize("frame", [{"action": "dance"}, {"type": "hello"}, "plain text"])
def test_anything_else_on_default_gets_an_error_naming_the_known_actions(socket: Socket, frame: Any) -> None:
    reply = socket.send(frame, route_key="$default")

    assert reply["type"] == "error"
    assert reply["payload"]["knownActions"] == ["subscribe", "unsubscribe", "ping"]


def test_a_base64_binary_frame_is_read_as_text(socket: Socket, invoke: Invoke) -> None:
    event = ws_event("$default", socket.connection_id, body='{"type": "ping"}')
    event["body"] = "eyJ0eXBlIjogInBpbmcifQ=="
    event["isBase64Encoded"] = True

    assert json.loads(invoke("WebSocketFunction", event)["body"])["type"] == "pong"


def test_a_message_without_the_authorizers_user_is_answered_unauthorized(socket: Socket, invoke: Invoke) -> None:
    result = invoke("WebSocketFunction", ws_event("ping", socket.connection_id, user=None, body={"action": "ping"}))

    assert json.loads(result["body"])["payload"]["code"] == "UNAUTHORIZED"


# connection state -------------------------------------------------------------------------------
def test_subscribing_on_a_connection_that_is_gone_is_refused(
    socket: Socket, stored_task: Callable[..., Task], connections: ConnectionRepository
) -> None:
    task = stored_task("alice")
    connections.remove(socket.connection_id)

    reply = socket.send({"action": "subscribe", "videoId": task.videoId})

    assert reply["type"] == "error" and reply["payload"]["code"] == "NOT_FOUND"


def test_one_connection_follows_a_bounded_number_of_tasks_one_by_one(
    socket: Socket,
    stored_task: Callable[..., Task],
    connections: ConnectionRepository,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(subscriptions, "MAX_SUBSCRIPTIONS", 2)
    first, second, third = (stored_task("alice") for _ in range(3))
    socket.send({"action": "subscribe", "videoId": first.videoId})
    socket.send({"action": "subscribe", "videoId": second.videoId})

    again = socket.send({"action": "subscribe", "videoId": second.videoId})
    refused = socket.send({"action": "subscribe", "videoId": third.videoId})

    assert again["type"] == "taskProgress"
    assert refused["type"] == "error" and refused["payload"]["code"] == "CONFLICT"
    assert not follows(connections, socket, third.videoId)


@pytest.mark.usefixtures("_parent_logger")
def test_a_change_between_the_ownership_check_and_the_subscription_is_in_the_answer(
    aws_stack: AwsStack, stored_task: Callable[..., Task], connections: ConnectionRepository
) -> None:
    """The answer is read after the subscription is stored, so no change can fall between the two."""
    task = stored_task("alice", status=TaskStatus.PROCESSING)
    tasks = TaskRepository(aws_stack.settings)

    class ChangesRightAfterTheCheck(TaskRepository):
        def get_owned(self, video_id: str, user_id: str) -> Task | None:
            seen = super().get_owned(video_id, user_id)
            assert seen is not None
            tasks.transition(seen, TaskStatus.COMPLETED, progress=100, mediaKey="media/x.mp4")
            return seen

    service = subscriptions.RealtimeService(
        aws_stack.settings,
        connections,
        ChangesRightAfterTheCheck(aws_stack.settings),
        MediaStore(aws_stack.bucket),
    )
    connections.add("c-race=", "alice", utc_now())

    reply = service.handle(
        "c-race=", "alice", "subscribe", json.dumps({"action": "subscribe", "videoId": task.videoId})
    )

    assert reply["type"] == "taskCompleted"


# the old backend's auth message ----------------------------------------------------------------------
def test_the_old_auth_message_with_the_connections_own_token_is_acknowledged(
    socket: Socket, token: Callable[..., str]
) -> None:
    reply = socket.send({"type": "auth", "token": token("alice")})

    assert reply["type"] == "authenticated"
    assert reply["payload"] == {"userId": "alice"}
    assert isinstance(reply["timestamp"], int)


def test_the_old_auth_message_reads_a_bearer_token_in_its_payload_too(
    socket: Socket, token: Callable[..., str]
) -> None:
    reply = socket.send({"type": "auth", "payload": {"token": f"Bearer {token('alice')}"}})

    assert reply == {**reply, "type": "authenticated", "payload": {"userId": "alice"}}


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        pytest.param(lambda sign: {"type": "auth", "token": sign("mallory")}, "not this connection", id="other-user"),
        pytest.param(lambda sign: {"type": "auth", "token": sign("alice", secret="x" * 40)}, "Invalid", id="forged"),
        pytest.param(lambda sign: {"type": "auth", "token": sign("alice", ttl_seconds=-3600)}, "expired", id="expired"),
        pytest.param(lambda sign: {"type": "auth"}, "Missing", id="missing"),
        pytest.param(lambda sign: {"type": "auth", "token": 42}, "Missing", id="not-a-string"),
    ],
)
def test_an_auth_message_with_any_other_token_is_unauthorized_and_the_connection_stays_its_users(
    socket: Socket,
    token: Callable[..., str],
    connections: ConnectionRepository,
    stored_task: Callable[..., Task],
    frame: Callable[[Callable[..., str]], dict[str, Any]],
    reason: str,
) -> None:
    reply = socket.send(frame(token))
    sent = frame(token).get("token")

    assert reply["type"] == "error"
    assert reply["payload"]["code"] == "UNAUTHORIZED"
    assert reason in reply["payload"]["message"]
    assert not isinstance(sent, str) or sent not in json.dumps(reply)
    # Nothing changed: the connection is still alice's, and follows alice's tasks only.
    stored = connections.get(socket.connection_id)
    assert stored is not None and stored.user_id == "alice"
    own = stored_task("alice", status=TaskStatus.PROCESSING)
    assert socket.send({"action": "subscribe", "videoId": own.videoId})["type"] == "taskProgress"
    theirs = stored_task("mallory", status=TaskStatus.PROCESSING)
    assert socket.send({"action": "subscribe", "videoId": theirs.videoId})["payload"]["code"] == "NOT_FOUND"


# languages ----------------------------------------------------------------------------------------
def _connect_event(connection_id: str, *, headers: dict[str, str], query: dict[str, str] | None) -> dict[str, Any]:
    event = ws_event("$connect", connection_id)
    event.update({"headers": headers, "queryStringParameters": query})
    return event


@pytest.mark.parametrize(
    ("headers", "query", "lang"),
    [
        ({}, None, "en"),
        ({"Accept-Language": "zh-CN,zh;q=0.9"}, None, "zh-CN"),
        ({"accept-language": "zh-Hans"}, {"token": "t"}, "zh-CN"),
        ({"Accept-Language": "en-US"}, {"token": "t", "lang": "zh-CN"}, "zh-CN"),  # ?lang= wins
        ({"Accept-Language": "zh-CN"}, {"lang": "en"}, "en"),
        ({"Accept-Language": "zh-CN"}, {"lang": "xx"}, "zh-CN"),  # a language we lack: the header decides
    ],
)
@pytest.mark.usefixtures("_parent_logger")
def test_connect_stores_the_handshakes_language(
    aws_stack: AwsStack,
    invoke: Invoke,
    connections: ConnectionRepository,
    headers: dict[str, str],
    query: dict[str, str] | None,
    lang: str,
) -> None:
    result = invoke("WebSocketFunction", _connect_event("c-lang=", headers=headers, query=query))

    assert result == {"statusCode": 200}
    stored = connections.get("c-lang=")
    assert stored is not None and stored.lang == lang


@pytest.mark.usefixtures("_parent_logger")
def test_replies_read_in_the_language_the_authorizer_passed_on(
    aws_stack: AwsStack, invoke: Invoke, stored_task: Callable[..., Task]
) -> None:
    task = stored_task("alice", status=TaskStatus.PROCESSING, progress=42)

    def send(body: Any, route_key: str, lang: str | None) -> dict[str, Any]:
        event = ws_event(route_key, "c-zh=", body=body)
        if lang is not None:
            event["requestContext"]["authorizer"]["lang"] = lang
        return dict(json.loads(invoke("WebSocketFunction", event)["body"]))

    invoke("WebSocketFunction", ws_event("$connect", "c-zh="))
    chinese = send({"action": "subscribe", "videoId": task.videoId}, "subscribe", "zh-CN")
    refused = send("not json", "$default", "zh-CN")
    missing = send({"action": "subscribe", "videoId": new_video_id()}, "subscribe", "zh-CN")
    english = send("not json", "$default", None)

    assert chinese["payload"]["message"] == "正在生成视频（42%）"
    assert refused["payload"]["code"] == "VALIDATION_ERROR"
    assert refused["payload"]["message"].startswith("消息不是 JSON；请发送")
    assert missing["payload"]["code"] == "NOT_FOUND" and missing["payload"]["message"].startswith("任务 video_")
    assert english["payload"]["message"].startswith("Message is not JSON; send")
