"""The real local stack (`python -m local`, what `make dev` runs) as a subprocess on free ports.

`local_stack_factory(**env)` starts a stack with extra environment variables (``FAKE_FAILURE_RATE=1``,
``FAKE_PROVIDER_FAULT="stuck"``, ``MAX_POLL_ATTEMPTS=3``, …) and hands back a `RunningStack`. Stacks are
cached per set of overrides for the whole session, since starting one costs a couple of seconds and
every test makes its own tasks under its own users; `local_stack` is the default one, and
``private=True`` gives a test a stack of its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from local.token import make_token

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
START_ATTEMPTS = 3  # a free port can be taken by someone else between picking it and binding it
READY_LINE = "local stack is ready"
LOG_TAIL_CHARS = 20_000

# Defaults that keep a task's whole life to a few seconds; each can be overridden per stack.
DEFAULT_ENV = {
    "FAKE_VIDEO_SECONDS": "3",
    "FAKE_FAILURE_RATE": "0",
    "POLL_INTERVAL_SECONDS": "1",
}
# Variables the stack reads: a developer's own values (a real SORA_BASE_URL, say) must not leak in.
_STACK_VARIABLES = (
    "HTTP_PORT",
    "WS_PORT",
    "PROVIDER_PORT",
    "MOTO_PORT",
    "JWT_SECRET",
    "FAKE_VIDEO_SECONDS",
    "FAKE_FAILURE_RATE",
    "FAKE_PROVIDER_FAULT",
    "POLL_INTERVAL_SECONDS",
    "MAX_POLL_ATTEMPTS",
    "TASK_TIMEOUT_SECONDS",
)
_STACK_PREFIXES = ("AWS_", "SORA_", "FAKE_", "POWERTOOLS_")
_PORT_NAMES = ("HTTP_PORT", "WS_PORT", "PROVIDER_PORT", "MOTO_PORT")


def free_ports(count: int) -> list[int]:
    """Ports the kernel calls free right now; all held open together so they are distinct."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


STACKS_USED = pytest.StashKey[list["RunningStack"]]()


class StackStartError(RuntimeError):
    pass


@dataclass(eq=False)
class RunningStack:
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    # addresses ---------------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.env['HTTP_PORT']}"

    @property
    def api_url(self) -> str:
        return f"{self.http_url}/api/video"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.env['WS_PORT']}"

    @property
    def provider_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PROVIDER_PORT']}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.env['MOTO_PORT']}"

    # knobs -------------------------------------------------------------------------------------
    @property
    def jwt_secret(self) -> str:
        return self.env["JWT_SECRET"]

    @property
    def video_seconds(self) -> float:
        return float(self.env["FAKE_VIDEO_SECONDS"])

    @property
    def poll_interval(self) -> float:
        return float(self.env["POLL_INTERVAL_SECONDS"])

    def completion_deadline(self, extra_polls: int = 0) -> float:
        """Seconds a healthy task may take: the fake's video time, several polls, and slack for a busy
        machine. Only a bound on waiting; nothing asserts that a task is fast."""
        return self.video_seconds + (6 + extra_polls) * self.poll_interval + 30.0

    # helpers -----------------------------------------------------------------------------------
    def token(self, user_id: str, **claims: Any) -> str:
        return make_token(user_id, self.jwt_secret, **claims)

    def auth(self, user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}

    def http(self, user_id: str | None = None) -> httpx.Client:
        """A real HTTP client on the API base URL, authenticated as ``user_id`` when given."""
        headers = self.auth(user_id) if user_id else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30.0, trust_env=False)

    def boto3_client(self, service: str) -> Any:
        """A client for the stack's moto server (test-only credentials; moto accepts any)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.moto_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            )
        return self._clients[service]

    def log(self) -> str:
        """Everything the stack printed so far (banner, handler logs, tracebacks)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def is_running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """Ask the stack to stop (SIGTERM: it shuts down its servers and exits, saving coverage data)."""
        if self.is_running():
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """`terminate`, then wait for the exit; kill a stack that does not exit in time."""
        self.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            warnings.warn(
                f"the local stack on {self.http_url} ignored SIGTERM for {STOP_TIMEOUT_SECONDS:g}s and was killed "
                f"(its coverage data is lost); its log ends:\n{self.log()[-3000:]}",
                stacklevel=2,
            )
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def _stack_env(overrides: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _STACK_VARIABLES and not key.startswith(_STACK_PREFIXES)
    }
    ports = dict(zip(_PORT_NAMES, map(str, free_ports(len(_PORT_NAMES))), strict=True))
    env.update(ports)
    env.update(DEFAULT_ENV)
    env["JWT_SECRET"] = secrets.token_urlsafe(32)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "common" / "python"), str(ROOT)])
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env.update(overrides)
    return env


