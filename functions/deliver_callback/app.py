"""The delivery state machine's Attempt step: one signed POST of an outbound webhook event, then what next."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.adapters.tracing import tracer

logger = Logger()


@logger.inject_lambda_context(log_event=False, clear_state=True)  # the event carries the body: never logged
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return wiring.callback_delivery().attempt(event)
