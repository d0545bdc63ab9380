"""`make bench`, webhooks end to end: tasks on the local stack whose provider calls back, measured from outside.

A stack runs with the fake provider sending signed webhooks (fal and Replicate shapes) and a long fallback
wait, so that only a webhook can end a wait early. Each task's user listens on the WebSocket API; the
detection delay is the time from the fake's ``readyAt`` (``GET /_fake/stats``) to the browser receiving
``taskCompleted``, which includes the wake, the poll, archiving into S3 and the push. Status calls per task
are the fake's own count; state transitions come from each execution's history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.executions import finished_histories, transitions
from bench.polling import TARGET_CALLS_WEBHOOK, TARGET_MEAN_DELAY_WEBHOOK
from bench.reliability import Listener
from bench.reliability_judge import TERMINAL_MESSAGES, about
from local.launcher import RunningStack, start_stack

MODELS = ("kling-2.1-fal", "kling-2.5-turbo-replicate")
ENV = {"FAKE_VIDEO_SECONDS": "8", "POLL_WEBHOOK_MAX_SECONDS": "600", "POLL_INTERVAL_SECONDS": "2"}
USER = "bench-webhooks"


class TimedListener(Listener):
    """A subscribed connection that also notes when each message arrived (epoch seconds)."""

    def __init__(self, stack: RunningStack, user: str) -> None:
        super().__init__(stack, user)
        self.arrived: list[float] = []

    async def _next(self, timeout: float | None) -> dict[str, Any]:
        message = await super()._next(timeout)
        self.arrived.append(time.time())
        return message

    def ended_at(self, video_id: str) -> float | None:
        for message, at in zip(self.messages, self.arrived, strict=False):
            if message in about([message], video_id) and message.get("type") in TERMINAL_MESSAGES:
                return at
        return None


@dataclass(frozen=True)
class Measured:
    tasks: int
    completed: int
    calls: float
    webhooks: float
    mean_delay: float
    p95_delay: float
    transitions: float


async def _run(stack: RunningStack, tasks: int) -> Measured:
    listener = TimedListener(stack, USER)
    await listener.open()
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, headers=stack.auth(USER), timeout=30) as http:
            ids = []
            for n in range(tasks):
                reply = await http.post("/tasks", json={"prompt": f"bench webhooks {n}", "model": MODELS[n % 2]})
                reply.raise_for_status()
                ids.append(reply.json()["data"]["videoId"])
            deadline = time.monotonic() + stack.video_seconds + 120
            while time.monotonic() < deadline and not all(listener.ended_at(video_id) for video_id in ids):
                await asyncio.sleep(0.2)
            tasks_now = [(await http.get(f"/tasks/{video_id}")).json()["data"] for video_id in ids]
    finally:
        await listener.close()
    served = {job["id"]: job for job in httpx.get(f"{stack.provider_url}/_fake/stats", timeout=10).json()["jobs"]}
    delays, calls, hooks = [], [], []
    for task in tasks_now:
        job = served.get(task.get("externalVideoId") or "")
        ended = listener.ended_at(task["videoId"])
        if task["status"] != "COMPLETED" or job is None or ended is None:
            continue
        delays.append(max(0.0, ended - job["readyAt"]))
        calls.append(job["statusCalls"])
        hooks.append(job["webhooksSent"])
    delays.sort()
    return Measured(
        tasks=tasks,
        completed=len(delays),
        calls=statistics.fmean(calls) if calls else math.nan,
        webhooks=statistics.fmean(hooks) if hooks else math.nan,
        mean_delay=statistics.fmean(delays) if delays else math.nan,
        p95_delay=delays[min(len(delays) - 1, math.ceil(0.95 * len(delays)) - 1)] if delays else math.nan,
        transitions=_transitions(stack, [task["videoId"] for task in tasks_now]),
    )


def _transitions(stack: RunningStack, ids: list[str]) -> float:
    return statistics.fmean(transitions(history) for history in finished_histories(stack, ids))


def measure(tasks: int) -> Measured:
    with tempfile.TemporaryDirectory() as logs:
        stack = start_stack(Path(logs), ENV)
        try:
            return asyncio.run(_run(stack, tasks))
        finally:
            stack.stop()


def report(measured: Measured) -> str:
    calls_ok = measured.calls <= TARGET_CALLS_WEBHOOK
    delay_ok = measured.mean_delay <= TARGET_MEAN_DELAY_WEBHOOK
    return "\n".join(
        [
            f"Webhooks end to end on the local stack ({measured.tasks} tasks on {', '.join(MODELS)};"
            f" {ENV['FAKE_VIDEO_SECONDS']} s jobs, fallback wait up to {ENV['POLL_WEBHOOK_MAX_SECONDS']} s)",
            f"   completed {measured.completed}/{measured.tasks}; webhooks sent per task {measured.webhooks:.2f}",
            f"   status calls per task {measured.calls:.2f}; state transitions per task {measured.transitions:.1f}",
            f"   detection delay (ready -> taskCompleted in the browser): mean {measured.mean_delay:.2f} s,"
            f" p95 {measured.p95_delay:.2f} s",
            f"   {'PASS' if calls_ok else 'MISS'} <= {TARGET_CALLS_WEBHOOK} status calls per task",
            f"   {'PASS' if delay_ok else 'MISS'} <= {TARGET_MEAN_DELAY_WEBHOOK} s mean delay",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    measured = measure(args.tasks)
    print(report(measured))
    print(json.dumps(measured.__dict__))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
