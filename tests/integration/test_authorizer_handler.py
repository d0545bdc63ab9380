"""The authorizer function with WebSocket $connect events, verifying tokens against the JwtSecret the
template puts in Secrets Manager (moto). The HTTP API has no authorizer: see test_api_handler.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Invoke = Callable[[str, Any], Any]
Token = Callable[..., str]
AuthorizerEvent = Callable[..., dict[str, Any]]

AUTHORIZER = "AuthorizerFunction"
ANOTHER_SECRET = "not-the-secret-in-secrets-manager-0123456789"


# -- WebSocket $connect -----------------------------------------------------------------------------


def test_websocket_a_valid_query_token_is_allowed_for_the_connect_route(
    aws_stack: Any, invoke: Invoke, authorizer_event: AuthorizerEvent, token: Token
) -> None:
    event = authorizer_event("websocket", token("alice"))

    policy = invoke(AUTHORIZER, event)

    assert policy["principalId"] == "alice"
    assert policy["context"] == {"userId": "alice", "lang": "en"}
    (statement,) = policy["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}


@pytest.mark.parametrize(
    "make_token",
    [lambda token: None, lambda token: "garbage", lambda token: token("alice", ttl_seconds=-3600)],
    ids=["missing", "garbage", "expired"],
)
def test_websocket_a_missing_or_bad_token_is_denied_at_the_handshake(
    aws_stack: Any,
    invoke: Invoke,
    authorizer_event: AuthorizerEvent,
    token: Token,
    make_token: Callable[[Token], str | None],
) -> None:
    event = authorizer_event("websocket", make_token(token))

    policy = invoke(AUTHORIZER, event)

    (statement,) = policy["policyDocument"]["Statement"]
    assert (statement["Effect"], statement["Resource"]) == ("Deny", event["methodArn"])
    assert "context" not in policy
    assert policy["principalId"] != "alice"
