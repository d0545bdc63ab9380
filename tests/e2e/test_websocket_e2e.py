"""Live updates as a browser-like client sees them: the real local stack (`python -m local`), a real
`websockets` client on its WebSocket API, tasks created and cancelled over its HTTP API.

Every wait is bounded (the stack's completion deadline); nothing asserts how fast anything is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import websockets

from tests.fixtures.providers import RELAY_MODEL

# The OpenAI Videos shape on the relay entry: it reports progress and its fake speaks every fault mode these
# tests use. The default model (Gemini Veo) reports no progress.

pytestmark = pytest.mark.e2e

TASK_MESSAGES = {"taskProgress", "taskCompleted", "taskFailed", "taskCancelled"}
# A finished video's poster frame: the one message that may follow a task's end, at most once.
POSTER = "taskPoster"
TERMINAL_MESSAGES = {"taskCompleted", "taskFailed", "taskCancelled"}
STATUS_ORDER = {"queued": 0, "in_progress": 1, "completed": 2, "failed": 2, "cancelled": 2}
CONTROL_REPLIES = frozenset({"subscribed", "unsubscribed", "pong", "error", "authenticated"})
TASK_ANSWERS = frozenset(TASK_MESSAGES | {"error"})
QUIET_SECONDS = 2.0  # after the end, how long to listen for anything that should not come


# -- a client ---------------------------------------------------------------------------------------
class Client:
    """One browser tab: a WebSocket connection and the HTTP API, as one user."""

    def __init__(self, stack: Any, user_id: str, socket: Any) -> None:
        self.stack = stack
        self.user_id = user_id
        self.socket = socket
        self.http = httpx.AsyncClient(
            base_url=stack.api_url, headers=stack.auth(user_id), timeout=30.0, trust_env=False
        )

    async def receive(self, timeout: float) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.socket.recv(), timeout=timeout)))

    async def ask(self, frame: dict[str, Any], replies: frozenset[str] = CONTROL_REPLIES) -> dict[str, Any]:
        """Send ``frame``; return the next message of a type in ``replies`` (pushed task messages that
        arrive first are passed over)."""
        await self.socket.send(json.dumps(frame))
        while True:
            message = await self.receive(timeout=30)
            if message["type"] in replies:
                return message

    async def subscribe(self, video_id: str, **legacy: Any) -> dict[str, Any]:
        """Subscribe to one task: the answer is its state, or an error."""
        frame = legacy or {"action": "subscribe", "videoId": video_id}
        return await self.ask(frame, TASK_ANSWERS)

    async def create_task(self, prompt: str = "a paper boat in the rain") -> str:
        answer = await self.http.post("/tasks", json={"model": RELAY_MODEL, "prompt": prompt})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["data"]["videoId"])

    async def task(self, video_id: str) -> dict[str, Any]:
        answer = await self.http.get(f"/tasks/{video_id}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return dict(body.get("data", body))

    async def until_terminal(self, video_id: str, deadline: float) -> list[dict[str, Any]]:
        """Every message up to and including ``video_id``'s terminal one."""
        seen: list[dict[str, Any]] = []
        ends = time.monotonic() + deadline
        while True:
            left = ends - time.monotonic()
            if left <= 0:
                pytest.fail(f"no terminal message for {video_id} within {deadline:g}s; got {seen}")
            try:
                message = await self.receive(timeout=left)
            except TimeoutError:
                continue
            seen.append(message)
            if message["type"] in TERMINAL_MESSAGES and message["payload"]["videoId"] == video_id:
                return seen

    async def quiet(self, seconds: float = QUIET_SECONDS) -> list[dict[str, Any]]:
        """What else arrives within ``seconds`` (bounded listening, not a timing claim)."""
        extra: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            while True:
                extra.append(await self.receive(timeout=seconds))
        return extra


