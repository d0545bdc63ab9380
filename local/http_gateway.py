"""An HTTP API Gateway built from the template's HttpApi events.

For each request: CORS as configured, route matching as API Gateway does it (literal routes before
parameterised ones, ``{proxy+}`` last), the Lambda authorizer first on authorised routes, then the
function with a payload format 2.0 event carrying path parameters and the authorizer's context.
The console is served at ``/``.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from local.lambdas import FunctionRegistry, FunctionTimeoutError
from local.template import ACCOUNT, REGION, HttpRoute

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # an HTTP API's request payload quota
_TEXT_TYPES = ("application/json", "text/", "application/javascript", "application/xml")


@dataclass(frozen=True)
class CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, int, int]

    @classmethod
    def compile(cls, route: HttpRoute) -> CompiledRoute:
        names: list[str] = []
        parts: list[str] = []
        literal_segments = 0
        greedy = 0
        for segment in route.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                names.append(segment[1:-2])
                parts.append(f"(?P<{segment[1:-2]}>.+)")
                greedy = 1
            elif segment.startswith("{"):
                names.append(segment[1:-1])
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            else:
                literal_segments += 1
                parts.append(re.escape(segment))
        # DOTALL: API Gateway matches a decoded newline inside a path parameter like any other character.
        pattern = re.compile("^/" + "/".join(parts) + "/?$", re.DOTALL)
        # Lower sorts first: no greedy, then more literal segments, then a concrete method over ANY.
        rank = (greedy, -literal_segments, 1 if route.method == "ANY" else 0)
        return cls(route, pattern, tuple(names), rank)


class HttpGateway:
    def __init__(
        self,
        registry: FunctionRegistry,
        routes: list[HttpRoute],
        authorizer: str | None,
        cors_origins: list[str],
        console_config: dict[str, Any] | None = None,
    ) -> None:
        self._registry = registry
        self._routes = sorted((CompiledRoute.compile(route) for route in routes), key=lambda item: item.rank)
        self._authorizer = authorizer
        self._cors_origins = cors_origins
        self._console_config = console_config or {}

    def app(self) -> web.Application:
        application = web.Application(client_max_size=MAX_PAYLOAD_BYTES)
        application.router.add_route("*", r"/{tail:[\s\S]*}", self.handle)  # every path, newlines included
        return application

    def match(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        for compiled in self._routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.match(path)
            if found:
                return compiled, {name: found.group(name) for name in compiled.names}
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin and request.headers.get("Access-Control-Request-Method"):
            return self._preflight(origin)
        if request.method in ("GET", "HEAD") and not request.path.startswith("/api/"):
            return self._with_cors(await self._console(request), origin)
        matched = self.match(request.method, request.path)
        if matched is None:
            return self._with_cors(web.json_response({"message": "Not Found"}, status=404), origin)
        compiled, path_parameters = matched
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            # API Gateway's own refusal of a body over its payload quota, in its JSON shape: the function
            # never sees the request, so its envelope cannot answer.
            return self._with_cors(web.json_response({"message": "Request Entity Too Large"}, status=413), origin)
        event = self._event(request, compiled.route, path_parameters, body)
        loop = asyncio.get_running_loop()
        if compiled.route.authorized and self._authorizer:
            decision = await loop.run_in_executor(
                None, self._registry.get(self._authorizer).invoke, self._authorizer_event(event)
            )
            if not decision.get("isAuthorized"):
                return self._with_cors(web.json_response({"message": "Forbidden"}, status=403), origin)
            event["requestContext"]["authorizer"] = {"lambda": decision.get("context") or {}}
        try:
            result = await loop.run_in_executor(None, self._registry.get(compiled.route.function).invoke, event)
        except FunctionTimeoutError:
            # What an HTTP API answers when its Lambda integration runs past the function's timeout.
            return self._with_cors(web.json_response({"message": "Service Unavailable"}, status=503), origin)
        return self._with_cors(self._response(result), origin)

    # events ------------------------------------------------------------------------------------
    def _event(
        self, request: web.Request, route: HttpRoute, path_parameters: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            lower = key.lower()
            headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
        query: dict[str, str] = {}
        for key, value in parse_qsl(request.query_string, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        is_text = not body or any(t in headers.get("content-type", "application/json") for t in _TEXT_TYPES)
        route_key = f"{route.method} {route.path}"
        now = time.time()
        return {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": request.path,
            "rawQueryString": request.query_string,
            "cookies": [part.strip() for part in headers.get("cookie", "").split(";") if part.strip()] or None,
            "headers": headers,
            "queryStringParameters": query or None,
            "pathParameters": path_parameters or None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "local",
                "domainName": request.host,
                "domainPrefix": request.host.split(".")[0],
                "http": {
                    "method": request.method,
                    "path": request.path,
                    "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                    "sourceIp": request.remote or "127.0.0.1",
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route_key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": (body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode())
            if body
            else None,
            "isBase64Encoded": bool(body) and not is_text,
        }

    @staticmethod
    def _authorizer_event(event: dict[str, Any]) -> dict[str, Any]:
        context = event["requestContext"]
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": (
                f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/$default/"
                f"{context['http']['method']}{context['http']['path']}"
            ),
            "identitySource": [event["headers"]["authorization"]] if "authorization" in event["headers"] else [],
            "routeKey": event["routeKey"],
            "rawPath": event["rawPath"],
            "rawQueryString": event["rawQueryString"],
            "headers": event["headers"],
            "queryStringParameters": event["queryStringParameters"],
            "pathParameters": event["pathParameters"],
            "requestContext": context,
        }

    @staticmethod
    def _response(result: Any) -> web.Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            # Payload 2.0 lets a function return a bare value: API Gateway sends it as JSON with 200.
            import json

            return web.Response(status=200, text=json.dumps(result), content_type="application/json")
        headers = dict(result.get("headers") or {})
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ",".join(values)
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        response = web.Response(status=int(result["statusCode"]), body=data, headers=headers)
        for cookie in result.get("cookies") or []:
            response.headers.add("Set-Cookie", cookie)
        return response

    # CORS and console ----------------------------------------------------------------------------
    def _allowed(self, origin: str | None) -> bool:
        return bool(origin) and (origin in self._cors_origins or "*" in self._cors_origins)

    def _preflight(self, origin: str) -> web.Response:
        if not self._allowed(origin):
            return web.Response(status=204)
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
                "Access-Control-Allow-Headers": "authorization,content-type,idempotency-key",
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )

    def _with_cors(self, response: web.StreamResponse, origin: str | None) -> web.StreamResponse:
        if self._allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Vary"] = "Origin"
        return response

    async def _console(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/console-config.json":
            return web.json_response(self._console_config)
        relative = request.path.lstrip("/") or "index.html"
        target = (CONSOLE_DIR / relative).resolve()
        if not target.is_relative_to(CONSOLE_DIR.resolve()) or not target.is_file():
            return web.json_response({"message": "Not Found"}, status=404)
        return web.FileResponse(target)
