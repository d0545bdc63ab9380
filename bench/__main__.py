"""`make bench`: what one task costs to run, and what each function pays at cold start.

Prints figures and ratios, never asserts them (machines here are shared and noisy):

1. Cold starts (bench/cold_start.py): every function's whole-process cold init beside the floor of
   ``import boto3`` plus one client, and what each way of authorising HTTP API calls costs.
2. Work per task, measured on the local stack from the real state machine's execution histories:
   state transitions and Lambda invocations per task, against the model the cost section uses.
3. The adaptive polling policy against the fixed 30 s loop, simulated (``bench/polling.py``).
4. Webhooks end to end on the local stack (``bench/webhooks.py``): status calls, detection delay.
5. The cost per 1,000 videos of each design at list prices, from counted operations (``bench/costs.py``).
6. Items read per list and stats request at 100 and 10,000 tasks of one user (``bench/history.py``).
7. Counters contention: one user's 200 tasks moving at once, against the local stack's conflict rules
   (``bench/contention.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cold_start, contention, costs, history, polling, webhooks
from bench.executions import finished_histories
from bench.executions import transitions as count_transitions

ROOT = Path(__file__).resolve().parents[1]


def task_histories(tasks: int, video_seconds: int, poll_seconds: int) -> list[list[dict[str, Any]]]:
    from local.launcher import start_stack

    with tempfile.TemporaryDirectory() as logs:
        stack = start_stack(
            Path(logs), {"FAKE_VIDEO_SECONDS": str(video_seconds), "POLL_INTERVAL_SECONDS": str(poll_seconds)}
        )
        try:
            with stack.http("bench-user") as http:
                ids = [
                    http.post(f"{stack.api_url}/tasks", json={"prompt": f"bench {n}"}).json()["data"]["videoId"]
                    for n in range(tasks)
                ]
                deadline = time.monotonic() + video_seconds + 20 * poll_seconds + 60
                while time.monotonic() < deadline:
                    states = [
                        http.get(f"{stack.api_url}/tasks/{video_id}").json()["data"]["status"] for video_id in ids
                    ]
                    if all(state in {"COMPLETED", "FAILED", "CANCELLED"} for state in states):
                        break
                    time.sleep(1)
            return finished_histories(stack, ids)
        finally:
            stack.stop()


def per_task(histories: list[list[dict[str, Any]]]) -> tuple[float, float]:
    transitions = [count_transitions(history) for history in histories]
    invocations = [
        sum(1 for e in history if e["type"] in {"TaskScheduled", "LambdaFunctionScheduled"}) for history in histories
    ]
    return statistics.mean(transitions), statistics.mean(invocations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=9, help="interleaved rounds of cold starts")
    parser.add_argument("--webhook-tasks", type=int, default=10, help="tasks of the webhooks bench")
    args = parser.parse_args()

    print(f"1. Cold init, whole processes side by side with the floor (median of {args.cold_runs} interleaved rounds)")
    cold = cold_start.report(args.cold_runs)

    video_seconds, poll_seconds = 6, 2
    print(
        f"\n2. Work per task on the local stack ({args.tasks} tasks, {video_seconds}s videos, poll every "
        f"{poll_seconds}s)"
    )
    transitions, invocations = per_task(task_histories(args.tasks, video_seconds, poll_seconds))
    polls = invocations - 2  # every invocation but submit and archive is a poll
    print(f"   state transitions per task: {transitions:.1f}; Lambda invocations per task: {invocations:.1f}")
    model = 4 + 3 * polls  # Submit, AfterSubmit, Archive, Done + per poll: Wait, Poll, AfterPoll
    print(f"   model: transitions = 4 + 3 x polls = {model:.1f} (measured {transitions:.1f})")

    simulated = polling.simulate()
    print("\n3. " + polling.report(simulated))
    print(f"\n4. {webhooks.report(hooked := webhooks.measure(args.webhook_tasks))}")
    print(f"\n5. {costs.report(simulated)}")
    print("\n6. Lists and stats as one user's history grows (items read per request)\n" + "\n".join(history.report()))
    print(f"\n7. Counters contention, one user moving 200 tasks at once:\n   {contention.measure().line()}")
    print(
        "\n"
        + json.dumps(
            {
                "coldStart": cold,
                "transitionsPerTask": transitions,
                "invocationsPerTask": invocations,
                "webhooks": hooked.__dict__,
                "costPerThousand": {design.name: design.per_thousand for design in costs.designs(simulated)},
            }
        )
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
