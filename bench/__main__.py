"""`make bench`: what one task costs to run, and what each function pays at cold start.

Prints figures and ratios, never asserts them (machines here are shared and noisy):

1. Cold starts (bench/cold_start.py): every function's whole-process cold init beside the floor of
   ``import boto3`` plus one client, and what each way of authorising HTTP API calls costs.
2. Work per task, measured on the local stack from the real state machine's execution histories:
   state transitions and Lambda invocations per task, and what they cost per 1000 tasks at list prices,
   for our wait loop versus polling at a fixed short interval.
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

from bench import cold_start

ROOT = Path(__file__).resolve().parents[1]
# AWS list prices, us-east-1, as published in 2026: Step Functions Standard per state transition, Lambda
# arm64 per request and per GB-second. Only ratios between designs depend on nothing but counts.
PRICE_PER_TRANSITION = 0.025 / 1000
PRICE_PER_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_SECOND_ARM = 0.0000133334
ASSUMED_STEP_SECONDS = 0.25  # a poll or submit step: one HTTPS call and one DynamoDB write


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
            sfn = stack.boto3_client("stepfunctions")
            machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
            histories = []
            for video_id in ids:
                arn = machine.replace(":stateMachine:", ":execution:") + f":{video_id}"
                for _ in range(30):  # the execution finishes just after the task's last write
                    if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                        break
                    time.sleep(0.5)
                histories.append(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])
            return histories
        finally:
            stack.stop()


def per_task(histories: list[list[dict[str, Any]]]) -> tuple[float, float]:
    transitions = [sum(1 for e in history if e["type"].endswith("StateEntered")) for history in histories]
    invocations = [
        sum(1 for e in history if e["type"] in {"TaskScheduled", "LambdaFunctionScheduled"}) for history in histories
    ]
    return statistics.mean(transitions), statistics.mean(invocations)


def cost_per_thousand(transitions: float, invocations: float, memory_gb: float = 0.5) -> float:
    lambda_cost = invocations * (PRICE_PER_LAMBDA_REQUEST + ASSUMED_STEP_SECONDS * memory_gb * PRICE_PER_GB_SECOND_ARM)
    return 1000 * (transitions * PRICE_PER_TRANSITION + lambda_cost)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=9, help="interleaved rounds of cold starts")
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

    print("\n3. What the poll interval costs: 1000 tasks of a 60 s video, at list prices")
    print("   (Step Functions Standard + Lambda arm64, 512 MB, 0.25 s per step; the model above)")
    rows = []
    for label, interval in (
        ("ours: wait loop, 30 s polls (cloud default)", 30),
        ("polling every 5 s", 5),
        ("polling every 1 s", 1),
    ):
        n_polls = -(-60 // interval)
        cost = cost_per_thousand(4 + 3 * n_polls, 2 + n_polls)
        rows.append((label, n_polls, cost))
    base = rows[0][2]
    for label, n_polls, cost in rows:
        print(f"   {label:<44} {n_polls:3d} polls  ${cost:7.4f}  ({cost / base:4.1f}x)")
    print("\n" + json.dumps({"coldStart": cold, "transitionsPerTask": transitions, "invocationsPerTask": invocations}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
