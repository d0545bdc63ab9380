"""Step Functions callback task: parks the execution's token for the provider's webhook
(see videotasks.services.waits). The token is a credential to end the wait: it is never logged."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.adapters.tracing import tracer

logger = Logger()


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(videoId=event["videoId"])
    wiring.wait_service().park(event["videoId"], event["taskToken"])
    return {"videoId": event["videoId"]}
