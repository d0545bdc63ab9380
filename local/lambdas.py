"""Runs the template's functions in this process, as Lambda would run them in containers.

Each function gets a small pool of "containers": separate imports of its ``app.py`` under unique
module names, so module-level state is never shared by two invocations running at once, exactly as in
Lambda.

Each function's ``Timeout`` from the template is enforced as Lambda does: the handler runs on a worker
thread and the invocation answers ``FunctionTimeoutError`` once the timeout passes (the Invoke API reports it as
an Unhandled ``Sandbox.Timedout`` error, as python3.13 Lambdas do). Python cannot kill a thread, so the
abandoned handler runs on to its end in the background: its container is never handed out again (Lambda
discards a timed-out sandbox too), and whatever it writes late is harmless because every task write is
conditional on the state it expects, and a step retried meanwhile has moved that state on.

Libraries are imported once for the whole process, though, and Powertools' event handler keeps the event it
is resolving on a class (``BaseRouter.current_event``, and ``lambda_context``), which Lambda's one invocation
per process makes safe. Here two API invocations at once would read each other's event, and so each other's
user: the invocations of every function whose module holds a resolver take turns on one lock.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import itertools
import json
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from local.iam import signs_as_function
from local.template import ACCOUNT, REGION, ROOT, functions

_MODULE_COUNTER = itertools.count()
_RESOLVER_LOCK = threading.Lock()  # one invocation at a time across the functions that hold a resolver


def _holds_a_resolver(module: ModuleType) -> bool:
    """Whether ``module`` has a Powertools resolver, whose current event lives on a shared class."""
    api_gateway = sys.modules.get("aws_lambda_powertools.event_handler.api_gateway")
    if api_gateway is None:  # not imported by anyone yet, so not by this module
        return False
    return any(isinstance(value, api_gateway.BaseRouter) for value in vars(module).values())


@dataclass
class LambdaContext:
    """What handlers and Powertools read from the Lambda context object."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    started: float

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_seconds - time.monotonic()) * 1000))


class FunctionTimeoutError(Exception):
    """The handler ran past the function's timeout; its thread was abandoned, as Lambda kills the sandbox."""

    error_type = "Sandbox.Timedout"  # the errorType Lambda's python3.13 runtime reports for a timeout

    def __init__(self, request_id: str, timeout_seconds: float) -> None:
        # Lambda's own wording, which some tooling greps for.
        super().__init__(f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds")


class LocalFunction:
    def __init__(self, logical_id: str, code_dir: Path, handler: str, timeout: int, memory: int, pool_size: int = 4):
        self.logical_id = logical_id
        self.name = logical_id  # local physical name == logical id
        self._code_dir = code_dir
        self._module_file, self._attribute = handler.rsplit(".", 1)
        self._timeout = timeout
        self._memory = memory
        self._idle: queue.LifoQueue[ModuleType] = queue.LifoQueue()
        self._created = 0
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._exclusive: threading.Lock | None = None  # set when the first container holds a resolver

    def _container(self) -> ModuleType:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self._pool_size:
                self._created += 1
                return self._load()
        return self._idle.get()

    def _load(self) -> ModuleType:
        path = self._code_dir / f"{self._module_file}.py"
        name = f"_lambda_{self.logical_id}_{next(_MODULE_COUNTER)}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader, path
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if _holds_a_resolver(module):
            self._exclusive = _RESOLVER_LOCK
        return module

    @signs_as_function  # every AWS call of the invocation signs as this function (local.iam)
    def invoke(self, event: Any) -> Any:
        """Run the handler within the function's timeout; ``FunctionTimeoutError`` once it has passed."""
        module = self._container()
        timed_out = False
        try:
            # On a timeout the lock is let go while the abandoned handler may still run: a frozen local API
            # would be worse than that late handler reading a later invocation's event off the shared class.
            with self._exclusive or contextlib.nullcontext():
                context = LambdaContext(self.name, self._memory, self._timeout, str(uuid.uuid4()), time.monotonic())
                outcome = _run_on_worker(getattr(module, self._attribute), event, context, self._timeout)
                if outcome is None:
                    timed_out = True
                    raise FunctionTimeoutError(context.aws_request_id, self._timeout)
                return outcome.result()
        finally:
            if timed_out:
                self._discard()  # still running: it must never serve another invocation
            else:
                self._idle.put(module)

    def _discard(self) -> None:
        """Forget a container whose handler is still running; the pool makes a fresh one in its place."""
        with self._lock:
            self._created -= 1


class _Outcome:
    """What a handler returned or raised, handed from its worker thread to the invoker."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def settle(self, call: Any, *args: Any) -> None:
        try:
            self._value = call(*args)
        except BaseException as exc:  # re-raised in the invoker's thread, as if called there
            self._error = exc
        finally:
            self.done.set()

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


def _run_on_worker(handler: Any, event: Any, context: LambdaContext, timeout_seconds: float) -> _Outcome | None:
    """``handler(event, context)`` on a thread of its own, waiting ``timeout_seconds`` at most; None when it
    is still running then. The thread runs in a copy of the caller's context, so context variables the
    invoker set (which function is running, say) are seen by the handler. Daemon: an abandoned handler
    must not keep the process alive at exit."""
    outcome = _Outcome()
    worker = threading.Thread(
        target=contextvars.copy_context().run,
        args=(outcome.settle, handler, event, context),
        name=f"lambda-{context.function_name}",
        daemon=True,
    )
    worker.start()
    return outcome if outcome.done.wait(timeout_seconds) else None


class FunctionRegistry:
    """Every function of the template, found by logical id, name or ARN."""

    def __init__(self, template: dict[str, Any]) -> None:
        globals_ = template.get("Globals", {}).get("Function", {})
        self._functions: dict[str, LocalFunction] = {}
        for logical_id, body in functions(template).items():
            props = body["Properties"]
            self._functions[logical_id] = LocalFunction(
                logical_id,
                ROOT / props["CodeUri"],
                props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                int(props.get("Timeout", globals_.get("Timeout", 30))),
                int(props.get("MemorySize", globals_.get("MemorySize", 128))),
            )

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._functions.values())

    def get(self, name_or_arn: str) -> LocalFunction:
        name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        try:
            return self._functions[name]
        except KeyError as exc:
            raise KeyError(f"no local function {name_or_arn}") from exc

    def arn(self, logical_id: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"

    def invoke_json(self, name_or_arn: str, payload: bytes | str | None) -> tuple[bytes, bool]:
        """Invoke with a JSON payload as the Lambda service does: (response bytes, errored)."""
        event = json.loads(payload) if payload else {}
        try:
            result = self.get(name_or_arn).invoke(event)
        except Exception as exc:  # the Lambda service reports any handler exception this way
            error_type = exc.error_type if isinstance(exc, FunctionTimeoutError) else type(exc).__name__
            body = {"errorType": error_type, "errorMessage": str(exc)}
            return json.dumps(body).encode(), True
        return json.dumps(result).encode(), False
