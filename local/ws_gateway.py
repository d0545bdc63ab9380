"""A WebSocket API Gateway built from the template's AWS::ApiGatewayV2 WebSocket resources.

What it does, as API Gateway does:

* Handshake: the ``$connect`` route's REQUEST authorizer runs first. A missing identity source (``?token=``)
  is refused with 401 before anything runs, a Deny policy with 403, an authorizer error with 500; then the
  ``$connect`` integration runs and a non-2xx answer refuses the handshake with that status. Only then is
  the connection upgraded.
* Frames: the route is chosen by the API's route selection expression (``$request.body.action``); a frame
  that is not JSON, or names no route, goes to ``$default``. The authorizer's context rides along with
  every message of the connection, as ``requestContext.authorizer``. For two-way routes (a route response
  in the template) the integration's ``body`` is sent back to the client; a failing integration gets the
  client ``{"message": "Internal server error", ...}``.
* Close: ``$disconnect`` runs with the close code, whoever closed.
* The management API on the same port, ``POST/GET/DELETE /@connections/{id}`` (also under
  ``/{stage}/``), with API Gateway Management API semantics: POST sends the body to the socket, GET
  describes the connection, DELETE closes it, and an unknown or closed id answers 410 ``GoneException``
  in the shape botocore parses, so the broadcaster's boto3 client behaves exactly as in the cloud.

Frames of one connection are handled one at a time, in order (API Gateway does not promise an order; doing
so here keeps local runs reproducible). Not emulated: the 10-minute idle timeout and 2-hour connection
limit, IAM signing of management calls (the port is bound to 127.0.0.1), and throttling.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from local.lambdas import FunctionRegistry
from local.template import ACCOUNT, REGION, WebSocketApi, WebSocketRoute

log = logging.getLogger("videotasks.local.ws")

MAX_POST_BYTES = 128 * 1024  # API Gateway's WebSocket message size limit
_BODY_PREFIX = "$request.body."


def new_connection_id() -> str:
    """An id shaped like API Gateway's (16 characters ending in ``=``), safe in a URL path."""
    return secrets.token_urlsafe(12)[:15] + "="


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class LiveConnection:
    connection_id: str
    socket: web.WebSocketResponse
    connected_at: int  # epoch ms
    source_ip: str
    user_agent: str
    authorizer: dict[str, Any]
    last_active_at: int = 0
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, data: bytes | str) -> None:
        async with self.send_lock:
            if isinstance(data, bytes):
                try:
                    data = data.decode("utf-8")
                except UnicodeDecodeError:
                    await self.socket.send_bytes(data)
                    return
            await self.socket.send_str(data)


