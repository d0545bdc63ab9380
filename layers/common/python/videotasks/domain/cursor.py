"""Opaque, signed paging cursors.

A cursor carries DynamoDB's position, the owner and the filter it was made for, under an HMAC.
A cursor that was edited, belongs to another user or to another filter is refused with a 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from videotasks.domain.errors import ValidationError

_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, body: bytes) -> str:
    return _b64(hmac.new(secret.encode(), body, hashlib.sha256).digest()[:16])


def encode(position: dict[str, Any], *, user_id: str, scope: str, secret: str) -> str:
    body = json.dumps({"v": _VERSION, "p": position, "u": user_id, "s": scope}, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_signature(secret, body)}"


def decode(cursor: str, *, user_id: str, scope: str, secret: str, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The position ``cursor`` carries, which holds a string under each of ``keys``; a 400 naming ``cursor``
    for anything else."""
    invalid = ValidationError(
        "cursor is not valid for this listing; start again without it",
        details=[{"field": "cursor", "message": "invalid cursor"}],
    )
    try:
        encoded, signature = cursor.split(".", 1)
        body = _unb64(encoded)
    except ValueError as exc:
        raise invalid from exc
    if not hmac.compare_digest(signature, _signature(secret, body)):
        raise invalid
    data = json.loads(body)
    if data.get("v") != _VERSION or data.get("u") != user_id or data.get("s") != scope:
        raise invalid
    position = data.get("p")
    if not isinstance(position, dict) or not all(isinstance(position.get(key), str) for key in keys):
        raise invalid
    return position
