"""Lazily created, cached boto3 clients.

Endpoints come from the standard ``AWS_ENDPOINT_URL`` variables, which is how the local stack points
the very same code at moto; nothing here knows whether it runs in the cloud.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=20)


@functools.cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    session: Any = boto3.session.Session()
    return session.client(service, endpoint_url=endpoint_url, config=_CONFIG)


@functools.cache
def resource(service: str) -> Any:
    session: Any = boto3.session.Session()
    return session.resource(service, config=_CONFIG)


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
    resource.cache_clear()
