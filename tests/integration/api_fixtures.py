"""Fixtures of the task API's integration tests; test modules load them with
``pytest_plugins = ["tests.integration.api_fixtures"]`` and import helpers from ``api_harness``.

They build on the shared ones of ``tests/fixtures`` (``aws_stack``, ``invoke``, ``api_event``, ``make_workflow``,
the fake providers) and add only what those do not give: the fake providers wired into the API function, the
workflow's steps by hand, a recorder of AWS calls, and a lock that makes moto atomic.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.client import BaseClient
from moto.core.botocore_stubber import BotocoreStubber

from tests.integration.api_harness import USER, Api, Steps
from videotasks import wiring
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.services.workflow import Workflow


@pytest.fixture
def wired_providers(aws_stack: Any, fake_videos: Any, fake_images: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API function's collaborators use the fake providers (cancel asks the videos provider)."""
    # functools.cache keeps ``cache_clear``, which wiring.reset() calls on teardown.
    monkeypatch.setattr(wiring, "videos_provider", functools.cache(lambda: fake_videos))
    monkeypatch.setattr(wiring, "images_provider", functools.cache(lambda: fake_images))


@pytest.fixture
def api(
    aws_stack: Any,
    wired_providers: None,
    invoke: Callable[[str, Any], Any],
    api_event: Callable[..., dict[str, Any]],
) -> Api:
    """The API as ``alice``; ``api.as_user("bob")`` for someone else, ``as_user(None)`` for no token."""
    return Api(invoke, api_event, USER)


@pytest.fixture
def steps(make_workflow: Callable[..., Workflow], repository: TaskRepository, fake_videos: Any) -> Steps:
    return Steps(make_workflow(), repository, fake_videos)


@pytest.fixture
def serialised_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's in-process backends are not thread-safe: a conditional write's check and its write can
    interleave with another thread's. DynamoDB applies each request atomically; so does moto with this.
    Only the moto side is serialised: our code still runs concurrently between requests."""
    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)


@pytest.fixture
def spy_logger(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any, str], list[tuple[str, dict[str, Any]]]]:
    """``spy_logger(logger, "warning")`` records (message, extra) of each call, and still logs."""

    def spy(logger: Any, level: str) -> list[tuple[str, dict[str, Any]]]:
        calls: list[tuple[str, dict[str, Any]]] = []
        original = getattr(logger, level)

        def record(message: str, *args: Any, **kwargs: Any) -> Any:
            calls.append((message, dict(kwargs.get("extra") or {})))
            return original(message, *args, **kwargs)

        monkeypatch.setattr(logger, level, record)
        return calls

    return spy


@pytest.fixture
def counters(aws_stack: Any) -> Callable[[str], dict[str, int]]:
    """``counters(user)``: the user's task counters, zeros dropped (so "nothing changed" compares equal).
    The sum of generation seconds is left out: it depends on how fast the machine is."""

    def read(user: str = USER) -> dict[str, int]:
        values = aws_stack.counters(user).items()
        return {name: value for name, value in values if value and name != "generationSecondsSum"}

    return read


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str
    params: dict[str, Any]

    @property
    def table(self) -> str | None:
        name = self.params.get("TableName")
        return str(name) if name is not None else None


class AwsCalls(list[AwsCall]):
    """Every AWS API call made by any botocore client in this process since the recorder started."""

    def of(self, service: str) -> list[AwsCall]:
        return [call for call in self if call.service == service]

    def operations(self, service: str = "dynamodb") -> set[str]:
        return {call.operation for call in self.of(service)}

    def tables(self) -> set[str]:
        names = {call.table for call in self.of("dynamodb")}
        for call in self.of("dynamodb"):  # transactions name their tables inside the items
            for item in call.params.get("TransactItems", []):
                names |= {part.get("TableName") for part in item.values()}
        return {name for name in names if name}


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    """Records AWS calls at ``BaseClient._make_api_call``, which every client and resource goes through
    (ours, Powertools idempotency's and Parameters' alike), before moto or the network sees them."""
    calls = AwsCalls()
    original = BaseClient._make_api_call

    def record(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append(AwsCall(self.meta.service_model.service_name, operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return calls
