"""Fixtures of the task API's integration tests; test modules load them with
``pytest_plugins = ["tests.integration.api_fixtures"]`` and import helpers from ``api_harness``.

They build on the shared ones of ``tests/fixtures`` (``aws_stack``, ``invoke``, ``api_event``, ``make_workflow``,
the fake providers) and add only what those do not give: the fake providers wired into the API function, the
workflow's steps by hand, a recorder of AWS calls, and a lock that makes moto atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local import botocore_internals, moto_seam
from tests.integration.api_harness import USER, Api, Steps
from videotasks import wiring
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.services.workflow import Workflow


@pytest.fixture
def wired_providers(aws_stack: Any, fake_videos: Any, fake_images: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API function's collaborators use the fake providers (cancel asks the videos provider)."""
    monkeypatch.setattr(wiring, "video_adapter", lambda entry: fake_videos)
    monkeypatch.setattr(wiring, "images_provider", lambda entry: fake_images)


@pytest.fixture
def api(
    aws_stack: Any,
    wired_providers: None,
    invoke: Callable[[str, Any], Any],
    api_event: Callable[..., dict[str, Any]],
) -> Api:
    """The API as ``alice``; ``api.as_user("bob")`` for someone else, ``as_user(None)`` for no token. Every
    request finds the counters settled (``AwsStack.settle_counters``): what the counter function makes true
    within seconds in the cloud holds here at each request, so replies are deterministic."""

    def settled_invoke(logical_id: str, event: Any) -> Any:
        aws_stack.settle_counters()
        return invoke(logical_id, event)

    return Api(settled_invoke, api_event, USER)


@pytest.fixture
def steps(make_workflow: Callable[..., Workflow], repository: TaskRepository, fake_videos: Any) -> Steps:
    return Steps(make_workflow(), repository, fake_videos)


@pytest.fixture
def serialised_moto() -> Iterator[None]:
    """moto applies each request atomically, as DynamoDB does; our code still runs concurrently."""
    with moto_seam.one_in_process_request_at_a_time():
        yield


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
def aws_calls() -> Iterator[AwsCalls]:
    """Records the AWS calls of every client and resource (ours, Powertools idempotency's and Parameters' alike),
    before moto or the network sees them."""
    calls = AwsCalls()

    def record(client: Any, operation_name: str, api_params: dict[str, Any]) -> None:
        calls.append(AwsCall(client.meta.service_model.service_name, operation_name, dict(api_params)))

    stop_recording = botocore_internals.before_each_call(record)
    yield calls
    stop_recording()
