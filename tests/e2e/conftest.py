"""Fixtures over the real local stack (`python -m local`, what `make dev` runs) as a subprocess.

`local.launcher` starts a stack on free ports and hands back a `RunningStack` (URLs, tokens signed with
the stack's JWT secret, boto3 clients on its moto, its log); the benches use it too. Here:
`local_stack_factory(**env)` starts one with extra environment variables (``FAKE_FAILURE_RATE=1``,
``FAKE_PROVIDER_FAULT="stuck"``, ``MAX_POLL_ATTEMPTS=3``, …). Stacks are cached per set of overrides
for the whole session, since starting one costs a couple of seconds and every test makes its own tasks
under its own users; `local_stack` is the default one, and ``private=True`` gives a test a stack of its
own.

Every stack logs the AWS calls its functions make (`local.iam`); when stacks stop, any call their role does
not grant fails the test that stopped them (the session's last one for shared stacks), and the session ends
with the report of grants no call used (`local.grants`).
"""

from __future__ import annotations

import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local import grants
from local.launcher import DEFAULT_ENV, STOP_TIMEOUT_SECONDS, RunningStack, StackStartError, start_stack
from tests.e2e import socket_contract

__all__ = ["DEFAULT_ENV", "RunningStack", "start_stack"]  # other suites import these from here

LOG_TAIL_CHARS = 20_000
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
STACKS_USED = pytest.StashKey[list[RunningStack]]()
# Shared stacks kept running besides the default one. Each running stack keeps polling (its stream pump, its
# state machines), so a session that kept every variant alive would spend the machine's two cores on idle
# stacks; tests of one variant sit together in a module, so the least recently used one is stopped instead.
MAX_SHARED_STACKS = 3

StackPool = dict[tuple[tuple[str, str], ...], RunningStack]


def _start(log_dir: Path, overrides: dict[str, str]) -> RunningStack:
    try:
        return start_stack(log_dir, overrides)
    except StackStartError as error:
        pytest.fail(f"the local stack with {overrides or 'defaults'} did not start:\n{error}", pytrace=False)


def _label(overrides: dict[str, str] | tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name}={value}" for name, value in dict(overrides).items()) or "defaults"


def _call_logs(config: pytest.Config) -> list[Path]:
    """The call logs of every stopped stack on the template's own grants. Kept on the session's config: this
    module is imported twice (as the e2e conftest, and by name from other suites' ``pytest_plugins``)."""
    logs: list[Path] = config.__dict__.setdefault("_videotasks_iam_call_logs", [])
    return logs


def _stop_all(stacks: dict[str, RunningStack], config: pytest.Config) -> None:
    """`_stop`, then fail when any of those stacks' functions made an AWS call its role does not grant (each
    would be an AccessDenied error in AWS)."""
    _stop(stacks)
    _check_grants(stacks.values(), config)


