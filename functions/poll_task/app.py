"""Step Functions task: the poll step of a video task (see videotasks.services.workflow)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.adapters.metrics import metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(log_event=True, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return wiring.workflow().poll(event["videoId"], wiring.step_deadline(context)).as_dict()
