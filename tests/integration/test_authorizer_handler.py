"""The authorizer function with the HTTP API (v2 REQUEST, simple responses) and WebSocket $connect
events, verifying tokens against the JwtSecret the template puts in Secrets Manager (moto)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Invoke = Callable[[str, Any], Any]
Token = Callable[..., str]
AuthorizerEvent = Callable[..., dict[str, Any]]

AUTHORIZER = "AuthorizerFunction"
ANOTHER_SECRET = "not-the-secret-in-secrets-manager-0123456789"


# -- HTTP API ---------------------------------------------------------------------------------------


def test_http_a_valid_token_is_authorised_with_its_user_id_in_the_context(
    aws_stack: Any, invoke: Invoke, authorizer_event: AuthorizerEvent, token: Token
) -> None:
    decision = invoke(AUTHORIZER, authorizer_event("http", f"Bearer {token('alice')}"))

    assert decision == {"isAuthorized": True, "context": {"userId": "alice"}}


def test_http_a_token_without_the_bearer_prefix_is_accepted(
    aws_stack: Any, invoke: Invoke, authorizer_event: AuthorizerEvent, token: Token
) -> None:
    decision = invoke(AUTHORIZER, authorizer_event("http", token("alice")))

    assert decision["context"] == {"userId": "alice"}


def test_http_the_header_is_found_whatever_its_case(
    aws_stack: Any, invoke: Invoke, authorizer_event: AuthorizerEvent, token: Token
) -> None:
    event = authorizer_event("http", None)
    event["headers"]["Authorization"] = f"Bearer {token('alice')}"

    assert invoke(AUTHORIZER, event)["context"] == {"userId": "alice"}


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda token: None, "Missing token"),
        (lambda token: "Bearer not.a.jwt", "Invalid token"),
        (lambda token: token("alice", secret=ANOTHER_SECRET), "Invalid token"),
        (lambda token: token("alice", ttl_seconds=-3600), "Token expired"),
    ],
    ids=["missing", "garbage", "wrong-secret", "expired"],
)
def test_http_a_refused_token_is_passed_on_as_auth_error_never_as_a_user(
    aws_stack: Any,
    invoke: Invoke,
    authorizer_event: AuthorizerEvent,
    token: Token,
    make_token: Callable[[Token], str | None],
    reason: str,
) -> None:
    # A deny would make API Gateway answer a bare 403; "authorised" with authError lets the API
    # function answer the contract's 401 envelope, before any route runs (functions/authorizer/app.py).
    decision = invoke(AUTHORIZER, authorizer_event("http", make_token(token)))

    assert decision == {"isAuthorized": True, "context": {"authError": reason}}


def test_http_tokens_are_verified_with_the_secret_in_secrets_manager(
    aws_stack: Any, invoke: Invoke, authorizer_event: AuthorizerEvent, token: Token, jwt_secret: str
) -> None:
    secret_arn = aws_stack.environment["JWT_SECRET_NAME"]
    assert secret_arn.startswith("arn:aws:secretsmanager:")
    aws_stack.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=ANOTHER_SECRET)

    rotated = invoke(AUTHORIZER, authorizer_event("http", token("alice", secret=ANOTHER_SECRET)))
    stale = invoke(AUTHORIZER, authorizer_event("http", token("alice", secret=jwt_secret)))

    assert rotated["context"] == {"userId": "alice"}
    assert stale["context"] == {"authError": "Invalid token"}


# -- WebSocket $connect -----------------------------------------------------------------------------


def test_websocket_a_valid_query_token_is_allowed_for_the_connect_route(
    aws_stack: Any, invoke: Invoke, authorizer_event: AuthorizerEvent, token: Token
) -> None:
    event = authorizer_event("websocket", token("alice"))

    policy = invoke(AUTHORIZER, event)

    assert policy["principalId"] == "alice"
    assert policy["context"] == {"userId": "alice"}
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