def _wait_until_ready(stack: RunningStack) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last_error = "no answer yet"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not stack.is_running():
                raise StackStartError(
                    f"the local stack exited with {stack.process.returncode} before it was ready:\n{stack.log()}"
                )
            try:
                health = client.get(f"{stack.api_url}/health")
                if health.status_code == 200 and READY_LINE in stack.log():
                    return
                last_error = f"health answered {health.status_code}: {health.text[:500]}"
            except httpx.TransportError as error:
                last_error = repr(error)
            time.sleep(0.1)
    stack.stop()
    raise StackStartError(
        f"the local stack was not ready within {READY_TIMEOUT_SECONDS:g}s ({last_error}):\n{stack.log()}"
    )


def start_stack(log_dir: Path, overrides: dict[str, str]) -> RunningStack:
    """Start `python -m local` on fresh free ports; retried when it dies early (a port got taken)."""
    if not PYTHON.exists():
        pytest.fail(f"{PYTHON} is missing: run `make install` first")
    failures: list[str] = []
    for attempt in range(1, START_ATTEMPTS + 1):
        env = _stack_env(overrides)
        log_path = log_dir / f"stack-{uuid.uuid4().hex[:8]}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [str(PYTHON), "-m", "local"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        stack = RunningStack(env=env, process=process, log_path=log_path)
        try:
            _wait_until_ready(stack)
        except StackStartError as error:
            stack.stop()
            failures.append(f"attempt {attempt}: {error}")
            continue
        return stack
    pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.fixture(scope="session")
def _stack_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[tuple[str, str], ...], RunningStack]]:
    stacks: dict[tuple[tuple[str, str], ...], RunningStack] = {}
    yield stacks
    for stack in stacks.values():  # all at once: each takes a moment to shut down
        stack.terminate()
    for stack in stacks.values():
        stack.stop()


@pytest.fixture
def local_stack_factory(
    _stack_pool: dict[tuple[tuple[str, str], ...], RunningStack],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Callable[..., RunningStack]:
    """``local_stack_factory(FAKE_FAILURE_RATE=1)`` → a running stack with those variables set.

    The same overrides give the same stack for the whole session; all are stopped at its end.
    ``private=True`` gives a stack of the calling test alone, stopped when it ends: for a test that
    leaves a stack in a state others should not meet. A failing test gets the logs of the stacks it
    used in its report.
    """
    used: list[RunningStack] = request.node.stash.setdefault(STACKS_USED, [])

    def factory(*, private: bool = False, **overrides: str | float) -> RunningStack:
        values = {name: str(value) for name, value in overrides.items()}
        if private:
            stack = start_stack(tmp_path_factory.mktemp("local-stack"), values)
            request.addfinalizer(stack.stop)
        else:
            key = tuple(sorted(values.items()))
            stack = _stack_pool.get(key)
            if stack is None or not stack.is_running():
                stack = _stack_pool[key] = start_stack(tmp_path_factory.mktemp("local-stack"), values)
        if stack not in used:
            used.append(stack)
        return stack

    return factory


@pytest.fixture
def local_stack(local_stack_factory: Callable[..., RunningStack]) -> RunningStack:
    """The stack with `DEFAULT_ENV`: a healthy fake provider, 3 s videos, 1 s polls."""
    return local_stack_factory()


@pytest.fixture
def user_id() -> str:
    """A user of this test alone, so tests never see each other's tasks."""
    return f"e2e-{uuid.uuid4().hex[:12]}"


TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


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
