"""``POST /api/video/webhooks/{provider}``: a provider says a job moved on (see videotasks.services.webhooks).

Public (providers carry no user token): the provider's signature is the authentication. The body is read
as the exact bytes received, since the signature covers them; nothing of it is logged.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.adapters.tracing import tracer
from videotasks.domain.errors import VideoTasksError
from videotasks.edge import envelope

logger = Logger()


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    provider = (event.get("pathParameters") or {}).get("provider", "")
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    try:
        wiring.webhook_service().receive(provider, headers, _raw_body(event), event.get("queryStringParameters") or {})
    except VideoTasksError as exc:
        return envelope.proxy_error(exc)
    return envelope.proxy_success({"received": True})
