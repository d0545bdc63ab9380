"""`make smoke`'s script, run against the local stack as it would run against a deployed one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STEPS = [
    "health (no auth)",
    "authenticated request",
    "choose what to make",
    "create a task",
    "websocket until terminal",
    "GET the task",
    "GET the content URL",
    "download the media",
    "cancel after the end is 409",
    "no token is 401",
]


def smoke(stack: Any, token: str, *args: str, ws_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m tests.smoke`` as `make smoke` runs it: the token in the environment only."""
    env = {**os.environ, "SMOKE_TOKEN": token, "PYTHONPATH": f"layers/common/python{os.pathsep}."}
    command = [sys.executable, "-m", "tests.smoke", "--api-url", stack.http_url, "--ws-url", ws_url or stack.ws_url]
    return subprocess.run(
        [*command, "--timeout", "120", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_smoke_script_passes_every_step_against_a_healthy_stack(local_stack, user_id):
    token = local_stack.token(user_id)

    run = smoke(local_stack, token)

    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [line[2:].split("  ")[0].strip() for line in lines[:-1]] == STEPS
    assert all(line.startswith("✓") for line in lines), run.stdout
    assert "IMAGE" in lines[2]  # the cheap kind of task, where the stack can make one
    assert "image/" in lines[7]
    assert token not in run.stdout + run.stderr


def test_the_smoke_script_makes_a_video_when_asked(local_stack, user_id):
    run = smoke(local_stack, local_stack.token(user_id), "--type", "VIDEO")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "video/mp4" in run.stdout


def test_a_refused_token_stops_the_run_at_the_authenticated_step_with_a_hint(local_stack, user_id):
    token = local_stack.token(user_id) + "tampered"

    run = smoke(local_stack, token)

    assert run.returncode == 1
    assert run.stdout.splitlines()[1].startswith("✗ authenticated request")
    assert "hint: the token was refused" in run.stdout
    assert "create a task" not in run.stdout
    assert "tampered" not in run.stdout + run.stderr


def test_a_websocket_that_fails_is_reported_and_the_task_is_still_followed_by_polling(local_stack, user_id):
    unused_port = local_stack.env["PROVIDER_PORT"]  # not a WebSocket endpoint: the handshake fails

    run = smoke(local_stack, local_stack.token(user_id), ws_url=f"ws://127.0.0.1:{unused_port}")

    assert run.returncode == 1, run.stdout
    assert "✗ websocket until terminal" in run.stdout
    assert "✓ poll until terminal" in run.stdout
    assert "✓ download the media" in run.stdout
    assert run.stdout.splitlines()[-1].startswith("✗ finished with failures: websocket")