@contextlib.asynccontextmanager
async def connected(
    stack: Any, user_id: str, *, query: str = "", headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    url = f"{stack.ws_url}/?token={stack.token(user_id)}{query}"
    async with websockets.connect(url, additional_headers=headers) as socket:
        client = Client(stack, user_id, socket)
        try:
            yield client
        finally:
            await client.http.aclose()


def about(messages: list[dict[str, Any]], video_id: str) -> list[dict[str, Any]]:
    return [message for message in messages if message["payload"].get("videoId") == video_id]


def assert_both_ids_on_every_message(messages: list[dict[str, Any]], video_id: str, external_id: str) -> None:
    assert messages, "no messages"
    for message in messages:
        assert message["type"] in TASK_MESSAGES, message
        assert isinstance(message["timestamp"], int)
        assert message["payload"]["videoId"] == video_id
        assert "externalVideoId" in message["payload"]  # null only while queued, before the provider has it
        if message["payload"]["status"] != "queued":
            assert message["payload"]["externalVideoId"] == external_id, message


def position(message: dict[str, Any]) -> tuple[int, int]:
    return STATUS_ORDER[message["payload"]["status"]], message["payload"]["progress"]


def as_a_client_applies_them(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """docs/FRONTEND_INTEGRATION.md's rule: a message that does not move the task forward (status, then
    progress) is a repeat or arrived late, and is ignored; so is anything after the end."""
    applied: list[dict[str, Any]] = []
    for message in messages:
        if not applied or position(message) > position(applied[-1]):
            applied.append(message)
    return applied


def assert_in_order_with_one_end(messages: list[dict[str, Any]]) -> None:
    """Statuses and progress never go back, and exactly one terminal message closes the life."""
    positions = [position(message) for message in messages]
    assert positions == sorted(positions), [(message["type"], *position(message)) for message in messages]
    assert [message["type"] in TERMINAL_MESSAGES for message in messages].count(True) == 1
    assert messages[-1]["type"] in TERMINAL_MESSAGES


def run(scenario: Any) -> Any:
    return asyncio.run(scenario)


# -- the handshake ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "status"),
    [("", 401), ("?token=", 401), ("?token=not-a-jwt", 403), ("?token={expired}", 403), ("?token={foreign}", 403)],
)
def test_a_handshake_without_or_with_a_bad_token_is_refused(local_stack: Any, query: str, status: int) -> None:
    expired = local_stack.token("alice", exp=int(time.time()) - 3600)
    foreign = jwt.encode({"userId": "alice", "exp": int(time.time()) + 600}, "another-secret-" * 3, algorithm="HS256")
    url = local_stack.ws_url + "/" + query.format(expired=expired, foreign=foreign)

    async def scenario() -> None:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url)
        assert refused.value.response.status_code == status

    run(scenario())


# -- a task's life ----------------------------------------------------------------------------------
def test_a_client_sees_a_task_from_creation_to_completion_with_both_ids_on_every_message(
    local_stack: Any, user_id: str
) -> None:
    async def scenario() -> None:
        async with connected(local_stack, user_id) as tab:
            assert (await tab.ask({"action": "subscribe"}))["type"] == "subscribed"
            video_id = await tab.create_task()

            life = about(await tab.until_terminal(video_id, local_stack.completion_deadline()), video_id)
            later = about(await tab.quiet(), video_id)

            task = await tab.task(video_id)
            assert task["status"] == "COMPLETED"
            assert_both_ids_on_every_message(life, video_id, task["externalVideoId"])
            assert_in_order_with_one_end(life)  # as sent, not only as a client would apply them
            assert life[0]["payload"]["status"] == "queued"  # it was followed from creation
            assert {"in_progress"} <= {message["payload"]["status"] for message in life}
            # exactly one terminal message; after it at most the video's poster, by a message of its own
            assert [message["type"] for message in later] in ([], [POSTER])
            end = life[-1]
            assert end["type"] == "taskCompleted" and end["payload"]["progress"] == 100
            async with httpx.AsyncClient(timeout=30.0, trust_env=False) as browser:  # no API credentials
                played = await browser.get(end["payload"]["result"]["videoUrl"])
            assert played.status_code == 200 and played.content[4:8] == b"ftyp"

    run(scenario())


def test_subscribing_to_a_task_answers_its_current_state_then_streams_its_changes(
    local_stack: Any, user_id: str
) -> None:
    async def scenario() -> None:
        async with connected(local_stack, user_id) as tab:
            video_id = await tab.create_task()

            first = await tab.subscribe(video_id)
            life = [first, *await tab.until_terminal(video_id, local_stack.completion_deadline())]

            later = await tab.quiet()
            posters = [message for message in later if message["type"] == POSTER]
            later = [message for message in later if message["type"] != POSTER]

            task = await tab.task(video_id)
            assert len(posters) <= 1 and all(poster["payload"]["videoId"] == video_id for poster in posters)
            assert life[0]["type"] in TASK_MESSAGES  # the answer to subscribe is the task's state
            assert_both_ids_on_every_message(life + later, video_id, task["externalVideoId"])
            # The answer is read after the subscription is stored, so a change pushed meanwhile may arrive
            # after it, older: the client's rule orders them.
            assert_in_order_with_one_end(as_a_client_applies_them(life))
            assert as_a_client_applies_them(life + later) == as_a_client_applies_them(life)

    run(scenario())


