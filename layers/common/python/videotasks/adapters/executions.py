"""Starting and stopping a task's Step Functions execution."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from videotasks.adapters import aws


class Executions:
    def __init__(self, state_machine_arn: str, *, sfn: Any | None = None) -> None:
        self._arn = state_machine_arn
        self._sfn = sfn or aws.client("stepfunctions")

    def start(self, video_id: str) -> str:
        # The execution is named after the task, so a repeated start can never run a task twice.
        reply = self._sfn.start_execution(
            stateMachineArn=self._arn, name=video_id, input=json.dumps({"videoId": video_id})
        )
        return str(reply["executionArn"])

    def stop(self, execution_arn: str, reason: str) -> None:
        try:
            self._sfn.stop_execution(executionArn=execution_arn, cause=reason[:256])
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"ExecutionDoesNotExist", "ExecutionNotRunning"}:
                raise
