"""The tasks table's stream → the per-user queue: frees the slot of every task that ended, wakes the
waiting executions whose turn may have come, and keeps queuePosition current (videotasks.services.queue).

Every step is idempotent, so a failed batch is simply retried whole (halved on error by the mapping).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.adapters.store.items import task_from_item
from videotasks.adapters.tracing import tracer

logger = Logger()


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    changes = []
    for record in DynamoDBStreamEvent(event).records:
        change = record.dynamodb
        if change is None:
            continue
        old, new = change.old_image, change.new_image
        changes.append((task_from_item(old) if old else None, task_from_item(new) if new else None))
    wiring.queue_service().on_changes(changes)
