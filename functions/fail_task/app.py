"""Step Functions Catch target: ends a task FAILED with the error the execution caught."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring

logger = Logger()


@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    error = event.get("error") or {}
    return wiring.workflow().fail(event["videoId"], error.get("Error"), error.get("Cause")).as_dict()
