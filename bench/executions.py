"""The execution histories of tasks on a local stack, for the benches that count state transitions."""

from __future__ import annotations

import time
from typing import Any

from local.launcher import RunningStack


def finished_histories(stack: RunningStack, video_ids: list[str]) -> list[list[dict[str, Any]]]:
    """Each task's execution history, once the execution has ended (just after the task's last write)."""
    sfn = stack.boto3_client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    histories = []
    for video_id in video_ids:
        arn = machine.replace(":stateMachine:", ":execution:") + f":{video_id}"
        for _ in range(30):
            if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                break
            time.sleep(0.5)
        histories.append(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])
    return histories


def transitions(history: list[dict[str, Any]]) -> int:
    """State transitions as Step Functions bills them: every state entered."""
    return sum(1 for event in history if event["type"].endswith("StateEntered"))
