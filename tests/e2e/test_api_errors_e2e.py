"""Bad input through the real local gateway: every reply under /api/video is the error envelope naming the
field to change (as the client named it), and nothing is written. Only a body over API Gateway's own payload
quota never reaches the function; the gateway answers it in API Gateway's shape."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
import pytest
import websockets

pytestmark = pytest.mark.e2e


def _envelope(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    body = answer.json()
    assert (body["success"], body["error"]["code"]) == (False, code), body
    assert body["message"] == body["error"]["message"]
    assert "Value error" not in answer.text
    return dict(body)


def _nothing_listed(client: httpx.Client) -> None:
    assert client.get("/tasks").json()["data"]["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"aspectRatio": "4:3"}, "aspectRatio"),
        ({"duration": "soon"}, "duration"),
        ({"duration": 8, "seconds": 8}, "duration"),
        ({"referenceImage": "http://img.test/a.png"}, "referenceImage"),
        ({"inputReference": "file:///etc/passwd"}, "inputReference"),
        ({"metadata": {"blob": "x" * 4096}}, "metadata"),
        ({"metadata": {"createdAt": 1}}, "metadata.createdAt"),
    ],
)
def test_a_bad_create_body_names_the_field_as_sent(local_stack, user_id, body, field):
    with local_stack.http(user_id) as client:
        reply = _envelope(client.post("/tasks", json={"prompt": "a cat", **body}), 400, "VALIDATION_ERROR")
        _nothing_listed(client)

    assert reply["message"].startswith(f"{field}: ")
    assert reply["error"]["details"][0]["field"] == field


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cursor": "abc.def", "page": "2"}, "cursor"), ({"page": "11", "pageSize": "100"}, "page")],
)
def test_a_bad_listing_query_names_the_parameter(local_stack, user_id, params, field):
    with local_stack.http(user_id) as client:
        reply = _envelope(client.get("/tasks", params=params), 400, "VALIDATION_ERROR")

    assert reply["error"]["details"][0]["field"] == field


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"prompt": "a cat"', "application/json"),
        (b"prompt=a+cat", "application/x-www-form-urlencoded"),
        (b"prompt: a cat", "text/plain"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"", "application/json"),
        (json.dumps({"prompt": "x" * 2_000_000}).encode(), "application/json"),
    ],
    ids=["truncated-json", "form", "text", "binary", "empty", "2mb-prompt"],
)
def test_a_body_that_is_no_create_body_is_a_400_envelope(local_stack, user_id, content, content_type):
    with local_stack.http(user_id) as client:
        _envelope(
            client.post("/tasks", content=content, headers={"content-type": content_type}), 400, "VALIDATION_ERROR"
        )
        _nothing_listed(client)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/tasks/video_00000000-0000-4000-8000-000000000000/../../stats/x", 404, "NOT_FOUND"),
        ("GET", "/tasks/%00", 400, "VALIDATION_ERROR"),
        ("GET", "/tasks/video_%E2%80%AE", 400, "VALIDATION_ERROR"),
        ("POST", "/tasks/video_00000000-0000-4000-8000-000000000000/cancel/", 404, "NOT_FOUND"),
        ("PUT", "/stats", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/webhooks", 404, "NOT_FOUND"),
        ("OPTIONS", "/tasks", 405, "METHOD_NOT_ALLOWED"),  # not a CORS preflight: no Origin
        ("GET", "/tasks/video_00000000-0000-4000-8000-000000000000/", 404, "NOT_FOUND"),
        ("GET", "/tasks?limit=1&limit=2", 400, "VALIDATION_ERROR"),
    ],
)
def test_odd_paths_and_methods_get_the_envelope(local_stack, user_id, method, path, status, code):
    with local_stack.http(user_id) as client:
        _envelope(client.request(method, path), status, code)


def test_a_trailing_slash_reaches_the_route_the_gateway_sent_it_to(local_stack, user_id):
    with local_stack.http(user_id) as client:
        answer = client.get("/tasks/")

    assert answer.status_code == 200, answer.text
    assert answer.json()["success"] is True
    assert answer.json()["items"] == []


def test_without_a_token_an_unknown_route_is_a_401_envelope(local_stack):
    with local_stack.http() as client:
        _envelope(client.get("/no-such-route"), 401, "UNAUTHORIZED")


def test_a_body_over_the_gateways_quota_gets_api_gateways_own_json_refusal(local_stack, user_id):
    with local_stack.http(user_id) as client:
        answer = client.post(
            "/tasks", content=b"x" * (10 * 1024 * 1024 + 1), headers={"content-type": "application/json"}
        )
        _nothing_listed(client)

    assert answer.status_code == 413
    assert answer.json() == {"message": "Request Entity Too Large"}


# -- tokens without exp: JWT_ALLOW_NO_EXP (the template's JwtAllowNoExp) ----------------------------------------


def _without_exp(stack, user_id: str, **claims: Any) -> str:
    return jwt.encode({"userId": user_id, "iat": int(time.time()), **claims}, stack.jwt_secret, algorithm="HS256")


async def _handshake_status(url: str) -> int:
    try:
        async with websockets.connect(url):
            return 101
    except websockets.InvalidStatus as refused:
        return int(refused.response.status_code)


def test_by_default_a_token_without_exp_is_refused_on_http_and_at_the_handshake(local_stack, user_id):
    token = _without_exp(local_stack, user_id)

    answer = httpx.get(f"{local_stack.api_url}/tasks", headers={"authorization": f"Bearer {token}"}, trust_env=False)

    body = _envelope(answer, 401, "UNAUTHORIZED")
    assert body["message"] == "Token has no expiry (exp claim); this deployment requires one"
    assert asyncio.run(_handshake_status(f"{local_stack.ws_url}/?token={token}")) == 403


def test_with_no_exp_allowed_such_a_token_works_and_an_expired_one_still_does_not(local_stack_factory, user_id):
    stack = local_stack_factory(JWT_ALLOW_NO_EXP=1)
    token = _without_exp(stack, user_id)
    expired = _without_exp(stack, user_id, exp=int(time.time()) - 3600)

    listed = httpx.get(f"{stack.api_url}/tasks", headers={"authorization": f"Bearer {token}"}, trust_env=False)
    refused = httpx.get(f"{stack.api_url}/tasks", headers={"authorization": f"Bearer {expired}"}, trust_env=False)

    assert listed.status_code == 200, listed.text
    assert _envelope(refused, 401, "UNAUTHORIZED")["message"] == "Token expired"
    assert asyncio.run(_handshake_status(f"{stack.ws_url}/?token={token}")) == 101
    assert asyncio.run(_handshake_status(f"{stack.ws_url}/?token={expired}")) == 403
