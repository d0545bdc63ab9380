"""Ends a task FAILED with the error its execution met. Two callers:

- the state machine's Catch (``{"videoId", "error": {"Error", "Cause"}}``), for errors a step did not handle;
- an EventBridge rule on executions that ended TIMED_OUT, ABORTED or FAILED outside our control (stopped
  by hand, say), so that even then no task is left QUEUED or PROCESSING. A task already finished (a
  user's cancel aborts its execution too) is left as it is.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.edge.steps import state_handler

if TYPE_CHECKING:
    from videotasks.services.workflow import StepResult

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
_ERROR_OF_STATUS = {"TIMED_OUT": "States.Timeout", "ABORTED": "States.Aborted", "FAILED": "States.Failed"}


def _failure(event: dict[str, Any]) -> tuple[str, str | None, str | None]:
    if event.get("detail-type") == EXECUTION_STATUS_CHANGE:
        detail = event["detail"]
        video_id = json.loads(detail.get("input") or "{}")["videoId"]
        return video_id, detail.get("error") or _ERROR_OF_STATUS.get(detail.get("status", "")), detail.get("cause")
    error = event.get("error") or {}
    return event["videoId"], error.get("Error"), error.get("Cause")


def _fail(event: dict[str, Any], context: LambdaContext) -> StepResult:
    video_id, error_type, cause = _failure(event)
    return wiring.workflow().fail(video_id, error_type, cause)


lambda_handler = state_handler(_fail, log_event=False)
