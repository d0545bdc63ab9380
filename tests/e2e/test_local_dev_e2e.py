"""`make dev` as a developer meets it: extra browser origins through CORS_ORIGINS, and a busy port reported in
one line naming the variable to change, before anything starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from local.config import HOST
from local.launcher import stack_env

pytestmark = pytest.mark.e2e

VITE_ORIGIN = "http://localhost:5173"


def preflight(stack: Any, origin: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    return httpx.options(f"{stack.api_url}/tasks", headers=headers, timeout=30.0, trust_env=False)


def test_an_origin_named_in_cors_origins_may_call_the_api_and_the_consoles_own_still_may(
    local_stack_factory: Callable[..., Any],
) -> None:
    stack = local_stack_factory(CORS_ORIGINS=VITE_ORIGIN)

    for origin in (VITE_ORIGIN, stack.http_url):
        answer = preflight(stack, origin)
        assert answer.status_code in (200, 204), answer.text
        assert answer.headers["access-control-allow-origin"] == origin
    listed = httpx.get(
        f"{stack.api_url}/tasks",
        headers={"Origin": VITE_ORIGIN, "Authorization": f"Bearer {stack.token('cors-user')}"},
        timeout=30.0,
        trust_env=False,
    )
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == VITE_ORIGIN
    assert "access-control-allow-origin" not in preflight(stack, "http://localhost:5174").headers


def test_a_busy_port_is_one_line_naming_the_variable_and_nothing_starts() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**stack_env({}), "HTTP_PORT": str(port)}
        finished = subprocess.run(
            [sys.executable, "-m", "local"], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    assert finished.returncode != 0
    assert finished.stdout == ""
    assert finished.stderr.strip().splitlines() == [
        f"make dev: port {port} is already in use: stop what listens on it, or set HTTP_PORT to a free port"
    ]