def _check_grants(stacks: Iterable[RunningStack], config: pytest.Config) -> None:
    """Every call of the stacks that run on the template's own grants (no ``LOCAL_IAM_AMEND``) must be granted;
    their logs feed the excess-grant report printed at the end of the session."""
    logs = [stack.call_log_path for stack in stacks if "LOCAL_IAM_AMEND" not in stack.env]
    logs = [path for path in logs if path.exists()]
    _call_logs(config).extend(logs)
    ungranted = grants.read(logs).ungranted()
    if ungranted:
        calls = "\n".join(
            f"  {call.principal}: {call.action} on {call.resource} [{call.operation}]"
            for principal_calls in ungranted.values()
            for call in principal_calls
        )
        pytest.fail(
            f"AWS calls the template does not grant (AccessDenied in AWS; logs: {', '.join(map(str, logs))}):\n{calls}",
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The grants the session's stacks never used (`python -m local.grants` on their call logs)."""
    logs = _call_logs(terminalreporter.config)
    if logs:
        terminalreporter.write_sep("-", "IAM: calls and grants of the e2e stacks (python -m local.grants)")
        terminalreporter.write_line(grants.render(grants.read(logs)))
        logs.clear()  # printed once, whichever copy of this module runs first


def _stop(stacks: dict[str, RunningStack]) -> None:
    """SIGTERM to all at once (each takes a moment to shut down), then wait for each. A stack killed for
    not exiting in time loses its coverage data, so say so."""
    for stack in stacks.values():
        stack.terminate()
    for label, stack in stacks.items():
        try:
            stack.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            warnings.warn(
                f"the local stack with {label} ignored SIGTERM for {STOP_TIMEOUT_SECONDS:g}s and is killed "
                f"(its coverage data is lost); its log ends:\n{stack.log()[-3000:]}",
                stacklevel=1,
            )
        stack.stop()


@pytest.fixture(scope="session")
def _stack_pool(pytestconfig: pytest.Config) -> Iterator[StackPool]:
    stacks: StackPool = {}
    yield stacks
    _stop_all({_label(key): stack for key, stack in stacks.items()}, pytestconfig)


@pytest.fixture
def local_stack_factory(
    _stack_pool: StackPool,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., RunningStack]:
    """``local_stack_factory(FAKE_FAILURE_RATE=1)`` → a running stack with those variables set.

    The same overrides give the same stack for the whole session; all are stopped at its end.
    ``private=True`` gives a stack of the calling test alone, stopped when it ends: for a test that
    leaves a stack in a state others should not meet. A failing test gets the logs of the stacks it
    used in its report. Every WebSocket message the test receives must be one docs/asyncapi.yaml
    documents (`socket_contract`).
    """
    socket_contract.validating_receives(monkeypatch)
    used: list[RunningStack] = request.node.stash.setdefault(STACKS_USED, [])

    def factory(*, private: bool = False, **overrides: str | float) -> RunningStack:
        values = {name: str(value) for name, value in overrides.items()}
        if private:
            stack = _start(tmp_path_factory.mktemp("local-stack"), values)
            request.addfinalizer(lambda: _stop_all({f"{_label(values)} (private)": stack}, request.config))
        else:
            key = tuple(sorted(values.items()))
            stack = _stack_pool.pop(key, None)  # put back last: the pool's order is least recently used first
            if stack is None or not stack.is_running():
                _stop_least_recently_used(_stack_pool, keep=used, config=request.config)
                stack = _start(tmp_path_factory.mktemp("local-stack"), values)
            _stack_pool[key] = stack
        if stack not in used:
            used.append(stack)
        return stack

    return factory


def _stop_least_recently_used(pool: StackPool, *, keep: list[RunningStack], config: pytest.Config) -> None:
    """Make room for one more shared stack: stop the least recently used beyond ``MAX_SHARED_STACKS`` (never
    the default stack, nor one the current test uses)."""
    candidates = [key for key, stack in pool.items() if key and stack not in keep]
    for key in candidates[: max(0, len(candidates) - MAX_SHARED_STACKS + 1)]:
        _stop_all({_label(key): pool.pop(key)}, config)


@pytest.fixture
def local_stack(local_stack_factory: Callable[..., RunningStack]) -> RunningStack:
    """The stack with `DEFAULT_ENV`: a healthy fake provider, 3 s videos, 1 s polls."""
    return local_stack_factory()


@pytest.fixture
def user_id() -> str:
    """A user of this test alone, so tests never see each other's tasks."""
    return f"e2e-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def wait_for_terminal() -> Callable[[httpx.Client, str, float], dict[str, Any]]:
    """``wait_for_terminal(client, video_id, deadline_seconds)`` polls GET /tasks/{id} until the task is
    terminal and returns it; fails with the last answer when the deadline passes."""

    def wait(client: httpx.Client, video_id: str, deadline_seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + deadline_seconds
        last: object = None
        while time.monotonic() < deadline:
            answer = client.get(f"/tasks/{video_id}")
            assert answer.status_code == 200, answer.text
            last = answer.json()
            if last["status"] in TERMINAL_STATUSES:
                return last
            time.sleep(0.25)
        pytest.fail(f"{video_id} not terminal after {deadline_seconds:g}s; last answer: {last}")

    return wait


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.failed:
        for number, stack in enumerate(item.stash.get(STACKS_USED, []), start=1):
            report.sections.append((f"local stack {number} log (tail)", stack.log()[-LOG_TAIL_CHARS:]))
    return report