def test_subscribing_to_a_finished_task_answers_its_end_once(local_stack: Any, user_id: str) -> None:
    async def scenario() -> None:
        async with connected(local_stack, user_id) as tab:
            video_id = await tab.create_task()
            if (await tab.subscribe(video_id))["type"] not in TERMINAL_MESSAGES:
                await tab.until_terminal(video_id, local_stack.completion_deadline())

            again = await tab.subscribe(video_id)

            assert again["type"] == "taskCompleted" and again["payload"]["result"]["videoUrl"]
            # The end is not sent again; only the poster, if it was stored after the end, may still come.
            assert [message["type"] for message in await tab.quiet()] in ([], [POSTER])

    run(scenario())


def test_the_old_backends_socket_messages_work(local_stack: Any, user_id: str) -> None:
    async def scenario() -> None:
        async with connected(local_stack, user_id) as tab:
            video_id = await tab.create_task()

            state = await tab.subscribe(video_id, type="subscribe_task", payload={"videoId": video_id})
            pong = await tab.ask({"type": "ping"})
            gone = await tab.ask({"type": "unsubscribe_task", "payload": {"videoId": video_id}})

            assert state["type"] in TASK_MESSAGES and state["payload"]["videoId"] == video_id
            assert pong["type"] == "pong"
            assert gone["type"] == "unsubscribed"

    run(scenario())


def test_the_old_backends_auth_message_is_acknowledged_and_never_changes_the_connections_user(
    local_stack: Any, user_id: str
) -> None:
    async def scenario() -> None:
        async with connected(local_stack, user_id) as tab:
            own = await tab.ask({"type": "auth", "token": local_stack.token(user_id)})
            other = await tab.ask({"type": "auth", "token": local_stack.token(f"{user_id}-other")})
            video_id = await tab.create_task()
            state = await tab.subscribe(video_id)

            assert own["type"] == "authenticated" and own["payload"] == {"userId": user_id}
            assert other["type"] == "error" and other["payload"]["code"] == "UNAUTHORIZED"
            assert state["type"] in TASK_MESSAGES  # still the handshake's user: their task is theirs to follow

    run(scenario())


def test_unknown_and_malformed_messages_get_an_error_naming_the_known_actions(local_stack: Any, user_id: str) -> None:
    async def scenario() -> None:
        async with connected(local_stack, user_id) as tab:
            unknown = await tab.ask({"action": "dance"})
            await tab.socket.send("not json")
            garbled = await tab.receive(timeout=30)
            malformed = await tab.ask({"action": "subscribe", "videoId": "video_123"})
            pong = await tab.ask({"action": "ping"})

            assert unknown["type"] == garbled["type"] == malformed["type"] == "error"
            assert unknown["payload"]["knownActions"] == ["subscribe", "unsubscribe", "ping"]
            assert garbled["payload"]["knownActions"] == ["subscribe", "unsubscribe", "ping"]
            assert malformed["payload"]["code"] == "VALIDATION_ERROR"
            assert pong["type"] == "pong"  # the connection is still fine

    run(scenario())


# -- isolation between users ------------------------------------------------------------------------
def test_a_second_user_receives_nothing_about_the_first_users_tasks(local_stack: Any, user_id: str) -> None:
    other = f"{user_id}-other"

    async def scenario() -> None:
        async with connected(local_stack, user_id) as alice, connected(local_stack, other) as bob:
            assert (await alice.ask({"action": "subscribe"}))["type"] == "subscribed"
            assert (await bob.ask({"action": "subscribe"}))["type"] == "subscribed"
            video_id = await alice.create_task()

            refused = await bob.subscribe(video_id)  # a leaked task message would be returned here
            await alice.until_terminal(video_id, local_stack.completion_deadline())
            pong = await bob.ask({"action": "ping"}, frozenset({"pong", *TASK_MESSAGES}))
            heard = await bob.quiet()

            assert refused["type"] == "error" and refused["payload"]["code"] == "NOT_FOUND"
            assert pong["type"] == "pong"
            assert [message for message in heard if message["type"] in TASK_MESSAGES] == []

    run(scenario())


