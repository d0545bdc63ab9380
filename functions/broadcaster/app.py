"""The tasks table's stream → live messages to the owner's subscribed WebSocket connections.

Which failures count and why the batch stays in order is explained in ``videotasks.services.broadcasting``;
the batch handling is ``videotasks.edge.streams``'.
"""

from __future__ import annotations

from videotasks.edge.streams import Publisher, stream_handler


def _publisher() -> Publisher:
    # Imported on first use: Powertools' batch processing (imported above) loads its pydantic parser at
    # import when pydantic is already loaded, and the wiring loads pydantic.
    from videotasks import wiring

    return wiring.broadcaster()


lambda_handler = stream_handler(_publisher)
