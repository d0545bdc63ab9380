"""local/lambdas.py enforces each function's ``Timeout`` as Lambda does: past it the invocation answers
Lambda's timeout error (``Sandbox.Timedout``), the still-running handler's container is never used again,
and the HTTP gateway answers 503 as an HTTP API does. Handlers here sleep well past a 1 s timeout; nothing
asserts how fast anything is."""

from __future__ import annotations

import asyncio
import contextvars
import json
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from local.http_gateway import HttpGateway
from local.lambdas import FunctionRegistry, FunctionTimeoutError, LocalFunction
from local.template import HttpRoute

SLEEPY_HANDLER = textwrap.dedent(
    """
    import time
    import uuid

    import timeout_probe

    CONTAINER = uuid.uuid4().hex  # one per import, i.e. per local "container"


    def lambda_handler(event, context):
        timeout_probe.started.append(CONTAINER)
        if event.get("fail"):
            raise ValueError("refused on purpose")
        slow_route = event.get("rawPath") == "/api/slow"  # an HTTP API event
        time.sleep(4 if slow_route else event.get("sleep", 0))
        return {"container": CONTAINER, "probe": timeout_probe.current.get()}
    """
)
TIMEOUT_SECONDS = 1
PAST_THE_TIMEOUT = 4  # seconds a sleepy handler sleeps: well past TIMEOUT_SECONDS, so no race decides a test


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """A module the handler imports: a context variable the invoker sets, and the containers that ran."""
    module = types.ModuleType("timeout_probe")
    module.current = contextvars.ContextVar("current", default="unset")  # type: ignore[attr-defined]
    module.started = []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "timeout_probe", module)
    return module  # type: ignore[return-value]


@pytest.fixture
def code(tmp_path: Path, probe: Any) -> Path:
    (tmp_path / "app.py").write_text(SLEEPY_HANDLER, encoding="utf-8")
    return tmp_path


def sleepy(code: Path, *, pool_size: int = 4) -> LocalFunction:
    return LocalFunction("Sleepy", code, "app.lambda_handler", timeout=TIMEOUT_SECONDS, memory=128, pool_size=pool_size)


def test_a_handler_running_past_its_timeout_answers_lambdas_timeout_error(code: Path) -> None:
    with pytest.raises(FunctionTimeoutError) as caught:
        sleepy(code).invoke({"sleep": PAST_THE_TIMEOUT})

    assert caught.value.error_type == "Sandbox.Timedout"
    assert str(caught.value).endswith("Error: Task timed out after 1.00 seconds")


def test_the_invoke_api_reports_a_timeout_as_an_unhandled_sandbox_timedout(code: Path) -> None:
    template = {
        "Resources": {
            "Sleepy": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": str(code), "Timeout": 1}}
        }
    }
    registry = FunctionRegistry(template)

    payload, errored = registry.invoke_json("Sleepy", json.dumps({"sleep": PAST_THE_TIMEOUT}))

    assert errored
    body = json.loads(payload)
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].startswith("RequestId: ")


def test_a_timed_out_container_never_serves_another_invocation(code: Path, probe: Any) -> None:
    function = sleepy(code, pool_size=1)
    with pytest.raises(FunctionTimeoutError):
        function.invoke({"sleep": PAST_THE_TIMEOUT})
    (abandoned,) = probe.started

    answer = function.invoke({})

    assert answer["container"] != abandoned  # a fresh import, while the abandoned one still sleeps


def test_a_handler_within_its_timeout_answers_and_keeps_its_container(code: Path) -> None:
    function = sleepy(code, pool_size=1)

    first, second = function.invoke({}), function.invoke({})

    assert first["container"] == second["container"]


def test_a_handlers_exception_reaches_the_invoker_as_before(code: Path) -> None:
    with pytest.raises(ValueError, match="refused on purpose"):
        sleepy(code).invoke({"fail": True})


def test_context_variables_set_by_the_invoker_reach_the_handler(code: Path, probe: Any) -> None:
    token = probe.current.set("SubmitTaskFunction")
    try:
        answer = sleepy(code).invoke({})
    finally:
        probe.current.reset(token)

    assert answer["probe"] == "SubmitTaskFunction"


def test_the_http_gateway_answers_a_timed_out_integration_503(code: Path) -> None:
    template = {
        "Resources": {
            "Sleepy": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": str(code), "Timeout": 1}}
        }
    }
    gateway = HttpGateway(
        FunctionRegistry(template), [HttpRoute("GET", "/api/slow", "Sleepy", authorized=False)], None, []
    )

    async def call() -> tuple[int, Any]:
        async with TestClient(TestServer(gateway.app())) as client:
            response = await client.get("/api/slow")
            return response.status, await response.json()

    status, body = asyncio.run(call())

    assert (status, body) == (503, {"message": "Service Unavailable"})
