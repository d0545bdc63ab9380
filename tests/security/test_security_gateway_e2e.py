"""The local stack's gateways (`python -m local`) under attack: hostile tokens on every HTTP route and at
the WebSocket handshake, another user's task on every route and on subscribe, and CORS.

The stack verifies HS256 against the secret in its Secrets Manager; issuer/audience and JWKS mode are
covered in process (test_security_tokens.py), since the local stack does not set those parameters.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from local.template import load_template
from tests.security.tokens import (
    UNKNOWN_VIDEO_ID,
    BadToken,
    Route,
    authorised_routes,
    by_name,
    hs256_bad_tokens,
    valid_hs256,
)

pytest_plugins = ["tests.e2e.conftest"]
pytestmark = pytest.mark.e2e

# The stack configures no issuer or audience, so those cases do not apply to it.
STACK_CASES = [token.name for token in hs256_bad_tokens("u", "s" * 32)]
QUIET_SECONDS = 2.0  # how long a socket is watched for a message that must not come


def request(stack: Any, route: Route, authorization: str | None, **headers: str) -> httpx.Response:
    if authorization is not None:
        headers["Authorization"] = authorization.strip()  # a header value has no trailing space on the wire
    with httpx.Client(base_url=stack.http_url, timeout=30.0, trust_env=False) as client:
        return client.request(route.method, route.path, json=route.body, headers=headers)


def assert_envelope(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["success"] is False, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["message"], str) and body["message"] == body["error"]["message"], body
    return dict(body)


def handshake_status(stack: Any, query: str) -> int:
    """The status a WebSocket handshake is refused with (101 if it is accepted, then closed)."""

    async def attempt() -> int:
        try:
            async with websockets.connect(f"{stack.ws_url}/{query}", open_timeout=30) as socket:
                await socket.close()
                return 101
        except websockets.InvalidStatus as refused:
            return int(refused.response.status_code)
        except websockets.InvalidMessage:
            # aiohttp refuses a request line past its size limit with a bare HTTP/1.0 400, which a
            # WebSocket client cannot parse: refused before any code of ours ran.
            return 400

    return asyncio.run(attempt())


# -- hostile tokens -----------------------------------------------------------------------------------


def test_control_a_valid_token_reaches_every_authorised_route_and_opens_a_socket(
    local_stack: Any, user_id: str
) -> None:
    token = valid_hs256(user_id, local_stack.jwt_secret)

    statuses = {str(route): request(local_stack, route, token).status_code for route in authorised_routes()}

    assert 401 not in statuses.values(), statuses
    assert statuses["POST /api/video/tasks"] == 201
    assert handshake_status(local_stack, f"?token={token.removeprefix('Bearer ')}") == 101


@pytest.mark.parametrize("name", STACK_CASES)
def test_a_bad_token_gets_the_401_envelope_on_every_route_and_is_refused_at_the_handshake(
    local_stack: Any, user_id: str, name: str
) -> None:
    token = by_name(hs256_bad_tokens(user_id, local_stack.jwt_secret), name)

    for route in authorised_routes():
        answer = request(local_stack, route, token.authorization)
        if name == "oversized" and answer.status_code != 401:
            # aiohttp caps a header at 8190 bytes and refuses a longer one before any code of ours
            # runs: refused all the same. (API Gateway takes 10 KB, so in the cloud the API function
            # refuses it as too large, which test_security_tokens.py checks.)
            assert 400 <= answer.status_code < 500 and answer.status_code != 404, (str(route), answer.text)
            continue
        assert_envelope(answer, 401, "UNAUTHORIZED")
    assert handshake_status(local_stack, _query(token)) in (400, 401, 403, 414, 431)

    with local_stack.http(user_id) as owner:  # the token's user: nothing was created in their name
        listing = owner.get("/tasks").json()["data"]
        stats = owner.get("/stats").json()["data"]
    assert (listing["items"], listing["total"], stats["total"]) == ([], 0, 0)


def _query(token: BadToken) -> str:
    return f"?token={token.query_token}" if token.authorization is not None else ""


def test_a_valid_token_in_the_query_string_is_not_accepted_by_the_http_api(local_stack: Any, user_id: str) -> None:
    token = valid_hs256(user_id, local_stack.jwt_secret).removeprefix("Bearer ")
    with httpx.Client(base_url=local_stack.api_url, timeout=30.0, trust_env=False) as client:
        answer = client.get("/tasks", params={"token": token})

    assert_envelope(answer, 401, "UNAUTHORIZED")


# -- another user's task --------------------------------------------------------------------------------


VALID_BODIES = {"POST /api/video/tasks/{videoId}/remix": {"prompt": "someone else's video, remixed"}}


def test_another_users_task_is_a_404_on_every_route_like_a_missing_one_and_refused_on_subscribe(
    local_stack: Any, user_id: str
) -> None:
    intruder = f"{user_id}-intruder"
    with local_stack.http(user_id) as owner, local_stack.http(intruder) as other:
        # `stuck` keeps the task PROCESSING, so a successful cancel by the intruder would show.
        created = owner.post("/tasks", json={"prompt": "mine alone [fault:stuck]"})
        assert created.status_code == 201, created.text
        video_id = created.json()["data"]["videoId"]

        for route in authorised_routes():
            if UNKNOWN_VIDEO_ID not in route.path:
                continue
            path = route.path.removeprefix("/api/video")
            # A valid body where a route needs one, so that only whose task it is can make the answer.
            body = VALID_BODIES.get(route.route_key)
            theirs = other.request(route.method, path.replace(UNKNOWN_VIDEO_ID, video_id), json=body)
            missing = other.request(route.method, path, json=body)
            body = assert_envelope(theirs, 404, "NOT_FOUND")
            # Nothing tells "someone else's" from "no such task": same answer but for the id.
            assert json.dumps(body).replace(video_id, UNKNOWN_VIDEO_ID) == json.dumps(missing.json()), str(route)

        listing = other.get("/tasks").json()["data"]
        stats = other.get("/stats").json()["data"]
        answers_theirs = asyncio.run(_subscribe_as(local_stack, intruder, video_id))
        answers_missing = asyncio.run(_subscribe_as(local_stack, intruder, UNKNOWN_VIDEO_ID))
        still_mine = owner.get(f"/tasks/{video_id}").json()["data"]
        cancelled = owner.post(f"/tasks/{video_id}/cancel")

    assert (listing["items"], listing["total"], stats["total"]) == ([], 0, 0)
    for theirs, missing in zip(answers_theirs, answers_missing, strict=True):
        assert theirs["type"] == "error", theirs
        assert theirs["payload"]["code"] == "NOT_FOUND", theirs
        assert set(theirs["payload"]) <= {"code", "message", "videoId"}, theirs  # no state of the task
        assert json.dumps(theirs["payload"]).replace(video_id, UNKNOWN_VIDEO_ID) == json.dumps(missing["payload"])
    assert still_mine["status"] == "PROCESSING", still_mine  # the intruder's cancel did nothing
    assert cancelled.status_code == 200, cancelled.text  # ...while the owner's works


def test_another_users_idempotency_key_and_cursor_give_nothing_of_theirs(local_stack: Any, user_id: str) -> None:
    intruder = f"{user_id}-intruder"
    body = {"prompt": "the same words, by two people"}
    with local_stack.http(user_id) as owner, local_stack.http(intruder) as other:
        theirs = owner.post("/tasks", json=body, headers={"Idempotency-Key": "shared-key"})
        assert theirs.status_code == 201, theirs.text
        assert owner.post("/tasks", json={"prompt": "a second one"}).status_code == 201
        page = owner.get("/tasks", params={"limit": 1}).json()["data"]
        assert page["nextCursor"], page

        mine = other.post("/tasks", json=body, headers={"Idempotency-Key": "shared-key"})
        foreign_cursor = other.get("/tasks", params={"limit": 1, "cursor": page["nextCursor"]})

    assert mine.status_code == 201, mine.text  # a task of the intruder's own, not a replay of theirs
    assert mine.json()["data"]["videoId"] != theirs.json()["data"]["videoId"]
    body_400 = assert_envelope(foreign_cursor, 400, "VALIDATION_ERROR")
    assert "cursor" in body_400["message"]


async def _subscribe_as(stack: Any, user: str, video_id: str) -> list[dict[str, Any]]:
    """``user`` asks for ``video_id`` by the current and the legacy frame; returns both answers."""
    token = stack.token(user)
    async with websockets.connect(f"{stack.ws_url}/?token={token}", open_timeout=30) as socket:
        answers = []
        for frame in (
            {"action": "subscribe", "videoId": video_id},
            {"type": "subscribe_task", "payload": {"videoId": video_id}},
        ):
            await socket.send(json.dumps(frame))
            answers.append(json.loads(await asyncio.wait_for(socket.recv(), timeout=30)))
        return answers


def test_a_subscription_to_all_tasks_carries_the_users_own_tasks_and_never_anothers(
    local_stack: Any, user_id: str
) -> None:
    intruder = f"{user_id}-intruder"

    async def create_and_cancel(user: str) -> str:
        async with httpx.AsyncClient(
            base_url=local_stack.api_url, headers=local_stack.auth(user), trust_env=False, timeout=30
        ) as client:
            created = await client.post("/tasks", json={"prompt": f"a task of {user}"})
            assert created.status_code == 201, created.text
            video_id = str(created.json()["data"]["videoId"])
            assert (await client.post(f"/tasks/{video_id}/cancel")).status_code == 200
            return video_id

    async def scenario() -> tuple[str, str, list[dict[str, Any]]]:
        async with websockets.connect(f"{local_stack.ws_url}/?token={local_stack.token(intruder)}") as socket:
            await socket.send(json.dumps({"action": "subscribe"}))
            assert json.loads(await asyncio.wait_for(socket.recv(), timeout=30))["type"] == "subscribed"
            theirs = await create_and_cancel(user_id)
            own = await create_and_cancel(intruder)  # the control: this one must be pushed
            received: list[dict[str, Any]] = []
            own_ended_by = time.monotonic() + 30
            quiet_from: float | None = None
            while True:
                ends = quiet_from + QUIET_SECONDS if quiet_from is not None else own_ended_by
                if (left := ends - time.monotonic()) <= 0:
                    break
                try:
                    message = json.loads(await asyncio.wait_for(socket.recv(), timeout=left))
                except TimeoutError:
                    break
                received.append(message)
                if message["type"] == "taskCancelled" and message["payload"]["videoId"] == own:
                    quiet_from = time.monotonic()  # then listen a while longer for anything of theirs
            return theirs, own, received

    theirs, own, received = asyncio.run(scenario())

    about = {message["payload"].get("videoId") for message in received}
    assert own in about, received
    assert theirs not in json.dumps(received)


# -- CORS -----------------------------------------------------------------------------------------------


def cors_configuration() -> dict[str, Any]:
    return dict(load_template()["Globals"]["HttpApi"]["CorsConfiguration"])


def allowed_origin(stack: Any) -> str:
    return str(stack.http_url)  # the local stack's CorsAllowedOrigins: its own origins


def foreign_origins(stack: Any) -> list[str]:
    allowed = allowed_origin(stack)
    host_port = allowed.removeprefix("http://")
    return [
        "https://evil.example",
        "null",
        f"{allowed}.evil.example",  # the allowed origin as a prefix
        f"http://evil.example/{host_port}",
        f"https://{host_port}",  # another scheme
        f"{allowed}/",
        f"http://evil-{host_port}",
    ]


def preflight(stack: Any, origin: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    return httpx.options(f"{stack.api_url}/tasks", headers=headers, timeout=30.0, trust_env=False)


def test_a_preflight_from_an_allowed_origin_is_answered_with_the_templates_cors_rules(local_stack: Any) -> None:
    origin = allowed_origin(local_stack)
    answer = preflight(local_stack, origin)
    rules = cors_configuration()

    assert answer.status_code in (200, 204), answer.text
    assert answer.headers["access-control-allow-origin"] == origin
    assert _words(answer.headers["access-control-allow-methods"]) == _words(rules["AllowMethods"])
    assert _words(answer.headers["access-control-allow-headers"]) == _words(rules["AllowHeaders"])
    assert answer.headers["access-control-max-age"] == str(rules["MaxAge"])
    assert "access-control-allow-credentials" not in answer.headers


def _words(value: str | list[str]) -> set[str]:
    items = value.split(",") if isinstance(value, str) else value
    return {item.strip().lower() for item in items}


@pytest.mark.parametrize("which", range(7))
def test_a_preflight_from_any_other_origin_gets_no_cors_grant(local_stack: Any, which: int) -> None:
    origin = foreign_origins(local_stack)[which]
    answer = preflight(local_stack, origin)

    assert not [name for name in answer.headers if name.lower().startswith("access-control-allow")], (
        origin,
        dict(answer.headers),
    )


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda stack, headers: httpx.get(f"{stack.api_url}/health", headers=headers), id="health"),
        pytest.param(
            lambda stack, headers: httpx.get(f"{stack.api_url}/tasks", headers=headers), id="tasks-without-a-token"
        ),
        pytest.param(
            lambda stack, headers: httpx.get(
                f"{stack.api_url}/tasks", headers={**headers, **stack.auth("cors-reader")}
            ),
            id="tasks-with-a-token",
        ),
    ],
)
def test_a_reply_carries_the_cors_grant_for_the_allowed_origin_only(
    local_stack: Any, send: Callable[[Any, dict[str, str]], httpx.Response]
) -> None:
    allowed = send(local_stack, {"Origin": allowed_origin(local_stack)})
    assert allowed.headers.get("access-control-allow-origin") == allowed_origin(local_stack)
    assert "origin" in allowed.headers.get("vary", "").lower()

    for origin in foreign_origins(local_stack):
        answer = send(local_stack, {"Origin": origin})
        assert answer.status_code == allowed.status_code, origin  # CORS decides who may read, not what runs
        assert "access-control-allow-origin" not in answer.headers, origin
