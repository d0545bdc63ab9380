"""Reading counters on a local stack: they follow the tasks through the tables' stream (CountTasksFunction),
so a test that just wrote reads them once they count what it wrote, within a bound."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

COUNTED_WITHIN_SECONDS = 15.0  # the stream pump polls every 0.25 s; the bound is for busy shared cores


def settled(read: Callable[[], dict[str, Any]], until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """``read()`` again until ``until`` holds of its answer; fails the test when it never does in time."""
    deadline = time.monotonic() + COUNTED_WITHIN_SECONDS
    answer = read()
    while not until(answer):
        if time.monotonic() > deadline:
            pytest.fail(f"the counters never settled within {COUNTED_WITHIN_SECONDS:g} s; last answer: {answer}")
        time.sleep(0.25)
        answer = read()
    return answer


def settled_stats(client: Any, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """``GET /stats`` (an httpx client of the stack's API) once ``until`` holds of its data."""
    return settled(lambda: dict(client.get("/stats").json()["data"]), until)
