"""The reader's language from a request event (the rules are ``videotasks.domain.messages.negotiate``)."""

from __future__ import annotations

from typing import Any

from videotasks.domain import messages


def header(event: dict[str, Any], name: str) -> str | None:
    """A request header, whatever its case (HTTP APIs lowercase them; the WebSocket handshake keeps the
    client's case)."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def of_request(event: dict[str, Any], *, query: bool) -> messages.Lang:
    """``Accept-Language``, overridden by ``?lang=`` when ``query`` (the WebSocket handshake, where a
    browser cannot set headers)."""
    override = (event.get("queryStringParameters") or {}).get("lang") if query else None
    return messages.negotiate(header(event, "accept-language"), override)
