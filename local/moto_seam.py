"""The one place that leans on moto internals (pinned in requirements-dev.txt).

moto without Docker has a "simple" Lambda backend that echoes instead of running code. Its Step
Functions engine calls that backend's ``invoke``; we replace it so the engine runs our handlers
in this process, with Lambda's error contract (``X-Amz-Function-Error`` + errorType/errorMessage),
which is what the ASL's Retry and Catch match on. ``tests/integration/test_moto_seam.py`` fails
loudly if a moto upgrade moves this seam.

moto's DynamoDB is not safe under concurrent requests, which the local stack makes all the time (the API,
the workflow steps and the stream pump run on threads of one moto server): ``transact_write_items`` takes
a deep copy of every table it touches and puts the copies back when any of its conditions fails, undoing
whatever other requests wrote meanwhile (a cancel, a completion, a counter), and its condition checks and
writes interleave with other writers. DynamoDB itself runs each request atomically, so the seam does too:
DynamoDB and DynamoDB Streams requests take one lock, one request at a time.

moto also keeps every model instance it ever made (``instances_tracked``, for its dashboard), deep copies
included: each transaction's snapshot of the tables, stream records and all, stayed in memory for good (a
few hundred tasks grew the stack by gigabytes). The seam stops that record for DynamoDB's models.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.model_instances import model_data
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from local.lambdas import FunctionRegistry

_original_invoke = LambdaSimpleBackend.invoke
_DYNAMODB_LOCK = threading.RLock()
_SERIALISED = (DynamoHandler, DynamoDBStreamsHandler)
# Each class's own call_action, or None where it inherits one (put back by deleting ours).
_original_actions: dict[type, Any] = {handler: handler.__dict__.get("call_action") for handler in _SERIALISED}


_UNTRACKED_SERVICES = ("dynamodb", "dynamodbstreams")


class _Forgetful(list[Any]):
    """moto's per-model record of every instance, keeping none."""

    def append(self, instance: Any) -> None:
        pass


def _track_instances(keep: bool) -> None:
    for service in _UNTRACKED_SERVICES:
        for model in model_data[service].values():
            model.instances_tracked = [] if keep else _Forgetful()  # type: ignore[attr-defined]


def _one_at_a_time(action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(action)
    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return action(self)

    call_action.serialised = True  # type: ignore[attr-defined]
    return call_action


def install(registry: FunctionRegistry) -> None:
    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        payload, errored = registry.invoke_json(function_name, body)
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    for handler in _SERIALISED:
        if not getattr(handler.call_action, "serialised", False):
            handler.call_action = _one_at_a_time(handler.call_action)  # type: ignore[method-assign]
    _track_instances(keep=False)


def uninstall() -> None:
    LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
    for handler, action in _original_actions.items():
        if action is None:
            if "call_action" in handler.__dict__:
                delattr(handler, "call_action")
        else:
            handler.call_action = action  # type: ignore[method-assign]
    _track_instances(keep=True)


MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def forget_shard_iterators(stream_arn: str, *iterators: str | None) -> None:
    """moto keeps every DynamoDB Streams shard iterator it ever handed out; the local stream pump polls a
    few times a second, so it forgets the ones it has used (``arn:aws:dynamodb:<region>:<account>:…``)."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    _, _, _, region, account, _ = stream_arn.split(":", 5)
    known = dynamodbstreams_backends[account][region].shard_iterators
    for iterator in iterators:
        if iterator:
            known.pop(iterator, None)
