"""What the OpenAPI document says about the API as a whole, the Swagger UI page, and the route table for
404 vs 405.

Powertools' OpenAPI models cost the API function more at cold start than all its routes together, and only
``/openapi.json`` and ``/docs`` need them: they are imported when one of those is asked for.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

BASE_PATH = "/api/video"
# The route keys anyone may call; every other one, the catch-all's included, needs a valid token.
PUBLIC_ROUTES = frozenset(f"GET {BASE_PATH}/{name}" for name in ("health", "openapi.json", "docs"))


@functools.cache
def document() -> dict[str, Any]:
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


# Error replies as documented on every route (the envelope is the same for all of them).
ERROR_ENVELOPE = {
    "type": "object",
    "required": ["success", "message", "error"],
    "properties": {
        "success": {"type": "boolean", "const": False},
        "message": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "VALIDATION_ERROR",
                        "UNAUTHORIZED",
                        "NOT_FOUND",
                        "METHOD_NOT_ALLOWED",
                        "CONFLICT",
                        "RATE_LIMITED",
                        "INTERNAL",
                    ],
                },
                "message": {"type": "string"},
                "details": {},
            },
        },
    },
}


def errors(*codes: int) -> dict[int, Any]:
    """OpenAPI ``responses`` for the given error statuses, all in the envelope."""
    descriptions = {
        400: "Invalid request (names the field)",
        401: "Missing or invalid token",
        404: "Not found",
        409: "Conflict with the task's state",
        429: "Too many changes to the caller's tasks at once; retry after the Retry-After header's seconds",
        500: "Internal error (details are in the logs)",
    }
    content = {"application/json": {"schema": ERROR_ENVELOPE}}
    return {code: {"description": descriptions[code], "content": content} for code in codes}


# Paths the API serves and their methods: a known path with another method is a 405; a known path and
# method that no route matched has a malformed path parameter (outside the URI-safe characters the
# router matches), which is a 400 naming it.
_ROUTES: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(rf"^{BASE_PATH}/(health|openapi\.json|docs|stats|models)/?$"), frozenset({"GET"})),
    (re.compile(rf"^{BASE_PATH}/tasks/?$"), frozenset({"GET", "POST"})),
    (re.compile(rf"^{BASE_PATH}/tasks/[^/]+/?$"), frozenset({"GET"})),
    (re.compile(rf"^{BASE_PATH}/tasks/[^/]+/content/?$"), frozenset({"GET"})),
    (re.compile(rf"^{BASE_PATH}/tasks/[^/]+/cancel/?$"), frozenset({"POST"})),
]


def allowed_methods(path: str) -> frozenset[str] | None:
    """The methods served on ``path``, or None when no route has that shape."""
    for pattern, methods in _ROUTES:
        if pattern.match(path):
            return methods
    return None
