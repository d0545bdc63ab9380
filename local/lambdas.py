"""Runs the template's functions in this process, as Lambda would run them in containers.

Each function gets a small pool of "containers": separate imports of its ``app.py`` under unique
module names, so module-level state is never shared by two invocations running at once, exactly as in
Lambda.

Libraries are imported once for the whole process, though, and Powertools' event handler keeps the event it
is resolving on a class (``BaseRouter.current_event``, and ``lambda_context``), which Lambda's one invocation
per process makes safe. Here two API invocations at once would read each other's event, and so each other's
user: the invocations of every function whose module holds a resolver take turns on one lock.
"""

from __future__ import annotations

import contextlib
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
        module = self._container()
        try:
            with self._exclusive or contextlib.nullcontext():
                context = LambdaContext(self.name, self._memory, self._timeout, str(uuid.uuid4()), time.monotonic())
                return getattr(module, self._attribute)(event, context)
        finally:
            self._idle.put(module)


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
            body = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return json.dumps(body).encode(), True
        return json.dumps(result).encode(), False
