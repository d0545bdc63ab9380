"""Where this deployment is reached from outside, for addresses we hand to others (provider webhooks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from videotasks.edge.openapi import BASE_PATH

WEBHOOKS_PATH = f"{BASE_PATH}/webhooks"
# Public like the docs, but not anyone's: the provider's signature authenticates it (functions/provider_webhook).
WEBHOOK_ROUTE = f"POST {WEBHOOKS_PATH}/{{provider}}"


def webhook_base(event: Mapping[str, Any], public_api_url: str = "") -> str | None:
    """``…/api/video/webhooks`` on the address the request came in on (API Gateway's own domain or a custom
    one: API Gateway sets ``domainName``, the client cannot), unless ``PUBLIC_API_URL`` names another."""
    if public_api_url:
        return public_api_url.rstrip("/") + "/webhooks"
    context = event.get("requestContext") or {}
    domain = context.get("domainName")
    if not domain:
        return None
    stage = context.get("stage")
    prefix = "" if stage in (None, "", "$default") else f"/{stage}"
    return f"https://{domain}{prefix}{WEBHOOKS_PATH}"
