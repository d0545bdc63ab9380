"""The tasks table's stream → outbound webhook events (docs/WEBHOOKS.md).

The event source mapping hands over only changes of tasks that have a callbackUrl; each change that ends a
task (or moves its progress, when it asked for that) starts one delivery execution, named after the
event's webhook id, so a record handed over twice starts it once. The batch handling is
``videotasks.edge.streams``'.
"""

from __future__ import annotations

from videotasks.edge.streams import Publisher, stream_handler


def _publisher() -> Publisher:
    # Imported on first use: Powertools' batch processing (imported above) loads its pydantic parser at
    # import when pydantic is already loaded, and the wiring loads pydantic.
    from videotasks import wiring

    return wiring.callback_events()


lambda_handler = stream_handler(_publisher)
