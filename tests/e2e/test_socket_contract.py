"""The e2e suites' check of received WebSocket messages (tests/e2e/socket_contract.py) can fail, and does on
anything docs/asyncapi.yaml does not describe."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from local.asyncapi_export import current_document
from tests.e2e import socket_contract
from tests.e2e.socket_contract import ContractViolationError, check
from videotasks.domain.socket_outbound import SERVER_MESSAGES

FAILED = {
    "type": "taskFailed",
    "timestamp": 1_763_027_892_000,
    "payload": {
        "videoId": "video_e7a620c7-2829-40d8-bbfb-77891f4621cc",
        "externalVideoId": "video_4df24bdc4f664e02a6086ce4a12f154a",
        "status": "failed",
        "progress": 10,
        "message": "The video failed",
        "updatedAt": "2026-11-25T16:09:14.208Z",
        "error": {"code": "PROVIDER_ERROR", "message": "The provider could not generate this video"},
    },
}


def _with(message: dict[str, Any], **payload: Any) -> str:
    return json.dumps({**message, "payload": {**message["payload"], **payload}})


def test_every_documented_server_example_passes() -> None:
    messages = current_document()["components"]["messages"]
    examples = [
        example["payload"] for model in SERVER_MESSAGES for example in messages[model.KIND.value].get("examples", [])
    ]

    assert {example["type"] for example in examples} == {model.KIND.value for model in SERVER_MESSAGES}
    for example in examples:
        assert check(json.dumps(example)) == example
    assert check(_with(FAILED))["type"] == "taskFailed"
    assert check(json.dumps({"message": "Internal server error", "connectionId": "c1=", "requestId": "r1"}))


@pytest.mark.parametrize(
    ("frame", "said"),
    [
        pytest.param(_with(FAILED, status="completed"), "payload/status", id="status-of-another-type"),
        pytest.param(_with(FAILED, error=None), "payload/error", id="failed-without-error"),
        pytest.param(_with(FAILED, surprise=1), "surprise", id="undocumented-field"),
        pytest.param(_with(FAILED, progress=101), "payload/progress", id="progress-out-of-range"),
        pytest.param(_with(FAILED, videoId="42"), "payload/videoId", id="not-our-id"),
        pytest.param(json.dumps({**FAILED, "type": "taskUpdate"}), "no type", id="unknown-type"),
        pytest.param(json.dumps({"hello": 1}), "breaks", id="untyped"),
        pytest.param("not json", "not JSON", id="not-json"),
    ],
)
def test_a_malformed_message_is_refused_saying_where(frame: str, said: str) -> None:
    with pytest.raises(ContractViolationError, match=said):
        check(frame)


def test_every_receive_of_a_client_connection_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    socket_contract.validating_receives(monkeypatch)

    async def scenario() -> None:
        async def send_one_good_and_one_bad(connection: Any) -> None:
            await connection.send(_with(FAILED))
            await connection.send(_with(FAILED, status="completed"))
            await connection.wait_closed()

        async with websockets.serve(send_one_good_and_one_bad, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            async with websockets.connect(f"ws://127.0.0.1:{port}") as client:
                assert json.loads(await client.recv())["type"] == "taskFailed"
                with pytest.raises(ContractViolationError):
                    await client.recv()

    asyncio.run(scenario())
