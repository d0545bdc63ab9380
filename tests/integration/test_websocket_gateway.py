"""The local WebSocket gateway (local/ws_gateway.py) behaves as API Gateway does for our template.

The routes come from template.yaml; the functions behind them are stand-ins that record their events, so
these tests are about the gateway alone: the handshake and its authorizer, routing by action, route
responses, $disconnect, and the @connections management API as botocore reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import websockets
from aiohttp import web
from botocore.exceptions import ClientError

from local.template import load_template, websocket_api
from local.ws_gateway import WebSocketGateway
from tests.fixtures.environment import REGION

TEMPLATE_API = websocket_api(load_template())
GOOD_TOKEN = "good-token"


class Functions:
    """Stands in for local.lambdas.FunctionRegistry: the template's functions, recorded and scripted."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.connect_status = 200
        self.failing_routes: set[str] = set()

    def get(self, name: str) -> Any:
        return SimpleNamespace(invoke=lambda event: self._invoke(name, event))

    def routes(self, name: str = "WebSocketFunction") -> list[str]:
        return [event["requestContext"]["routeKey"] for called, event in self.events if called == name]

    def last(self, route_key: str) -> dict[str, Any]:
        return [event for _, event in self.events if event["requestContext"]["routeKey"] == route_key][-1]

    def _invoke(self, name: str, event: dict[str, Any]) -> Any:
        self.events.append((name, event))
        if name == "AuthorizerFunction":
            token = (event.get("queryStringParameters") or {}).get("token")
            effect = "Allow" if token == GOOD_TOKEN else "Deny"
            statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            return {
                "principalId": "alice",
                "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                "context": {"userId": "alice"} if effect == "Allow" else {},
            }
        route_key = event["requestContext"]["routeKey"]
        if route_key in self.failing_routes:
            raise RuntimeError("the integration broke")
        if route_key == "$connect":
            return {"statusCode": self.connect_status}
        if route_key == "$disconnect":
            return {"statusCode": 200}
        return {"statusCode": 200, "body": json.dumps({"route": route_key, "echo": event.get("body")})}


@contextlib.asynccontextmanager
async def serving(functions: Functions, api: Any = TEMPLATE_API) -> AsyncIterator[str]:
    """The gateway on a free port; yields its base URL (ws:// for clients, http:// for management)."""
    runner = web.AppRunner(WebSocketGateway(functions, api, stage="test").app())  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def management(address: str) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=f"http://{address}", region_name=REGION)


async def in_thread(call: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, call)


async def receive(socket: Any) -> Any:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout=10))


def run(scenario: Callable[[], Any]) -> None:
    asyncio.run(scenario())


# the handshake ----------------------------------------------------------------------------------
def test_a_handshake_without_a_token_is_refused_with_401_before_anything_runs() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address:
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(f"ws://{address}/")
            assert refused.value.response.status_code == 401

    run(scenario)
    assert functions.events == []


def test_a_handshake_the_authorizer_denies_is_refused_with_403_and_connect_never_runs() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address:
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(f"ws://{address}/?token=forged")
            assert refused.value.response.status_code == 403

    run(scenario)
    assert [name for name, _ in functions.events] == ["AuthorizerFunction"]


def test_the_authorizer_gets_the_connect_request_event() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}"):
            pass

    run(scenario)
    name, event = functions.events[0]
    assert name == "AuthorizerFunction"
    assert event["type"] == "REQUEST"
    assert event["methodArn"].endswith("/test/$connect")
    assert event["queryStringParameters"] == {"token": GOOD_TOKEN}
    assert event["requestContext"]["eventType"] == "CONNECT"


def test_a_connect_integration_that_refuses_refuses_the_handshake() -> None:
    functions = Functions()
    functions.connect_status = 403

    async def scenario() -> None:
        async with serving(functions) as address:
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}")
            assert refused.value.response.status_code == 403

    run(scenario)


def test_the_authorizers_context_rides_along_with_every_route() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}") as ws:
            await ws.send(json.dumps({"action": "ping"}))
            await receive(ws)

    run(scenario)
    for route_key in ("$connect", "ping", "$disconnect"):
        assert functions.last(route_key)["requestContext"]["authorizer"]["userId"] == "alice"
    connection_ids = {event["requestContext"]["connectionId"] for _, event in functions.events[1:]}
    assert len(connection_ids) == 1