class WebSocketGateway:
    def __init__(self, registry: FunctionRegistry, api: WebSocketApi, *, stage: str, api_id: str = "local") -> None:
        self._registry = registry
        self._api = api
        self._stage = stage
        self._api_id = api_id
        self._connections: dict[str, LiveConnection] = {}

    def app(self) -> web.Application:
        application = web.Application(client_max_size=MAX_POST_BYTES * 2)
        application.router.add_route("*", "/@connections/{connection_id}", self.manage)
        application.router.add_route("*", "/{stage}/@connections/{connection_id}", self.manage)
        application.router.add_route("GET", "/{tail:.*}", self.handshake)
        application.on_shutdown.append(self._close_all)
        return application

    @property
    def connection_ids(self) -> list[str]:
        return list(self._connections)

    # handshake -----------------------------------------------------------------------------------
    async def handshake(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response({"message": "Upgrade Required"}, status=426)
        connection_id = new_connection_id()
        connected_at = _now_ms()
        connect = self._api.routes.get("$connect")
        context: dict[str, Any] = {}
        if connect is not None and connect.authorizer is not None:
            refusal, context = await self._authorize(request, connect, connection_id, connected_at)
            if refusal is not None:
                return refusal
        if connect is not None:
            event = self._event(request, "$connect", "CONNECT", connection_id, connected_at, context)
            try:
                result = await self._invoke(connect.function, event)
            except Exception:
                log.exception("$connect integration failed")
                return web.json_response({"message": "Internal server error"}, status=500)
            status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
            if not 200 <= status < 300:
                return web.Response(status=status)
        socket = web.WebSocketResponse(max_msg_size=MAX_POST_BYTES)
        await socket.prepare(request)
        connection = LiveConnection(
            connection_id,
            socket,
            connected_at,
            request.remote or "127.0.0.1",
            request.headers.get("User-Agent", ""),
            context,
            connected_at,
        )
        self._connections[connection_id] = connection
        try:
            async for frame in socket:
                if frame.type is WSMsgType.TEXT:
                    await self._message(request, connection, frame.data, is_base64=False)
                elif frame.type is WSMsgType.BINARY:
                    await self._message(request, connection, base64.b64encode(frame.data).decode(), is_base64=True)
        finally:
            self._connections.pop(connection_id, None)
            await self._disconnect(request, connection)
        return socket

    async def _authorize(
        self, request: web.Request, route: WebSocketRoute, connection_id: str, connected_at: int
    ) -> tuple[web.Response | None, dict[str, Any]]:
        if any(not self._identity(request, source) for source in route.identity_sources):
            return web.json_response({"message": "Unauthorized"}, status=401), {}
        event = self._event(request, "$connect", "CONNECT", connection_id, connected_at, {})
        authorizer_event = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self._api_id}/{self._stage}/$connect",
            **{key: event[key] for key in ("headers", "multiValueHeaders", "queryStringParameters")},
            "multiValueQueryStringParameters": event["multiValueQueryStringParameters"],
            "stageVariables": {},
            "requestContext": event["requestContext"],
        }
        assert route.authorizer is not None
        try:
            decision = await self._invoke(route.authorizer, authorizer_event)
        except Exception:
            log.exception("WebSocket authorizer failed")
            return web.json_response({"message": "Internal server error"}, status=500), {}
        if not _allows(decision):
            return web.json_response({"message": "Forbidden"}, status=403), {}
        context = {**(decision.get("context") or {}), "principalId": decision.get("principalId")}
        return None, context

    @staticmethod
    def _identity(request: web.Request, source: str) -> str:
        kind, _, name = source.removeprefix("route.request.").partition(".")
        if kind == "querystring":
            return request.query.get(name, "")
        if kind == "header":
            return request.headers.get(name, "")
        return ""

    # frames --------------------------------------------------------------------------------------
    def route_key(self, body: str) -> str:
        """The route a frame takes under the API's route selection expression, else ``$default``."""
        expression = self._api.route_selection_expression
        if expression.startswith(_BODY_PREFIX):
            try:
                value: Any = json.loads(body)
            except ValueError:
                value = None
            for part in expression[len(_BODY_PREFIX) :].split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str) and not value.startswith("$") and value in self._api.routes:
                return value
        return "$default"

    async def _message(self, request: web.Request, connection: LiveConnection, body: str, *, is_base64: bool) -> None:
        connection.last_active_at = _now_ms()
        route_key = "$default" if is_base64 else self.route_key(body)
        route = self._api.routes.get(route_key)
        request_id = str(uuid.uuid4())
        if route is None:
            await _reply(
                connection,
                json.dumps({"message": "Forbidden", "connectionId": connection.connection_id, "requestId": request_id}),
            )
            return
        event = self._event(
            request,
            route_key,
            "MESSAGE",
            connection.connection_id,
            connection.connected_at,
            connection.authorizer,
            request_id=request_id,
        )
        event["body"] = body
        event["isBase64Encoded"] = is_base64
        try:
            result = await self._invoke(route.function, event)
        except Exception:
            log.exception("%s integration failed", route_key)
            reply = {
                "message": "Internal server error",
                "connectionId": connection.connection_id,
                "requestId": request_id,
            }
            await _reply(connection, json.dumps(reply))
            return
        if route.two_way and isinstance(result, dict) and result.get("body") is not None:
            await _reply(connection, str(result["body"]))

    async def _disconnect(self, request: web.Request, connection: LiveConnection) -> None:
        route = self._api.routes.get("$disconnect")
        if route is None:
            return
        event = self._event(
            request,
            "$disconnect",
            "DISCONNECT",
            connection.connection_id,
            connection.connected_at,
            connection.authorizer,
        )
        event["requestContext"]["disconnectStatusCode"] = connection.socket.close_code or 1006
        event["requestContext"]["disconnectReason"] = ""
        try:
            await self._invoke(route.function, event)
        except Exception:
            log.exception("$disconnect integration failed")

    # management API ------------------------------------------------------------------------------
    async def manage(self, request: web.Request) -> web.StreamResponse:
        connection_id = request.match_info["connection_id"]
        connection = self._connections.get(connection_id)
        if connection is None or connection.socket.closed:
            return _error(410, "GoneException", None)
        if request.method == "POST":
            data = await request.read()
            if len(data) > MAX_POST_BYTES:
                return _error(413, "PayloadTooLargeException", "Message too long")
            try:
                await connection.send(data)
            except ConnectionError:
                return _error(410, "GoneException", None)
            return web.Response(status=200)
        if request.method == "GET":
            return web.json_response(
                {
                    "connectedAt": _iso(connection.connected_at),
                    "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                    "lastActiveAt": _iso(connection.last_active_at),
                }
            )
        if request.method == "DELETE":
            await connection.socket.close(code=1000, message=b"Connection deleted")
            return web.Response(status=204)
        return _error(405, "ForbiddenException", f"{request.method} is not supported on @connections")

    async def _close_all(self, _app: web.Application) -> None:
        for connection in list(self._connections.values()):
            await connection.socket.close(code=1001, message=b"Going away")

    # events --------------------------------------------------------------------------------------
    def _event(
        self,
        request: web.Request,
        route_key: str,
        event_type: str,
        connection_id: str,
        connected_at: int,
        authorizer: dict[str, Any],
        *,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        now = _now_ms()
        request_id = request_id or str(uuid.uuid4())
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            headers[key] = f"{headers[key]},{value}" if key in headers else value
            multi_headers.setdefault(key, []).append(value)
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for key, value in parse_qsl(request.query_string, keep_blank_values=True):
            query[key] = value
            multi_query.setdefault(key, []).append(value)
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now / 1000)),
            "messageDirection": "IN",
            "stage": self._stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": request.remote or "127.0.0.1", "userAgent": request.headers.get("User-Agent")},
            "requestId": request_id,
            "domainName": request.host,
            "connectionId": connection_id,
            "apiId": self._api_id,
        }
        if event_type == "MESSAGE":
            context["messageId"] = request_id
        if authorizer:
            context["authorizer"] = dict(authorizer)
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
        if event_type == "CONNECT":
            event.update(
                {
                    "headers": headers,
                    "multiValueHeaders": multi_headers,
                    "queryStringParameters": query or None,
                    "multiValueQueryStringParameters": multi_query or None,
                }
            )
        return event

    async def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._registry.get(function).invoke, event)


async def _reply(connection: LiveConnection, text: str) -> None:
    """Answer a frame; a client that left meanwhile simply misses the answer, as with API Gateway."""
    try:
        await connection.send(text)
    except ConnectionError:
        log.info("%s left before its answer was sent", connection.connection_id)


def _allows(decision: Any) -> bool:
    """An IAM policy that allows execute-api:Invoke and denies nothing (API Gateway's reading of it)."""
    if not isinstance(decision, dict):
        return False
    statements = (decision.get("policyDocument") or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    effects = {str(statement.get("Effect", "")).lower() for statement in statements if isinstance(statement, dict)}
    return "allow" in effects and "deny" not in effects


def _error(status: int, error_type: str, message: str | None) -> web.Response:
    """An error in the Management API's shape: botocore reads the code from ``x-amzn-ErrorType``."""
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})
