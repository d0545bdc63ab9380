"""The Lambda side of the state machine's task states: each runs one workflow operation on the event and
answers the state machine with the operation's ``StepResult``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks.adapters.metrics import metrics
from videotasks.adapters.tracing import tracer

StateEvent = dict[str, Any]
StateHandler = Callable[[StateEvent, LambdaContext], dict[str, Any]]

logger = Logger()


class _StateResult(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def state_handler(run: Callable[[StateEvent, LambdaContext], _StateResult], *, log_event: bool) -> StateHandler:
    """The handler of a task state that runs ``run``: its metrics flushed, its invocation in every log line
    and traced."""

    @metrics.log_metrics
    @logger.inject_lambda_context(log_event=log_event, clear_state=True)
    @tracer.capture_lambda_handler
    def lambda_handler(event: StateEvent, context: LambdaContext) -> dict[str, Any]:
        return run(event, context).as_dict()

    return lambda_handler
