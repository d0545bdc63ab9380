"""The OpenAPI document (its top level, each operation's responses, the rendering), the Swagger UI page,
and the route table read from the resolver's own routes (public routes, 404 vs 405).

Powertools' OpenAPI models cost the API function more at cold start than all its routes together, and only
``/openapi.json`` and ``/docs`` need them: they are imported when one of those is asked for.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_PATH = "/api/video"


@functools.cache
def document_fields() -> dict[str, Any]:
    """The document's top level, as keyword arguments of Powertools' ``get_openapi_json_schema``."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    return {
        "title": "videotasks API",
        "version": "1.0.0",
        "summary": "Asynchronous AI video and image generation tasks",
        "description": (
            "Create a task, get its videoId at once, follow it over the WebSocket API or by polling, and play "
            "the finished media from a presigned URL. Every route except health, openapi.json and docs needs "
            "`Authorization: Bearer <JWT>`. Errors share one envelope: "
            "`{success: false, message, error: {code, message, details?}}`."
        ),
        "servers": [Server(url="/")],
        "security_schemes": {
            "bearerAuth": HTTPBearer(bearerFormat="JWT", description="HS256 user token; `Bearer ` optional")
        },
        "security": [{"bearerAuth": []}],
    }


def swagger_page(document_json: str) -> str:
    """Swagger UI showing ``document_json``, with the script and styles Powertools bundles (no CDN)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    folder = Path(swagger_ui.__file__).parent
    script = (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    styles = (folder / "swagger-ui.min.css").read_text(encoding="utf-8")
    # Inside a <script> element, "</" in the document would end the element early.
    return swagger_ui.generate_swagger_html(document_json.replace("</", "<\\/"), script, styles, "", None)


_ERROR_DESCRIPTIONS = {
    400: "Invalid request (names the field)",
    401: "Missing or invalid token",
    404: "Not found",
    405: "The path exists but not with this method",
    409: "Conflict with the task's state",
    429: "RATE_LIMITED: the plan's creates per minute are used up, or too many changes to the caller's tasks at "
    "once; QUOTA_EXCEEDED: the plan's video seconds for today are used up (details[0].resetsAt). Retry after the "
    "Retry-After header's seconds",
    500: "Internal error (details are in the logs)",
}
# Every operation can answer these: another method on its path, and an error of ours.
_ALWAYS = (405, 500)


def responses(success: Any, *errors: int, created: bool = False) -> dict[int, Any]:
    """An operation's OpenAPI ``responses``: its success reply (``success``, a reply model of
    ``domain/replies``) and exactly the error statuses it can send, all in the error envelope. ``created``:
    a 201 for a new resource and a 200 for an idempotent replay of the same request."""
    from videotasks.domain.replies import ErrorEnvelope

    successes = ((201, "Created"), (200, "Replayed: the task made earlier for this key")) if created else ((200, "OK"),)
    documented: dict[int, Any] = {}
    for status, description in successes:
        documented[status] = {"description": description, "content": {"application/json": {"model": success}}}
    for status in sorted({*errors, *_ALWAYS}):
        documented[status] = {
            "description": _ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"model": ErrorEnvelope}},
        }
    return documented


# A route anyone may call is declared with ``security=PUBLIC``; every other one, the catch-all's
# included, needs a valid token.
PUBLIC: list[dict[str, list[str]]] = []


@dataclass(frozen=True)
class RouteTable:
    """The resolver's routes, as the checks before and after routing need them: which route keys are
    public, and for 404 vs 405 which methods a path serves."""

    public: frozenset[str]  # route keys as API Gateway sends them: "GET /api/video/health"
    methods: tuple[tuple[re.Pattern[str], str, frozenset[str]], ...]  # (path pattern, path, methods)

    @classmethod
    def of(cls, resolver: Any) -> RouteTable:
        by_path: dict[str, set[str]] = {}
        public: set[str] = set()
        for route in _registered_routes(resolver):
            by_path.setdefault(route.openapi_path, set()).add(route.method)
            if route.security == PUBLIC:
                public.add(f"{route.method} {route.openapi_path}")
        return cls(
            frozenset(public),
            tuple((_path_pattern(path), path, frozenset(methods)) for path, methods in sorted(by_path.items())),
        )

    def route_keys(self) -> frozenset[str]:
        return frozenset(f"{method} {path}" for _, path, methods in self.methods for method in methods)

    def allowed_methods(self, path: str) -> frozenset[str] | None:
        """The methods served on ``path``, or None when no route has that shape. A known path and method
        that no route matched has a malformed path parameter (outside the URI-safe characters the router
        matches), which is a 400 naming it."""
        for pattern, _, methods in self.methods:
            if pattern.match(path):
                return methods
        return None


# Powertools lists a resolver's routes only in private attributes: read here and nowhere else, pinned like
# adapters/powertools_internals (which the API function cannot import at start: it loads the batch utility).
PIN = ("layers/common/requirements.txt", "aws-lambda-powertools")  # (requirements file, distribution)


def _registered_routes(resolver: Any) -> list[Any]:
    return [*resolver._static_routes, *resolver._dynamic_routes]


def relied_on() -> list[tuple[object, str, tuple[str, ...] | None]]:
    """Each (owner, attribute, leading parameter names or None) this module uses, for the pin's test."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    resolver = APIGatewayHttpResolver()
    resolver.get("/things/<thing>")(lambda thing: thing)
    (route,) = _registered_routes(resolver)
    return [
        (resolver, "_static_routes", None),
        (resolver, "_dynamic_routes", None),
        (route, "method", None),
        (route, "openapi_path", None),
        (route, "security", None),
    ]


def _path_pattern(path: str) -> re.Pattern[str]:
    parts = [r"[^/]+" if part.startswith("{") else re.escape(part) for part in path.strip("/").split("/")]
    return re.compile("^/" + "/".join(parts) + "/?$")


# Every reply's texts for people (``message``, ``error.message``, a failed task's ``error.message``) follow it.
ACCEPT_LANGUAGE = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": "The language of the reply's texts for people: `zh`, `zh-CN`, `zh-Hans` read Simplified "
    "Chinese (zh-CN); anything else, or none, English. `error.code` and field names never change with it.",
    "schema": {"type": "string", "examples": ["zh-CN,zh;q=0.9,en;q=0.8"]},
}


def render(resolver: Any) -> str:
    """The OpenAPI document of ``resolver``'s routes, as served and exported. Powertools documents a 422
    on every operation when validation is on; this API answers invalid requests with a 400 in the error
    envelope and never sends a 422, so those go. Public operations say they need no token."""
    document = json.loads(resolver.get_openapi_json_schema(**document_fields()))
    table = RouteTable.of(resolver)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            operation.get("responses", {}).pop("422", None)
            operation.setdefault("parameters", []).append({"$ref": "#/components/parameters/AcceptLanguage"})
            if f"{method.upper()} {path}" in table.public:
                operation["security"] = []
    document.setdefault("components", {}).setdefault("parameters", {})["AcceptLanguage"] = ACCEPT_LANGUAGE
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def without_trailing_slash(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with its path's trailing ``/`` dropped. API Gateway routes ``/tasks/`` to ``GET /tasks``,
    while the resolver matches paths exactly: without this, the route a client reached would answer 404."""
    path = str(event.get("rawPath") or "")
    if len(path) <= 1 or not path.endswith("/"):
        return event
    http = {**(event.get("requestContext") or {}).get("http", {}), "path": path.rstrip("/") or "/"}
    return {**event, "rawPath": path.rstrip("/") or "/", "requestContext": {**event["requestContext"], "http": http}}
