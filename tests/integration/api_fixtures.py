"""Fixtures of the task API's integration tests; test modules load them with
``pytest_plugins = ["tests.integration.api_fixtures"]`` and import helpers from ``api_harness``.

They build on ``tests/conftest.py`` (``aws_stack``, ``invoke``, ``api_event``, ``make_workflow``, the fake
providers) and add only what it does not give: the fake providers wired into the API function, a parent
for the package's child loggers, the workflow's steps by hand, and a lock that makes moto atomic.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from moto.core.botocore_stubber import BotocoreStubber

from tests.integration.api_harness import USER, Api, Steps
from videotasks import service as service_module
from videotasks import wiring
from videotasks import workflow as workflow_module
from videotasks.repository import TaskRepository
from videotasks.workflow import Workflow


@pytest.fixture
def _parent_loggers() -> None:
    """The package's child loggers were created when tests/conftest.py imported the package, before
    POWERTOOLS_SERVICE_NAME was set, so their parent is ``service_undefined``, not the API's Logger.
    A Powertools child with no parent refuses ``append_keys`` (OrphanedChildLoggerError); in Lambda
    the variable is set before any import, so give them the parent they would have had."""
    for module in (service_module, workflow_module):
        Logger(service=module.logger.service)


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
    _parent_loggers: None,
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
