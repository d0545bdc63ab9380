"""The state machine's queue states (videotasks.services.queue), one function for both:

- ``PlanAdmission`` (``{"videoId"}``): how long the next wait for a slot may last, ``{"waitSeconds"}``; fails
  with ``TaskNotQueuedError`` (the execution ends) or ``QueueTimeoutError`` (MarkFailed);
- ``Admit`` (``lambda:invoke.waitForTaskToken``, ``{"videoId", "taskToken"}``): parks the token and takes a
  slot when the task's turn has come, ending its own wait with ``SlotGrantedError``; otherwise returns and
  the execution waits for the queue keeper's wake-up or the timeout. The token is never logged.
"""

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
    video_id = event["videoId"]
    logger.append_keys(videoId=video_id)
    queue = wiring.queue_service()
    if "taskToken" in event:
        queue.admit(video_id, event["taskToken"])
        return {"videoId": video_id}
    return {"videoId": video_id, "waitSeconds": queue.plan(video_id)}
