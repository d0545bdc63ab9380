"""What a WebSocket client may send, on which route (videotasks.domain.socket_inbound.parse_frame)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from videotasks.domain.socket_inbound import (
    CLIENT_FRAMES,
    KNOWN_ACTIONS,
    LEGACY_TYPES,
    MAX_FRAME_CHARS,
    Action,
    ClientFrame,
    Command,
    ProtocolError,
    parse_frame,
)

# Fixed ids keep the parametrized test ids the same in every collection (pytest-xdist compares them).
VIDEO_ID = "video_2ce6db0a-8ba9-4eb4-ad21-d43a70faf721"


def _frame(**fields: Any) -> str:
    return json.dumps(fields)


# the action routes ------------------------------------------------------------------------------
def test_subscribe_with_a_video_id_follows_that_task() -> None:
    assert parse_frame("subscribe", _frame(action="subscribe", videoId=VIDEO_ID)) == Command(Action.SUBSCRIBE, VIDEO_ID)


@pytest.mark.parametrize("body", [_frame(action="subscribe"), _frame(action="subscribe", videoId=None)])
def test_subscribe_without_a_video_id_follows_every_task(body: str) -> None:
    assert parse_frame("subscribe", body) == Command(Action.SUBSCRIBE, None)


def test_unsubscribe_names_the_task_or_everything() -> None:
    assert parse_frame("unsubscribe", _frame(action="unsubscribe", videoId=VIDEO_ID)) == Command(
        Action.UNSUBSCRIBE, VIDEO_ID
    )
    assert parse_frame("unsubscribe", _frame(action="unsubscribe")) == Command(Action.UNSUBSCRIBE, None)


def test_ping_ignores_anything_else_it_carries() -> None:
    assert parse_frame("ping", _frame(action="ping", videoId="whatever")) == Command(Action.PING)


def test_the_route_decides_the_action_as_api_gateway_routed_it() -> None:
    assert parse_frame("ping", _frame(action="ping")).action is Action.PING
    assert parse_frame("subscribe", _frame(action="subscribe")).action is Action.SUBSCRIBE


# $default: the old backend's messages, and refusals ---------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_frame(type="subscribe_task", payload={"videoId": VIDEO_ID}), Command(Action.SUBSCRIBE, VIDEO_ID)),
        (_frame(type="unsubscribe_task", payload={"videoId": VIDEO_ID}), Command(Action.UNSUBSCRIBE, VIDEO_ID)),
        (_frame(type="ping"), Command(Action.PING)),
        (_frame(type="subscribe_task", videoId=VIDEO_ID), Command(Action.SUBSCRIBE, VIDEO_ID)),
    ],
)
def test_the_old_backends_socket_messages_act_like_the_actions(body: str, expected: Command) -> None:
    assert parse_frame("$default", body) == expected


def test_a_known_action_that_reached_default_is_still_understood() -> None:
    assert parse_frame("$default", _frame(action="ping")) == Command(Action.PING)


@pytest.mark.parametrize(
    "body",
    [
        _frame(action="dance"),
        _frame(type="requestTaskStatus", payload={"videoId": VIDEO_ID}),
        _frame(hello="world"),
        "not json at all",
        "[1, 2, 3]",
        '"subscribe"',
        "",
        "   ",
        None,
    ],
)
def test_anything_else_is_refused_with_an_error_naming_the_known_actions(body: str | None) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_frame("$default", body)

    assert refused.value.code == "VALIDATION_ERROR"
    assert refused.value.name_actions
    assert all(action in refused.value.message for action in KNOWN_ACTIONS)


def test_an_unknown_action_is_named_in_the_refusal() -> None:
    with pytest.raises(ProtocolError, match="dance"):
        parse_frame("$default", _frame(action="dance"))


@pytest.mark.parametrize(
    "video_id",
    ["", "video_123", "not-an-id", 42, ["video_x"], {"id": 1}, VIDEO_ID.upper(), VIDEO_ID + " "],
)
def test_a_malformed_video_id_is_refused(video_id: Any) -> None:
    with pytest.raises(ProtocolError, match="videoId") as refused:
        parse_frame("subscribe", _frame(action="subscribe", videoId=video_id))

    assert refused.value.code == "VALIDATION_ERROR"


def test_a_legacy_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ProtocolError, match="payload"):
        parse_frame("$default", _frame(type="subscribe_task", payload="video_x"))


def test_an_oversized_frame_is_refused_before_parsing() -> None:
    body = _frame(action="subscribe", videoId=VIDEO_ID, padding="x" * MAX_FRAME_CHARS)

    with pytest.raises(ProtocolError, match="too large"):
        parse_frame("subscribe", body)


@pytest.mark.parametrize("legacy", ["subscribe_task", "unsubscribe_task"])
@pytest.mark.parametrize("payload", [{}, None, {"videoId": None}])
def test_an_old_message_without_a_video_id_is_refused_not_read_as_every_task(legacy: str, payload: Any) -> None:
    with pytest.raises(ProtocolError, match=r"payload\.videoId") as refused:
        parse_frame("$default", _frame(type=legacy, payload=payload))

    assert refused.value.code == "VALIDATION_ERROR"


def test_the_new_action_without_a_video_id_still_means_every_task() -> None:
    assert parse_frame("subscribe", _frame(action="subscribe")) == Command(Action.SUBSCRIBE)


# the old backend's auth message ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "frame",
    [{"type": "auth", "token": "t.o.k"}, {"type": "auth", "payload": {"token": "t.o.k"}}],
    ids=["top-level", "in-payload"],
)
def test_the_old_auth_message_is_a_command_carrying_its_token(frame: dict[str, Any]) -> None:
    command = parse_frame("$default", json.dumps(frame))

    assert command == Command(Action.AUTH, token="t.o.k")
    assert "t.o.k" not in repr(command)  # commands end up in log lines; tokens must not


def test_an_auth_message_without_a_string_token_is_a_command_without_one() -> None:
    assert parse_frame("$default", json.dumps({"type": "auth", "token": 7})) == Command(Action.AUTH)
    assert parse_frame("$default", json.dumps({"type": "auth"})) == Command(Action.AUTH)


def test_auth_is_no_action_of_the_new_protocol() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_frame("$default", json.dumps({"action": "auth", "token": "t"}))

    assert refused.value.name_actions
    assert "auth" not in KNOWN_ACTIONS


# the frames' models (docs/asyncapi.yaml) agree with the parser -------------------------------------------
@pytest.mark.parametrize(
    ("model", "example"),
    [(model, example) for model in CLIENT_FRAMES for example in model.EXAMPLES],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_every_documented_frame_is_valid_for_its_model_and_parses_to_its_action(
    model: type[ClientFrame], example: dict[str, Any]
) -> None:
    model.model_validate(example)

    command = parse_frame(model.ROUTE, json.dumps(example))

    assert command.action is model.ACTION


def test_the_models_cover_every_action_and_old_type() -> None:
    new = {model.ROUTE for model in CLIENT_FRAMES if model.ROUTE != "$default"}
    old = {example["type"] for model in CLIENT_FRAMES for example in model.EXAMPLES if "type" in example}

    assert new == set(KNOWN_ACTIONS)
    assert old == set(LEGACY_TYPES)
