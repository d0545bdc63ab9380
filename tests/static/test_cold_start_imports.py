"""What each function's cold start imports: nothing heavy that the function does not need at once.

Each handler module is imported in a fresh interpreter with the environment it has once deployed (the one
``make bench`` measures, bench/cold_start.py), and the modules it loaded are checked against what must
wait: the provider clients and httpx (loaded with the first provider call), the OpenAPI models and Swagger
UI (``/openapi.json`` and ``/docs`` only), Powertools' idempotency (a create with an ``Idempotency-Key``),
its batch processing (the stream readers only), its parser and validation (unused). A structural check, not a
timing: ``make bench`` prints the times.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys

import pytest

from bench.cold_start import Function, deployed_functions

_LIST_MODULES = "import sys, json, app; print(json.dumps(sorted(sys.modules)))"

# Prefixes no function may load at import.
NEVER_AT_START = (
    "httpx",
    "videotasks.adapters.providers.",  # the package's own module is light; its adapters import httpx
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.event_handler.openapi.swagger_ui",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.validation",
)
# Prefixes only the named functions may load at import.
ONLY_IN = {
    "aws_lambda_powertools.event_handler": {"ApiFunction"},
    "aws_lambda_powertools.utilities.batch": {"BroadcasterFunction", "CallbackEventsFunction"},  # stream readers
    "videotasks.services.tasks": {"ApiFunction"},
    "videotasks.services.workflow": set(),  # the step functions build it on their first invocation
    "jwt": {"ApiFunction", "AuthorizerFunction"},
}
FUNCTIONS = deployed_functions()


def _loaded(function: Function) -> frozenset[str]:
    return _loaded_by(function.logical_id)


@functools.cache
def _loaded_by(logical_id: str) -> frozenset[str]:
    (function,) = (candidate for candidate in FUNCTIONS if candidate.logical_id == logical_id)
    result = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES],
        env=function.environment,
        cwd=function.folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return frozenset(json.loads(result.stdout.strip().splitlines()[-1]))


def _matching(modules: frozenset[str], prefix: str) -> list[str]:
    """The modules under ``prefix``: a package and its submodules, or with a trailing dot its submodules only."""
    if prefix.endswith("."):
        return sorted(name for name in modules if name.startswith(prefix))
    return sorted(name for name in modules if name == prefix or name.startswith(prefix + "."))


@pytest.mark.parametrize("function", FUNCTIONS, ids=[function.logical_id for function in FUNCTIONS])
def test_a_cold_start_loads_nothing_that_can_wait(function: Function) -> None:
    modules = _loaded(function)
    assert "app" in modules  # the check saw the handler imported

    loaded = {prefix: _matching(modules, prefix) for prefix in NEVER_AT_START}
    allowed_here = {prefix for prefix, owners in ONLY_IN.items() if function.logical_id in owners}
    loaded |= {prefix: _matching(modules, prefix) for prefix in set(ONLY_IN) - allowed_here}

    assert {prefix: names for prefix, names in loaded.items() if names} == {}


def test_the_api_function_still_loads_what_each_request_needs() -> None:
    # The control: request validation and token verification are not deferred into a request's latency.
    (api,) = (function for function in FUNCTIONS if function.logical_id == "ApiFunction")
    modules = _loaded(api)

    assert _matching(modules, "aws_lambda_powertools.event_handler.middlewares.openapi_validation")
    assert _matching(modules, "videotasks.edge.auth")
    assert _matching(modules, "jwt")
