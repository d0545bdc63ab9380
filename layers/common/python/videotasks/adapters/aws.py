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
# Without a signature version botocore presigns S3 URLs with SigV2 in the regions that still take it:
# buckets created since mid-2020 refuse SigV2, and its signature leaves query parameters added later
# unsigned. SigV4 binds a media URL to its bucket, key, method, region and expiry.
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4"))}


@functools.cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    session: Any = boto3.session.Session()
    return session.client(service, endpoint_url=endpoint_url, config=_SERVICE_CONFIG.get(service, _CONFIG))


@functools.cache
def resource(service: str) -> Any:
    session: Any = boto3.session.Session()
    return session.resource(service, config=_CONFIG)


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
    resource.cache_clear()
