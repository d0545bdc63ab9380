"""Outbound webhooks' reliability rows (``python -m bench.reliability --suites callbacks``), on a stack whose
retry schedule is shortened to seconds (CALLBACK_RETRY_*: 1 s doubling to 4 s, a 30 s window, a 2 s timeout).

Tasks are created with a callbackUrl on a receiver (``local/fake_receiver.py``) that, per row:

* fails the first attempts (500, 502, 503, then 200);
* times out (hangs past our timeout twice, then 200);
* answers 410 Gone (we stop: exactly one attempt, nothing retried, nothing dead-lettered);
* is down for a while (connections refused for the first ~12 s, then up on the same port);
* never recovers (500 forever: after the window the event is on the dead-letter queue).

A third of each row's tasks are cancelled at once (task.cancelled), the rest complete (task.completed). Each
row is judged as every reliability row is (every task ends as expected, stats = recount, one terminal
WebSocket message) and on what only callbacks promise: every terminal event delivered exactly once as the
receiver sees it after deduplication by webhook-id, none lost, every signature valid (``standardwebhooks``),
the 410 not retried, and the dead-letter queue holding exactly the events no attempt delivered.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.reliability_judge import Expected, Report, Row
from local.fake_receiver import Answer, Delivery, FakeReceiver
from local.launcher import RunningStack

CALLBACKS_ENV = {
    "CALLBACK_RETRY_BASE_SECONDS": "1",
    "CALLBACK_RETRY_MAX_DELAY_SECONDS": "4",
    "CALLBACK_RETRY_WINDOW_SECONDS": "30",
    "CALLBACK_TIMEOUT_SECONDS": "2",
}
DOWN_SECONDS = 12.0  # how long the "down" receiver refuses connections after the row's tasks are created
SETTLE_SECONDS = 90.0  # the window (30 s) and the last attempt, with room for a busy machine

FAILS_FIRST = "callbacks: receiver fails first attempts"
TIMES_OUT = "callbacks: receiver times out"
GONE = "callbacks: receiver answers 410"
DOWN = "callbacks: receiver down for a while"
NEVER = "callbacks: receiver never recovers"


@dataclass(frozen=True)
class Plan:
    path: str
    script: list[Answer]
    delivered: bool  # the receiver ends up taking each event (else: 410 stop, or dead letter)
    dead_lettered: bool = False
    single_attempt: bool = False


PLANS = {
    FAILS_FIRST: Plan("/fails-first", [500, 502, 503, 200], delivered=True),
    TIMES_OUT: Plan("/times-out", ["hang", "hang", 200], delivered=True),
    GONE: Plan("/gone", [410], delivered=False, single_attempt=True),
    DOWN: Plan("/down", [200], delivered=True),
    NEVER: Plan("/never", [500], delivered=False, dead_lettered=True),
}
EXPECTATIONS = {
    name: Expected(frozenset({"COMPLETED", "CANCELLED"}), None, f"{plan.path}: {plan.script}")
    for name, plan in PLANS.items()
}


@dataclass
class CallbackRow(Row):
    """A judged row that also fails on what only outbound webhooks promise."""

    violations: int = 0

    @property
    def ok(self) -> bool:
        return super().ok and not self.violations


async def run_callbacks(stack: RunningStack, *, tasks_per_row: int = 6) -> Report:
    from bench.reliability import Session

    receiver = FakeReceiver({plan.path: plan.script for plan in PLANS.values()})
    down = FakeReceiver({PLANS[DOWN].path: PLANS[DOWN].script})
    down.stop()  # refuses connections until brought back, on the same port
    try:
        async with Session(stack, "callbacks", {}) as session:
            session.rows = {name: CallbackRow(name, expected) for name, expected in EXPECTATIONS.items()}
            secrets: dict[str, str] = {}
            ids: dict[str, list[str]] = defaultdict(list)  # row -> video ids
            users = {}
            for name, plan in PLANS.items():
                [user] = await session.add_users(name, 1)
                users[name] = user
                secrets[name] = (await session.read(user, "/webhook-secret"))["secret"]
                url = (down if name == DOWN else receiver).url(plan.path)
                for index in range(tasks_per_row):
                    body = {"prompt": f"callbacks {session.run_id} {plan.path} #{index}", "callbackUrl": url}
                    answer = await session.post(user, "/tasks", 0, json=body)
                    video_id = answer.json()["data"]["videoId"] if answer.status_code == 201 else None
                    record = session.track(user, EXPECTATIONS[name], video_id, answer.status_code, answer.text[:300])
                    if video_id:
                        ids[name].append(video_id)
                        if index % 3 == 0:
                            await session.cancel(record)
            await asyncio.sleep(DOWN_SECONDS)
            down.start()
            report = await session.report()
            ended = {
                record.video_id: record.final["status"]
                for record in session.records
                if record.video_id and record.final and record.final["status"] in ("COMPLETED", "CANCELLED")
            }
            dead = await _wait_for_callbacks(stack, receiver, down, ids, ended)
            for name, plan in PLANS.items():
                seen = (down if name == DOWN else receiver).received(plan.path)
                _judge(
                    session.rows[name], plan, secrets[name], seen, {v: ended[v] for v in ids[name] if v in ended}, dead
                )
            # The "down" row proves something only if attempts did meet the closed port: the owner's deliveries
            # route must show connection errors before the delivery.
            refused = 0
            for video_id in ids[DOWN]:
                attempts = (await session.read(users[DOWN], f"/tasks/{video_id}/deliveries"))["items"]
                refused += sum(1 for attempt in attempts if attempt["error"] == "connection")
            row = session.rows[DOWN]
            row.notes.append(f"attempts refused while the receiver was down: {refused}")
            if not refused:
                row.violations += 1
                row.problems.append("no attempt met the receiver down: the row did not test what it names")
            report.rows = list(session.rows.values())
            return report
    finally:
        receiver.stop()
        down.stop()


async def _wait_for_callbacks(
    stack: RunningStack,
    receiver: FakeReceiver,
    down: FakeReceiver,
    ids: dict[str, list[str]],
    ended: dict[str, str],
) -> dict[str, list[dict[str, Any]]]:
    """Until every delivered row's events arrived and every never-recovering one is dead-lettered (or the
    settle time is over); the dead letters by videoId."""
    deadline = time.monotonic() + SETTLE_SECONDS
    dead: dict[str, list[dict[str, Any]]] = defaultdict(list)
    while True:
        for message in await asyncio.to_thread(_drain_dead_letters, stack):
            dead[message["videoId"]].append(message)
        delivered = all(
            _events_of((down if name == DOWN else receiver).received(plan.path)) >= {v for v in ids[name] if v in ended}
            for name, plan in PLANS.items()
            if plan.delivered
        )
        buried = all(v in dead for v in ids[NEVER] if v in ended)
        if (delivered and buried) or time.monotonic() > deadline:
            await asyncio.sleep(3)  # anything that should not come (a second delivery, a 410 retried) comes now
            for message in await asyncio.to_thread(_drain_dead_letters, stack):
                dead[message["videoId"]].append(message)
            return dead
        await asyncio.sleep(1)


def _events_of(seen: list[Delivery]) -> set[str]:
    found = set()
    for delivery in seen:
        try:
            found.add(json.loads(delivery.body)["data"]["videoId"])
        except (ValueError, KeyError):
            pass
    return found


def _drain_dead_letters(stack: RunningStack) -> list[dict[str, Any]]:
    sqs = stack.boto3_client("sqs")
    urls = [url for url in sqs.list_queues().get("QueueUrls", []) if "CallbackDeadLetterQueue" in url]
    messages: list[dict[str, Any]] = []
    for url in urls:
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def _judge(
    row: CallbackRow,
    plan: Plan,
    secret: str,
    seen: list[Delivery],
    ended: dict[str, str],
    dead: dict[str, list[dict[str, Any]]],
) -> None:
    bad_signatures = 0
    attempts: dict[str, list[Delivery]] = defaultdict(list)  # webhook-id -> what the receiver got
    events: dict[str, dict[str, Any]] = {}
    for delivery in seen:
        try:
            events[delivery.headers["webhook-id"]] = Webhook(secret).verify(delivery.body, delivery.headers)
        except (WebhookVerificationError, KeyError):
            bad_signatures += 1
            continue
        attempts[delivery.headers["webhook-id"]].append(delivery)
    per_task: Counter[str] = Counter(event["data"]["videoId"] for event in events.values())
    wrong_type = sum(
        1 for event in events.values() if event["type"] != f"task.{ended.get(event['data']['videoId'], '?').lower()}"
    )
    problems: list[str] = []
    if bad_signatures:
        problems.append(f"{bad_signatures} deliveries failed signature verification")
    if wrong_type:
        problems.append(f"{wrong_type} events of the wrong type")
    if twice := [video for video, count in per_task.items() if count > 1]:
        problems.append(f"{len(twice)} tasks with two distinct events (webhook-ids) for one ending")
    if plan.single_attempt and (retried := [w for w, got in attempts.items() if len(got) > 1]):
        problems.append(f"{len(retried)} events retried after 410")
    lost = [video for video in ended if video not in per_task]
    if lost:
        problems.append(f"{len(lost)} ended tasks never reached the receiver")
    buried = {video for video in ended if dead.get(video)}
    if plan.dead_lettered and (unburied := set(ended) - buried):
        problems.append(f"{len(unburied)} events not on the dead-letter queue")
    if not plan.dead_lettered and buried:
        problems.append(f"{len(buried)} events dead-lettered that should not be")
    if plan.dead_lettered and (twice_buried := [v for v in buried if len(dead[v]) > 1]):
        problems.append(f"{len(twice_buried)} events dead-lettered twice")
    row.violations += len(problems)
    row.problems += problems
    total = sum(len(got) for got in attempts.values())
    row.notes.append(
        f"events {len(ended)}, distinct at the receiver {len(per_task)}, attempts seen {total}, "
        f"bad signatures {bad_signatures}, dead-lettered {len(buried)}"
    )