# -- cancellation -----------------------------------------------------------------------------------
def test_a_cancelled_task_yields_task_cancelled_with_both_ids(local_stack_factory: Any, user_id: str) -> None:
    stack = local_stack_factory(FAKE_VIDEO_SECONDS=120)  # long enough to be cancelled while running

    async def scenario() -> None:
        async with connected(stack, user_id) as tab:
            video_id = await tab.create_task()
            seen = [await tab.subscribe(video_id)]
            while not seen or seen[-1]["payload"]["status"] != "in_progress":
                seen.append(await tab.receive(timeout=stack.completion_deadline()))

            cancelled = await tab.http.post(f"/tasks/{video_id}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            life = seen + await tab.until_terminal(video_id, stack.completion_deadline())

            later = await tab.quiet()

            task = await tab.task(video_id)
            assert task["status"] == "CANCELLED"
            assert_both_ids_on_every_message(life + later, video_id, task["externalVideoId"])
            assert_in_order_with_one_end(as_a_client_applies_them(life))
            assert as_a_client_applies_them(life + later) == as_a_client_applies_them(life)
            end = life[-1]
            assert end["type"] == "taskCancelled" and end["payload"]["status"] == "cancelled"
            assert task["externalVideoId"] is not None
            assert end["payload"]["externalVideoId"] == task["externalVideoId"]

    run(scenario())


# -- connections that go away -----------------------------------------------------------------------
def test_a_client_that_disconnects_mid_task_is_cleaned_up_and_others_still_receive(
    local_stack: Any, user_id: str
) -> None:
    dynamodb = local_stack.boto3_client("dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith("ConnectionsTable"))

    def connection_ids() -> set[str]:
        items = dynamodb.query(
            TableName=table,
            IndexName="ByUser",
            KeyConditionExpression="userId = :user",
            ExpressionAttributeValues={":user": {"S": user_id}},
        )["Items"]
        return {item["connectionId"]["S"] for item in items}

    async def scenario() -> None:
        async with connected(local_stack, user_id) as staying:
            staying_ids = connection_ids()
            leaving_socket = await websockets.connect(f"{local_stack.ws_url}/?token={local_stack.token(user_id)}")
            leaving = Client(local_stack, user_id, leaving_socket)
            video_id = await staying.create_task()
            for tab in (staying, leaving):
                assert (await tab.subscribe(video_id))["payload"]["videoId"] == video_id
            # A connection whose client vanished without $disconnect: only a 410 from the gateway can tell.
            dynamodb.put_item(
                TableName=table,
                Item={
                    "connectionId": {"S": "vanished-e2e-c="},
                    "userId": {"S": user_id},
                    "allTasks": {"BOOL": False},
                    "subscriptions": {"SS": [video_id]},
                },
            )

            await leaving.receive(timeout=local_stack.completion_deadline())  # the task is under way
            await leaving_socket.close()
            await leaving.http.aclose()
            life = await staying.until_terminal(video_id, local_stack.completion_deadline())

            assert len(staying_ids) == 1
            assert about(life, video_id)[-1]["type"] == "taskCompleted"
            remaining: set[str] = set()
            for _ in range(100):  # bounded wait for the deletes to land
                remaining = connection_ids()
                if remaining == staying_ids:
                    break
                await asyncio.sleep(0.1)
            assert remaining == staying_ids

    run(scenario())


# -- the reader's language --------------------------------------------------------------------------
def test_each_tab_reads_the_same_task_in_the_language_chosen_at_its_handshake(local_stack: Any, user_id: str) -> None:
    async def scenario() -> None:
        async with (
            connected(local_stack, user_id, query="&lang=zh-CN") as chinese,
            connected(local_stack, user_id, headers={"Accept-Language": "zh-CN,zh;q=0.9"}) as by_header,
            connected(local_stack, user_id, headers={"Accept-Language": "en-US,en;q=0.9"}) as english,
        ):
            for tab in (chinese, by_header, english):
                assert (await tab.ask({"action": "subscribe"}))["type"] == "subscribed"
            video_id = await english.create_task()
            deadline = local_stack.completion_deadline()

            lives = [about(await tab.until_terminal(video_id, deadline), video_id) for tab in (chinese, by_header)]
            life_en = about(await english.until_terminal(video_id, deadline), video_id)
            refused = await chinese.ask({"action": "dance"})

            for life in lives:
                running = [message for message in life if message["payload"]["status"] == "in_progress"]
                assert running and all(
                    message["payload"]["message"] == f"正在生成视频（{message['payload']['progress']}%）"
                    for message in running
                ), running
                assert life[-1]["payload"]["message"] == "视频已生成"
            running_en = [message for message in life_en if message["payload"]["status"] == "in_progress"]
            assert running_en and all(
                message["payload"]["message"].startswith("Generating the video (") for message in running_en
            )
            assert life_en[-1]["payload"]["message"] == "The video is ready"
            # the same task, the same codes and fields: only the texts differ
            assert [message["type"] for message in lives[0]][-1] == life_en[-1]["type"] == "taskCompleted"
            assert refused["type"] == "error" and refused["payload"]["code"] == "VALIDATION_ERROR"
            assert refused["payload"]["message"].startswith("未知的操作 'dance'")

    run(scenario())
