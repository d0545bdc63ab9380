"""Where an outbound webhook's delivery runs and where it ends when it cannot be delivered.

Each event is one execution of the delivery state machine (statemachine/callback_delivery.asl.json), named
after the event's webhook id: a stream record the event source mapping hands over twice starts it once
(StartExecution refuses a second execution of that name, which is the deduplication we want).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from videotasks.adapters import aws


class DeliveryRuns:
    def __init__(self, state_machine_arn: str, *, sfn: Any | None = None) -> None:
        self._arn = state_machine_arn
        self._sfn = sfn or aws.client("stepfunctions")

    def start(self, webhook_id: str, payload: dict[str, Any]) -> bool:
        """Start the delivery of one event; False when it had been started already."""
        try:
            self._sfn.start_execution(stateMachineArn=self._arn, name=webhook_id, input=json.dumps(payload))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise
        return True


class DeadLetters:
    """The SQS queue of events whose every attempt failed (an alarm watches its depth)."""

    def __init__(self, queue_url: str, *, sqs: Any | None = None) -> None:
        self._url = queue_url
        self._sqs = sqs or aws.client("sqs")

    def send(self, message: dict[str, Any]) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps(message, separators=(",", ":")))
