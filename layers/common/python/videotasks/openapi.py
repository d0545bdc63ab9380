"""What the OpenAPI document says about the API as a whole, and the route table for 404 vs 405."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import Server

BASE_PATH = "/api/video"

DOCUMENT: dict[str, Any] = {
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
}

# Paths the API serves (any method); a known path with the wrong method is a 405, not a 404.
_PATHS = [
    re.compile(rf"^{BASE_PATH}/(health|openapi\.json|docs|tasks|stats)/?$"),
    re.compile(rf"^{BASE_PATH}/tasks/[^/]+(/content|/cancel)?/?$"),
]


def path_exists(path: str) -> bool:
    return any(pattern.match(path) for pattern in _PATHS)
