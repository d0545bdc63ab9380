"""The one place that leans on moto internals (pinned in requirements-dev.txt).

moto without Docker has a "simple" Lambda backend that echoes instead of running code. Its Step
Functions engine calls that backend's ``invoke``; we replace it so the engine runs our handlers
in this process, with Lambda's error contract (``X-Amz-Function-Error`` + errorType/errorMessage),
which is what the ASL's Retry and Catch match on. ``tests/integration/test_moto_seam.py`` fails
loudly if a moto upgrade moves this seam.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from local.lambdas import FunctionRegistry

_original_invoke = LambdaSimpleBackend.invoke


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


def uninstall() -> None:
    LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]


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
