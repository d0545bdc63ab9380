"""Starting, stopping and waking a task's Step Functions execution."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from videotasks.adapters import aws


class Executions:
    def __init__(self, state_machine_arn: str, *, sfn: Any | None = None) -> None:
        self._arn = state_machine_arn
        self._sfn = sfn or aws.client("stepfunctions")

    def start(self, video_id: str, *, webhook_base: str | None = None) -> str:
        """Start the task's execution. ``webhook_base`` is where providers that call back reach this
        deployment (``…/api/video/webhooks``); the Submit step hands it to the provider."""
        payload: dict[str, str] = {"videoId": video_id}
        if webhook_base:
            payload["webhookBase"] = webhook_base
        # The execution is named after the task, so a repeated start can never run a task twice.
        reply = self._sfn.start_execution(stateMachineArn=self._arn, name=video_id, input=json.dumps(payload))
        return str(reply["executionArn"])

    def stop(self, execution_arn: str, reason: str) -> None:
        try:
            self._sfn.stop_execution(executionArn=execution_arn, cause=reason[:256])
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"ExecutionDoesNotExist", "ExecutionNotRunning"}:
                raise


class Waker:
    """Ends an execution's callback wait (``.waitForTaskToken``) early, so its next state runs now."""

    # The wait is over already: it timed out (and the execution polled), or the execution ended.
    _GONE = {"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"}

    def __init__(self, *, sfn: Any | None = None) -> None:
        self._sfn = sfn or aws.client("stepfunctions")

    def wake(self, task_token: str) -> bool:
        """True when the wait was still there and is now over; False when it had ended by itself."""
        try:
            self._sfn.send_task_success(taskToken=task_token, output="{}")
        except ClientError as exc:
            if exc.response["Error"]["Code"] in self._GONE:
                return False
            raise
        return True
