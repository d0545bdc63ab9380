"""The tasks table's stream → outbound webhook events (docs/WEBHOOKS.md).

The event source mapping hands over only changes of tasks that have a callbackUrl; each change that ends a
task (or moves its progress, when it asked for that) starts one delivery execution, named after the
event's webhook id, so a record handed over twice starts it once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.adapters.powertools_internals import OrderedStreamProcessor
from videotasks.adapters.tracing import tracer

logger = Logger()
processor = OrderedStreamProcessor()


def record_handler(record: DynamoDBRecord) -> None:  # Powertools passes it by this name
    change = record.dynamodb
    if change is None:
        return
    wiring.callback_events().publish(change.old_image or None, change.new_image or None)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