# frames -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "route_key"),
    [
        ({"action": "subscribe", "videoId": "video_x"}, "subscribe"),
        ({"action": "unsubscribe"}, "unsubscribe"),
        ({"action": "ping"}, "ping"),
        ({"action": "dance"}, "$default"),
        ({"action": "$connect"}, "$default"),
        ({"action": 7}, "$default"),
        ({"type": "subscribe_task", "payload": {"videoId": "video_x"}}, "$default"),
        ("not json", "$default"),
    ],
)
def test_frames_are_routed_by_action_else_to_default_and_two_way_routes_answer(frame: Any, route_key: str) -> None:
    functions = Functions()
    body = frame if isinstance(frame, str) else json.dumps(frame)

    async def scenario() -> None:
        async with serving(functions) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}") as ws:
            await ws.send(body)
            assert await receive(ws) == {"route": route_key, "echo": body}

    run(scenario)


def test_a_route_without_a_route_response_answers_nothing() -> None:
    functions = Functions()
    one_way_ping = dataclasses.replace(TEMPLATE_API.routes["ping"], two_way=False)
    api = dataclasses.replace(TEMPLATE_API, routes={**TEMPLATE_API.routes, "ping": one_way_ping})

    async def scenario() -> None:
        async with serving(functions, api) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}") as ws:
            await ws.send(json.dumps({"action": "ping"}))
            await ws.send(json.dumps({"action": "subscribe"}))
            assert (await receive(ws))["route"] == "subscribe"  # frames are handled in order: ping sent nothing

    run(scenario)


def test_a_failing_integration_gets_the_client_api_gateways_internal_error_message() -> None:
    functions = Functions()
    functions.failing_routes.add("subscribe")

    async def scenario() -> None:
        async with serving(functions) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}") as ws:
            await ws.send(json.dumps({"action": "subscribe"}))
            reply = await receive(ws)
            assert reply["message"] == "Internal server error"
            assert reply["connectionId"] and reply["requestId"]

    run(scenario)


def test_closing_runs_disconnect_with_the_close_code() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address:
            ws = await websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}")
            await ws.close(code=1000)
            for _ in range(100):  # bounded wait for the server side to finish
                if "$disconnect" in functions.routes():
                    break
                await asyncio.sleep(0.05)

    run(scenario)
    assert functions.routes() == ["$connect", "$disconnect"]
    assert functions.last("$disconnect")["requestContext"]["disconnectStatusCode"] == 1000


# the management API -----------------------------------------------------------------------------
def test_post_to_connection_reaches_the_socket_and_get_describes_it() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}") as ws:
            connection_id = functions.last("$connect")["requestContext"]["connectionId"]
            client = management(address)
            await in_thread(lambda: client.post_to_connection(ConnectionId=connection_id, Data=b'{"hello": 1}'))
            assert await receive(ws) == {"hello": 1}
            described = await in_thread(lambda: client.get_connection(ConnectionId=connection_id))
            assert described["Identity"]["SourceIp"] == "127.0.0.1"
            assert described["ConnectedAt"] <= described["LastActiveAt"]

    run(scenario)


def test_delete_connection_closes_the_socket_and_runs_disconnect() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}") as ws:
            connection_id = functions.last("$connect")["requestContext"]["connectionId"]
            await in_thread(lambda: management(address).delete_connection(ConnectionId=connection_id))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), timeout=10)
            for _ in range(100):
                if "$disconnect" in functions.routes():
                    break
                await asyncio.sleep(0.05)

    run(scenario)
    assert "$disconnect" in functions.routes()


def test_a_gone_connection_answers_410_gone_exception_as_botocore_reads_it() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address:
            async with websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}"):
                connection_id = functions.last("$connect")["requestContext"]["connectionId"]
            client = management(address)
            for target in (connection_id, "never-existed="):
                with pytest.raises(ClientError) as gone:
                    await in_thread(lambda target=target: client.post_to_connection(ConnectionId=target, Data=b"x"))
                assert gone.value.response["Error"]["Code"] == "GoneException"
                assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
                assert isinstance(gone.value, client.exceptions.GoneException)

    run(scenario)


def test_a_post_over_api_gateways_size_limit_is_refused() -> None:
    functions = Functions()

    async def scenario() -> None:
        async with serving(functions) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}"):
            connection_id = functions.last("$connect")["requestContext"]["connectionId"]
            client = management(address)
            with pytest.raises(client.exceptions.PayloadTooLargeException):
                await in_thread(lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"x" * 200_000))

    run(scenario)


def test_without_a_default_route_an_unmatched_frame_is_answered_forbidden() -> None:
    functions = Functions()
    api = dataclasses.replace(
        TEMPLATE_API, routes={key: route for key, route in TEMPLATE_API.routes.items() if key != "$default"}
    )

    async def scenario() -> None:
        async with serving(functions, api) as address, websockets.connect(f"ws://{address}/?token={GOOD_TOKEN}") as ws:
            await ws.send(json.dumps({"action": "dance"}))
            assert (await receive(ws))["message"] == "Forbidden"

    run(scenario)
    assert "$default" not in functions.routes()
