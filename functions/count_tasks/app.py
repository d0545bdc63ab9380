"""The tasks table's stream → the owners' counters behind /stats, the lists' totals and /usage
(videotasks.services.counting). Partial batch failures: the first record that could not be counted and every
later one are reported, so Lambda resumes exactly there and the records stay in order.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.adapters.store.items import task_from_item
from videotasks.adapters.tracing import tracer
from videotasks.services.counting import TaskChange

logger = Logger()


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    changes: list[TaskChange] = []
    unread: list[str] = []  # a record that is not a task, and every later one: counted only after it
    for record in DynamoDBStreamEvent(event).records:
        change = record.dynamodb
        if change is None or change.sequence_number is None:
            continue
        if not unread:
            try:
                old, new = change.old_image, change.new_image
                changes.append(
                    TaskChange(
                        event_id=record.event_id or change.sequence_number,
                        sequence_number=change.sequence_number,
                        old=task_from_item(old) if old else None,
                        new=task_from_item(new) if new else None,
                    )
                )
                continue
            except Exception:
                logger.exception("a stream record is not a task", extra={"sequenceNumber": change.sequence_number})
        unread.append(change.sequence_number)
    failed = wiring.task_counting().on_changes(changes)
    return {"batchItemFailures": [{"itemIdentifier": number} for number in [*failed, *unread]]}
