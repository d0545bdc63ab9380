"""The real local stack (`python -m local`, what `make dev` runs) as a subprocess on free ports.

Shared by the e2e tests (``tests/e2e/conftest.py`` wraps it in fixtures) and the benches
(``bench/reliability.py``): ``start_stack(log_dir, {"FAKE_PROVIDER_FAULT": "stuck"})`` starts a stack with
those environment variables on top of `DEFAULT_ENV` and hands back a `RunningStack`.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from local.config import HOST, PORT_VARIABLES, STACK_VARIABLES, StackConfig
from local.iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, CALL_LOG_VARIABLE
from local.token import make_token
from videotasks_cli.local_state import STATE_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
START_ATTEMPTS = 3  # a free port can be taken by someone else between picking it and binding it
READY_LINE = "local stack is ready"

# Defaults that keep a task's whole life to a few seconds; each can be overridden per stack.
DEFAULT_ENV = {
    "FAKE_VIDEO_SECONDS": "3",
    "FAKE_FAILURE_RATE": "0",
    "POLL_INTERVAL_SECONDS": "1",
    # Tests and benches create tasks per user far faster than a person would; the tests of the limits
    # themselves set small ones (`make dev` keeps the template's defaults).
    "CREATES_PER_MINUTE": "100000",
    "VIDEO_SECONDS_PER_DAY": "100000000",
    # Suites that start many tasks per user at once are about other things than the per-user queue: the
    # queue's own tests and rows pass their cap (`make dev` keeps the deployment default, 3).
    "MAX_GENERATING_PER_USER": "1000",
}
# The stack's own variables, and the handlers' (they run inside the stack's process): a developer's own values
# (a real SORA_BASE_URL, say) must not leak in.
_STACK_VARIABLES = (*STACK_VARIABLES, "PROVIDER_TIMEOUT_SECONDS")
_STACK_PREFIXES = ("AWS_", "SORA_", "FAKE_", "POWERTOOLS_")


class StackStartError(RuntimeError):
    pass


def free_ports(count: int) -> list[int]:
    """Ports the kernel calls free right now; all held open together so they are distinct."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


@dataclass(eq=False)
class RunningStack:
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def state_path(self) -> Path:
        """The stack's state file, what `videotasks --local` reads (videotasks_cli.local_state)."""
        return Path(self.env[STATE_VARIABLE])

    @property
    def config(self) -> StackConfig:
        """The stack's settings and addresses, read from its environment as the stack reads them."""
        return StackConfig.from_env(self.env)

    # addresses ---------------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        return self.config.http_url

    @property
    def api_url(self) -> str:
        return self.config.api_url

    @property
    def ws_url(self) -> str:
        return self.config.ws_url

    @property
    def provider_url(self) -> str:
        return self.config.fake_provider_url

    @property
    def moto_url(self) -> str:
        return self.config.moto_url

    # knobs -------------------------------------------------------------------------------------
    @property
    def jwt_secret(self) -> str:
        return self.config.jwt_secret

    @property
    def video_seconds(self) -> float:
        return self.config.fake_video_seconds

    @property
    def poll_interval(self) -> float:
        return float(self.config.poll_interval_seconds)

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

    def objects_naming(self, text: str) -> list[tuple[str, str]]:
        """(bucket, key) of every object in the stack's S3 whose key contains ``text`` (a task's id)."""
        s3 = self.boto3_client("s3")
        found = []
        for bucket in s3.list_buckets()["Buckets"]:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
                found += [(bucket["Name"], item["Key"]) for item in page.get("Contents", []) if text in item["Key"]]
        return found

    def boto3_client(self, service: str) -> Any:
        """A client for the stack's moto server, signed as the stack's admin (moto checks IAM: local.iam)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.moto_url,
                region_name="us-east-1",
                aws_access_key_id=ADMIN_ACCESS_KEY_ID,
                aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
                config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            )
        return self._clients[service]

    @property
    def call_log_path(self) -> Path:
        """The stack's AWS call log (JSON lines: each principal's grants, then each distinct call)."""
        return Path(self.env[CALL_LOG_VARIABLE])

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
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def stack_env(overrides: dict[str, str]) -> dict[str, str]:
    """The stack's environment: ours without the stack's own variables, fresh free ports, `DEFAULT_ENV`,
    a random JWT secret, then ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _STACK_VARIABLES and not key.startswith(_STACK_PREFIXES)
    }
    ports = dict(zip(PORT_VARIABLES, map(str, free_ports(len(PORT_VARIABLES))), strict=True))
    env.update(ports)
    env.update(DEFAULT_ENV)
    env["JWT_SECRET"] = secrets.token_urlsafe(32)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "common" / "python"), str(ROOT)])
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = f"{HOST},localhost"
    env.update(overrides)
    return env


def wait_until_ready(stack: RunningStack) -> None:
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
    """Start `python -m local` on fresh free ports; retried when it dies early (a port got taken).
    Raises `StackStartError` with every attempt's log when none becomes ready."""
    if not PYTHON.exists():
        raise StackStartError(f"{PYTHON} is missing: run `make install` first")
    failures: list[str] = []
    for attempt in range(1, START_ATTEMPTS + 1):
        env = stack_env(overrides)
        stack_id = uuid.uuid4().hex[:8]
        log_path = log_dir / f"stack-{stack_id}.log"
        # Every AWS call the stack's functions make, checked against their grants (local.iam, local.grants).
        if CALL_LOG_VARIABLE not in overrides:
            env[CALL_LOG_VARIABLE] = str(log_dir / f"aws-calls-{stack_id}.jsonl")
        # Never the developer's own state file (a running `make dev`): every stack reports to its own.
        if STATE_VARIABLE not in overrides:
            env[STATE_VARIABLE] = str(log_dir / f"local-state-{stack_id}.json")
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [str(PYTHON), "-m", "local"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        stack = RunningStack(env=env, process=process, log_path=log_path)
        try:
            wait_until_ready(stack)
        except StackStartError as error:
            stack.stop()
            failures.append(f"attempt {attempt}: {error}")
            continue
        return stack
    raise StackStartError("\n\n".join(failures))
