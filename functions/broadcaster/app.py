"""The tasks table's stream → live messages to the owner's subscribed WebSocket connections.

Powertools batch processing with partial batch failure reporting (``ReportBatchItemFailures`` on the event
source mapping); which failures count and why the batch stays in order is explained in
``videotasks.services.broadcasting``.
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
    wiring.broadcaster().publish(change.old_image or None, change.new_image or None)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
