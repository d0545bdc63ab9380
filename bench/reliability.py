"""Reliability of the whole pipeline under provider faults and concurrency, on the real local stack.

``python -m bench.reliability`` (what ``make reliability`` runs) starts ``python -m local`` on free ports
and runs two suites against it, then prints one table:

* **faults**: a batch of tasks per fault mode of the fake provider (``[fault:NAME]`` in the prompt), and
  a control batch (``none``) on a healthy provider;
* **concurrency**: hundreds of concurrent creates from several users with ``Idempotency-Key`` storms among
  them, then cancels racing completion and the archive step;
* **contention**: the tasks of ONE user created and run all at once (every status change of every task
  updates that user's one counters item in a DynamoDB transaction), some cancelled while they run, on a
  stack of its own with ``LOCAL_DYNAMODB_CONFLICT_RATE`` cancelling a share of all transactions with
  ``TransactionConflict`` on top of the conflicts the overlapping transactions meet anyway. A create or
  cancel answered 429 is sent again after its ``Retry-After``, as a client would.
* **limits**: storms of concurrent creates against a plan's creates per minute and daily video seconds, on
  a stack of their own with small limits (``bench/reliability_limits.py``).

Every user has an HTTP client and a WebSocket connection subscribed to all of its tasks. This module runs
the stacks and records what the clients see; ``bench/reliability_judge.py`` judges every task from those
records, from the outside, as a client sees it: its status in the owner's list (``lost`` when it is
missing there, ``stuck`` when it is not terminal by its deadline: its own ``TASK_TIMEOUT_SECONDS`` plus a
few polls), its ``error.code`` against what its row expects, the terminal WebSocket messages its owner
received (exactly one, of the type matching the status), its media in S3 (an object iff COMPLETED) and
its Step Functions executions (exactly one). Per user, ``/stats`` must equal a recount of the list, the
list must hold no task nobody created, and no connection may hear of another user's task (a leak).

Times in the table are measurements of this run, never assertions. ``tests/e2e/test_reliability.py`` runs
a short variant in ``make test`` and asserts the invariants; docs/RELIABILITY.md explains what each fault
is expected to end in, and why.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.reliability_judge import (
    CANCEL_VS_ARCHIVE,
    CANCEL_VS_COMPLETION,
    CONCURRENCY_EXPECTATIONS,
    CONCURRENT_CREATES,
    CONTENTION,
    CONTENTION_EXPECTATIONS,
    FAULT_EXPECTATIONS,
    HEALTHY,
    IDEMPOTENCY_STORM,
    TERMINAL_MESSAGES,
    TERMINAL_STATUSES,
    Expected,
    Report,
    Row,
    Seen,
    TaskRecord,
    about,
    render,
    rounded,
    stats_mismatch,
    tally,
)
from bench.reliability_queue import QUEUE_ENV, QUEUE_ORDER_ENV, run_queue_cap, run_queue_order
from local import grants
from local.fake_provider import FAULTS
from local.launcher import RunningStack, StackStartError, start_stack
from videotasks.adapters.store.writes import WRITE_ATTEMPTS
from videotasks.domain.posters import is_poster_key

# A task's life takes seconds: a 3 s fake video, 1 s polls. MAX_POLL_ATTEMPTS bounds the `stuck` fault
# (it ends in TIMEOUT after that many polls) with room for the polls the transient faults waste; a short
# provider timeout makes the `hang` fault (a 30 s sleep) cost one timed-out poll instead of 20 s.
STACK_ENV = {
    "FAKE_VIDEO_SECONDS": "3",
    "POLL_INTERVAL_SECONDS": "1",
    "MAX_POLL_ATTEMPTS": "15",
    "PROVIDER_TIMEOUT_SECONDS": "5",
    "TASK_TIMEOUT_SECONDS": "120",
}
DEADLINE_POLLS = 5  # a task may end up to this many polls after its timeout (the check runs at a poll)
DEADLINE_GRACE_SECONDS = 30.0  # and a busy machine's lag
LIST_EVERY_SECONDS = 1.0
SETTLE_SECONDS = 60.0  # bound on waiting for terminal messages and executions once every task has ended
QUIET_SECONDS = 2.0  # then how long to keep listening for messages that should not come
# The counters follow the tasks through the stream (CountTasksFunction): /stats may lag the list by the stream
# pump's poll and the function's run. Bounded: a counter that never settles is still judged, and fails.
STATS_SETTLE_SECONDS = 20.0
THIRD_DOWNLOAD_AFTER_SECONDS = 4.0  # content_flaky fails two downloads; Archive retries after 2 s, then 4 s
HTTP_TIMEOUT_SECONDS = 120.0
READ_ATTEMPTS = 3
CONFLICT_RATE = 0.3  # LOCAL_DYNAMODB_CONFLICT_RATE of the contention suite's stack
BUSY_RETRIES = 10  # how many times a client sends a create or cancel again after a 429
CANCEL_EVERY = 4  # the contention suite cancels every 4th task once it has been submitted
# Every task runs on the relay's model (the OpenAI Videos shape): it reports progress, which the message
# checks follow, and takes an idempotency key and a job listing, which the lost-reply fault relies on. The
# other shapes' faults are covered by their contract tests and tests/e2e (docs/PROVIDERS.md).
MODEL = "sora_video2"


# -- the clients ----------------------------------------------------------------------------------
class Listener:
    """One WebSocket connection of a user, subscribed to all of the user's tasks, keeping every message."""

    def __init__(self, stack: RunningStack, user: str) -> None:
        self._url = f"{stack.ws_url}/?token={stack.token(user)}"
        self.messages: list[dict[str, Any]] = []
        self.garbled = 0
        self.closed_early: str | None = None
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._socket = await websockets.connect(self._url, max_size=None, open_timeout=HTTP_TIMEOUT_SECONDS)
        await self._socket.send(json.dumps({"action": "subscribe"}))
        while (await self._next(HTTP_TIMEOUT_SECONDS)).get("type") != "subscribed":
            pass
        self._reader = asyncio.create_task(self._read())

    async def _next(self, timeout: float | None) -> dict[str, Any]:
        raw = await asyncio.wait_for(self._socket.recv(), timeout=timeout)
        try:
            message = json.loads(raw)
        except ValueError:
            self.garbled += 1
            return {}
        self.messages.append(message)
        return dict(message) if isinstance(message, dict) else {}

    async def _read(self) -> None:
        try:
            while True:
                await self._next(timeout=None)
        except websockets.ConnectionClosed as closed:
            self.closed_early = repr(closed)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._socket is not None:
            await self._socket.close()

    async def wait_until(self, video_id: str, reached: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        """Whether a message about ``video_id`` satisfying ``reached`` arrives within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(reached(message) for message in self.about(video_id)):
                return True
            await asyncio.sleep(0.05)
        return False

    def about(self, video_id: str) -> list[dict[str, Any]]:
        return about(self.messages, video_id)

    def has_ended(self, video_id: str) -> bool:
        return any(message.get("type") in TERMINAL_MESSAGES for message in self.about(video_id))


@dataclass
class User:
    name: str
    row: str
    http: httpx.AsyncClient
    listener: Listener


async def bounded(jobs: Iterable[Awaitable[Any]], limit: int) -> list[Any]:
    """Await ``jobs`` with at most ``limit`` of them in flight."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with gate:
            return await job

    return list(await asyncio.gather(*(one(job) for job in jobs)))


class Session:
    """One run against a stack: its users, the tasks they create, and the final judgement."""

    def __init__(self, stack: RunningStack, suite: str, expectations: dict[str, Expected]) -> None:
        self.stack = stack
        self.suite = suite
        self.run_id = uuid.uuid4().hex[:8]
        self.users: dict[str, User] = {}
        self.records: list[TaskRecord] = []
        self.rows = {name: Row(name, expected) for name, expected in expectations.items()}
        self._exit = contextlib.AsyncExitStack()
        self._started = 0.0
        self.task_timeout = float(stack.env.get("TASK_TIMEOUT_SECONDS") or 900)
        self.poll_interval = stack.poll_interval
        self.busy_replies: Counter[str] = Counter()  # 429s answered, per route, that the client sent again

    async def __aenter__(self) -> Session:
        self._started = time.monotonic()
        await self._exit.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._exit.__aexit__(*exc)  # type: ignore[arg-type]

    async def enter(self, context: Any) -> Any:
        """Keep ``context`` (an async context manager) open until the session ends."""
        return await self._exit.enter_async_context(context)

    # arranging --------------------------------------------------------------------------------
    async def add_users(self, row: str, count: int) -> list[User]:
        """``count`` users of ``row`` alone, each connected and subscribed to all of its tasks."""
        made = []
        for index in range(count):
            name = f"rel-{self.run_id}-{_slug(row)}-{index}"
            http = httpx.AsyncClient(
                base_url=self.stack.api_url,
                headers=self.stack.auth(name),
                timeout=HTTP_TIMEOUT_SECONDS,
                trust_env=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
            await self.enter(http)
            listener = Listener(self.stack, name)
            await listener.open()
            self._exit.push_async_callback(listener.close)
            made.append(self.users.setdefault(name, User(name, row, http, listener)))
        return made

    def _deadline(self, answered_at: float) -> float:
        return answered_at + self.task_timeout + DEADLINE_POLLS * self.poll_interval + DEADLINE_GRACE_SECONDS

    def track(
        self, user: User, expected: Expected, video_id: str | None, status: int | None, error: str = ""
    ) -> TaskRecord:
        now = time.monotonic()
        record = TaskRecord(user.row, user.name, expected, video_id, status, error, now, self._deadline(now))
        self.records.append(record)
        self.rows[user.row].tasks += 1
        return record

    async def post(self, user: User, path: str, busy_retries: int, **request: Any) -> httpx.Response:
        """POST, sent again after ``Retry-After`` up to ``busy_retries`` times while it answers 429."""
        for attempt in range(busy_retries + 1):
            answer = await user.http.post(path, **request)
            if answer.status_code != 429 or attempt == busy_retries:
                break
            self.busy_replies["cancel" if path.endswith("/cancel") else "create"] += 1
            await asyncio.sleep(float(answer.headers.get("Retry-After") or 1))
        return answer

    async def create(
        self, user: User, prompt: str, expected: Expected | None = None, *, busy_retries: int = 0
    ) -> TaskRecord:
        expected = expected or self.rows[user.row].expected
        try:
            answer = await self.post(user, "/tasks", busy_retries, json={"prompt": prompt, "model": MODEL})
        except httpx.HTTPError as error:
            return self.track(user, expected, None, None, repr(error))
        video_id = answer.json()["data"]["videoId"] if answer.status_code == 201 else None
        return self.track(user, expected, video_id, answer.status_code, "" if video_id else answer.text[:300])

    async def cancel(self, record: TaskRecord, *, busy_retries: int = 0) -> None:
        """Cancel; the task must then end CANCELLED after a 200 and COMPLETED after a 409 (it had ended)."""
        user = self.users[record.user]
        try:
            answer = await self.post(user, f"/tasks/{record.video_id}/cancel", busy_retries)
            record.cancel_status = answer.status_code
        except httpx.HTTPError as error:
            self.rows[record.row].problems.append(f"cancel of {record.video_id} failed: {error!r}")
            return
        if answer.status_code == 200:
            record.expected = Expected(frozenset({"CANCELLED"}), None, "the cancel answered 200")
        elif answer.status_code == 409:
            record.expected = Expected(frozenset({"COMPLETED"}), None, "the cancel answered 409")
        else:
            self.rows[record.row].problems.append(f"cancel of {record.video_id} answered {answer.status_code}")

    # waiting ----------------------------------------------------------------------------------
    async def read(self, user: User, path: str, **params: Any) -> Any:
        """``data`` of a GET, retried a few times when the stack is too busy to answer in time."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                answer = await user.http.get(path, params=params)
                if answer.status_code < 500:
                    answer.raise_for_status()
                    return answer.json()["data"]
            except httpx.TransportError:
                if attempt == READ_ATTEMPTS:
                    raise
            await asyncio.sleep(attempt)
        answer.raise_for_status()
        return None

    async def list_all(self, user: User) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            data = await self.read(user, "/tasks", limit=100, **({"cursor": cursor} if cursor else {}))
            items += data["items"]
            cursor = data.get("nextCursor")
            if not cursor:
                return items

    async def wait_for_ends(self) -> None:
        """Poll the owners' lists until every task is terminal or past its deadline."""
        by_id = {record.video_id: record for record in self.records if record.video_id}
        while True:
            now = time.monotonic()
            waiting = [r for r in by_id.values() if r.ended_at is None and now < r.deadline]
            if not waiting:
                return
            for name in sorted({record.user for record in waiting}):
                for task in await self.list_all(self.users[name]):
                    record = by_id.get(task["videoId"])
                    if record is not None:
                        record.final = task
                        if task["status"] in TERMINAL_STATUSES and record.ended_at is None:
                            record.ended_at = time.monotonic()
            await asyncio.sleep(LIST_EVERY_SECONDS)

    async def settle(self) -> None:
        """Bounded: until every ended task's owner has its terminal message and no execution of ours still
        runs; then listen a little longer for messages that should not come."""
        ended = [r for r in self.records if r.video_id and r.ended_at is not None]
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            if all(self.users[r.user].listener.has_ended(r.video_id or "") for r in ended):
                break
            await asyncio.sleep(0.25)
        names = {r.video_id for r in self.records if r.video_id}
        while time.monotonic() < deadline:
            running = [n for n, statuses in (await self.executions()).items() if n in names and "RUNNING" in statuses]
            if not running:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(QUIET_SECONDS)

    # the AWS side -----------------------------------------------------------------------------
    async def executions(self) -> dict[str, list[str]]:
        """Statuses of every execution of every state machine, by execution name (our videoId)."""

        def read() -> dict[str, list[str]]:
            sfn = self.stack.boto3_client("stepfunctions")
            found: dict[str, list[str]] = defaultdict(list)
            for machine in sfn.list_state_machines()["stateMachines"]:
                pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
                for page in pages:
                    for execution in page["executions"]:
                        found[execution["name"]].append(execution["status"])
            return found

        return await asyncio.to_thread(read)

    async def media_objects(self) -> Counter[str]:
        """How many media objects S3 holds per videoId (keys are ``media/{videoId}.{ext}``; posters aside)."""

        def read() -> Counter[str]:
            s3 = self.stack.boto3_client("s3")
            found: Counter[str] = Counter()
            for bucket in s3.list_buckets()["Buckets"]:
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"], Prefix="media/"):
                    for item in page.get("Contents", []):
                        if is_poster_key(item["Key"]):  # a video's poster frame goes with it, not counted apart
                            continue
                        found[item["Key"].split("/", 1)[1].rsplit(".", 1)[0]] += 1
            return found

        return await asyncio.to_thread(read)

    # judging ----------------------------------------------------------------------------------
    async def report(self, notes: Sequence[str] = ()) -> Report:
        await self.wait_for_ends()
        await self.settle()
        now = time.monotonic()
        executions = await self.executions()
        media = await self.media_objects()
        answers = [await self.settled_view(user) for user in self.users.values()]
        seen = [
            Seen(user.name, user.row, tasks, stats, user.listener.messages, user.listener.closed_early)
            for user, tasks, stats in answers
        ]
        rows = tally(self.rows, self.records, seen, media=media, executions=executions, now=now)
        return Report(self.suite, rows, time.monotonic() - self._started, list(notes))

    async def settled_view(self, user: Any) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
        """The user's whole list and ``/stats``, read again until they agree or ``STATS_SETTLE_SECONDS`` pass
        (the counters are eventually consistent, within seconds); the last reading is what gets judged."""
        deadline = time.monotonic() + STATS_SETTLE_SECONDS
        while True:
            listed, stats = await self.list_all(user), await self.read(user, "/stats")
            if stats_mismatch(stats, listed) is None or time.monotonic() >= deadline:
                return user, listed, stats
            await asyncio.sleep(0.5)


def _submitted(message: dict[str, Any]) -> bool:
    return (message.get("payload") or {}).get("status") not in (None, "queued")


def _slug(text: str) -> str:
    return "".join(char if char.isalnum() else "-" for char in text.lower()).strip("-")


# -- the suites -----------------------------------------------------------------------------------
async def run_faults(
    stack: RunningStack, *, faults: Sequence[str], tasks_per_fault: int, users_per_row: int = 2, in_flight: int = 32
) -> Report:
    """A batch of tasks per fault mode (and ``none``, the control), all at once."""
    unknown = [fault for fault in faults if fault not in FAULT_EXPECTATIONS]
    if unknown:
        raise ValueError(f"no expectation for faults {unknown}; known: {sorted(FAULT_EXPECTATIONS)}")
    async with Session(stack, "faults", {fault: FAULT_EXPECTATIONS[fault] for fault in faults}) as session:
        creates = []
        for fault in faults:
            users = await session.add_users(fault, users_per_row)
            tag = "" if fault == HEALTHY else f" [fault:{fault}]"
            for index in range(tasks_per_fault):
                prompt = f"reliability {session.run_id} {fault} #{index}{tag}"
                creates.append(session.create(users[index % len(users)], prompt))
        await bounded(creates, in_flight)
        return await session.report()


class ProviderWatcher:
    """Watches the fake provider's job list for a job's downloads; jobs are found by their unique prompt."""

    def __init__(self, stack: RunningStack, http: httpx.AsyncClient) -> None:
        self._url = f"{stack.provider_url}/fake/jobs"
        self._http = http
        self._waiting: dict[str, tuple[int, asyncio.Future[float]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def download(self, prompt: str, number: int, timeout: float) -> float | None:
        """When (monotonic) the job of ``prompt`` asked for its content the ``number``-th time; None if it did
        not within ``timeout``."""
        future = asyncio.get_running_loop().create_future()
        self._waiting[prompt] = (number, future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(prompt, None)

    async def _watch(self) -> None:
        while self._waiting:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                jobs = (await self._http.get(self._url)).json()["jobs"]
                now = time.monotonic()
                for job in jobs:
                    number, future = self._waiting.get(job.get("prompt"), (0, None))
                    if future is not None and not future.done() and job.get("calls", {}).get("content", 0) >= number:
                        future.set_result(now)
            await asyncio.sleep(0.1)


async def run_concurrency(
    stack: RunningStack,
    *,
    creates: int,
    users: int,
    races: int,
    archive_races: int,
    storms: int,
    storm_size: int,
) -> Report:
    """Concurrent creates and idempotency storms all at once, then the cancel races."""
    async with Session(stack, "concurrency", CONCURRENCY_EXPECTATIONS) as session:
        load_users = await session.add_users(CONCURRENT_CREATES, users) if creates else []
        race_users = await session.add_users(CANCEL_VS_COMPLETION, 2) if races else []
        archive_users = await session.add_users(CANCEL_VS_ARCHIVE, 2) if archive_races else []
        storm_users = await session.add_users(IDEMPOTENCY_STORM, storms) if storms else []
        provider = await session.enter(httpx.AsyncClient(timeout=30.0, trust_env=False))
        watcher = ProviderWatcher(stack, provider)

        async def race(index: int) -> None:
            user = race_users[index % 2]
            record = await session.create(user, f"reliability {session.run_id} race #{index}")
            if not record.video_id:
                return
            # Timed from the task's own life, not the clock (a loaded stack is slow): from its submission, over
            # the provider's video time, to after its end.
            await user.listener.wait_until(record.video_id, _submitted, timeout=session.task_timeout)
            await asyncio.sleep((stack.video_seconds + 2 * stack.poll_interval) * index / max(1, races - 1))
            await session.cancel(record)

        async def archive_race(index: int) -> None:
            prompt = f"reliability {session.run_id} archive #{index} [fault:content_flaky]"
            record = await session.create(archive_users[index % 2], prompt)
            if not record.video_id:
                return
            # content_flaky fails two downloads; Archive tries the third one 4 s after the second. Cancel
            # around it: before it reads the task, while it copies the media to S3, after it completed.
            second = await watcher.download(prompt, 2, timeout=session.task_timeout)
            if second is None:
                session.rows[CANCEL_VS_ARCHIVE].notes.append(f"{record.video_id} was not downloaded twice")
                second = time.monotonic() - THIRD_DOWNLOAD_AFTER_SECONDS
            offset = -1.0 + 2.0 * index / max(1, archive_races - 1)
            await asyncio.sleep(max(0.0, second + THIRD_DOWNLOAD_AFTER_SECONDS + offset - time.monotonic()))
            await session.cancel(record)

        async def storm(index: int) -> None:
            user = storm_users[index]
            key = f"storm-{session.run_id}-{index}"
            body = {"prompt": f"reliability {session.run_id} storm #{index}", "model": MODEL}
            replies = await asyncio.gather(
                *(user.http.post("/tasks", json=body, headers={"Idempotency-Key": key}) for _ in range(storm_size)),
                return_exceptions=True,
            )
            codes = Counter(
                reply.status_code if isinstance(reply, httpx.Response) else repr(reply) for reply in replies
            )
            ids = {
                reply.json()["data"]["videoId"]
                for reply in replies
                if isinstance(reply, httpx.Response) and reply.status_code in (200, 201)
            }
            row = session.rows[IDEMPOTENCY_STORM]
            row.notes.append(
                f"storm #{index}: {storm_size} POSTs, one key -> "
                + ", ".join(f"{n}x {c}" for c, n in sorted(codes.items(), key=str))
            )
            if codes.get(201) != 1 or len(ids) != 1 or set(codes) - {200, 201, 409}:
                row.problems.append(f"storm #{index}: replies {dict(codes)} named {len(ids)} tasks")
                row.inconsistent += 1
            for video_id in sorted(ids):
                session.track(user, row.expected, video_id, 201)

        started = time.monotonic()
        load = [
            session.create(load_users[index % users], f"reliability {session.run_id} load #{index}")
            for index in range(creates)
        ]
        await asyncio.gather(asyncio.gather(*load), *(storm(index) for index in range(storms)))
        creates_seconds = time.monotonic() - started
        # The races are timed from each task's own life; on a stack still busy with the load, that life
        # stretches so far that every cancel would land early. They start once the load has ended.
        await session.wait_for_ends()
        await asyncio.gather(
            *(race(index) for index in range(races)), *(archive_race(index) for index in range(archive_races))
        )
        report = await session.report()
        report.notes.append(
            f"{creates} concurrent creates from {users} users and {storms} storms of {storm_size} POSTs "
            f"answered within {creates_seconds:.1f} s; the cancel races ran after them"
        )
        for name in (CANCEL_VS_COMPLETION, CANCEL_VS_ARCHIVE):
            replies = Counter(r.cancel_status for r in session.records if r.row == name)
            if replies:
                session.rows[name].notes.append(
                    "cancel replies: " + ", ".join(f"{n}x {c}" for c, n in sorted(replies.items(), key=str))
                )
        lost_races = stack.log().count("archive lost the race to another ending")
        report.notes.append(
            f"archive steps that lost the race to a cancel and removed their copy (stack log): {lost_races}"
        )
        report.notes += busy_store_notes(stack)  # conflicts the overlapping transactions met, nothing injected
        return report


async def run_contention(stack: RunningStack, *, tasks: int) -> Report:
    """``tasks`` tasks of one user created at once and run together, every ``CANCEL_EVERY``-th cancelled once
    submitted, on a stack whose DynamoDB cancels transactions with ``TransactionConflict``."""
    async with Session(stack, "contention", CONTENTION_EXPECTATIONS) as session:
        [user] = await session.add_users(CONTENTION, 1)

        async def one(index: int) -> None:
            prompt = f"reliability {session.run_id} contention #{index}"
            record = await session.create(user, prompt, busy_retries=BUSY_RETRIES)
            if record.video_id and index % CANCEL_EVERY == CANCEL_EVERY - 1:
                await user.listener.wait_until(record.video_id, _submitted, timeout=session.task_timeout)
                await session.cancel(record, busy_retries=BUSY_RETRIES)

        await asyncio.gather(*(one(index) for index in range(tasks)))
        report = await session.report()
        rate = stack.env.get("LOCAL_DYNAMODB_CONFLICT_RATE", "0")
        busy = ", ".join(f"{count}x on {route}" for route, count in sorted(session.busy_replies.items()))
        replies = Counter(r.cancel_status for r in session.records if r.cancel_status is not None)
        session.rows[CONTENTION].notes += [
            f"LOCAL_DYNAMODB_CONFLICT_RATE={rate}; 429 answers sent again: {busy or 'none'}",
            "cancel replies: " + (", ".join(f"{n}x {c}" for c, n in sorted(replies.items(), key=str)) or "none"),
        ]
        report.notes += busy_store_notes(stack)
        return report


def busy_store_notes(stack: RunningStack) -> list[str]:
    """How often DynamoDB refused a write for a moment during the run (the repository logs each refusal)."""
    log = stack.log()
    absorbed = log.count("DynamoDB refused a write for a moment; trying again")
    given_up = log.count("DynamoDB stayed busy; the write is given up for now")
    return [
        f"DynamoDB writes refused for a moment and tried again by the repository (stack log): {absorbed};"
        f" still refused after {WRITE_ATTEMPTS} attempts, raised as TaskStoreBusyError (a 429, or a step the"
        f" state machine retried): {given_up}"
    ]


# -- the command ----------------------------------------------------------------------------------
LONG = {"tasks": 20, "creates": 200, "users": 10, "races": 20, "archive_races": 10, "storms": 5, "storm_size": 50}
LONG_CONTENTION = 60


SUITES = ("faults", "concurrency", "contention", "limits", "queue", "queue-order", "callbacks")
LONG_LIMITS = {"users": 5, "creates": 100}
QUEUE_LONG = {"creates": 200, "users": 4, "ordered": 12}  # bench/reliability_queue.py


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", default=",".join(SUITES), help=f"comma-separated: {', '.join(SUITES)}")
    parser.add_argument("--faults", default=",".join([HEALTHY, *FAULTS]), help="comma-separated fault modes")
    parser.add_argument("--tasks", type=int, default=LONG["tasks"], help="tasks per fault")
    parser.add_argument("--creates", type=int, default=LONG["creates"], help="concurrent creates")
    parser.add_argument("--users", type=int, default=LONG["users"], help="users sharing the concurrent creates")
    parser.add_argument("--races", type=int, default=LONG["races"], help="cancels racing completion")
    parser.add_argument("--archive-races", type=int, default=LONG["archive_races"], help="cancels racing the archive")
    parser.add_argument("--storms", type=int, default=LONG["storms"], help="Idempotency-Key storms")
    parser.add_argument("--storm-size", type=int, default=LONG["storm_size"], help="concurrent POSTs per storm")
    parser.add_argument("--contention-tasks", type=int, default=LONG_CONTENTION, help="tasks of the one contended user")
    parser.add_argument(
        "--conflict-rate", type=float, default=CONFLICT_RATE, help="LOCAL_DYNAMODB_CONFLICT_RATE of its stack"
    )
    parser.add_argument("--limit-users", type=int, default=LONG_LIMITS["users"], help="users per limits storm")
    parser.add_argument("--limit-creates", type=int, default=LONG_LIMITS["creates"], help="creates per storm user")
    parser.add_argument("--queue-creates", type=int, default=QUEUE_LONG["creates"], help="queue: concurrent creates")
    parser.add_argument("--task-timeout", type=int, default=300, help="TASK_TIMEOUT_SECONDS of the stack")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    suites = [name.strip() for name in args.suites.split(",") if name.strip()]
    faults = [name.strip() for name in args.faults.split(",") if name.strip()]
    if unknown := set(suites) - set(SUITES):
        parser.error(f"unknown suites {sorted(unknown)}")
    if unknown := set(faults) - set(FAULT_EXPECTATIONS):
        parser.error(f"unknown faults {sorted(unknown)}; known: {', '.join(FAULT_EXPECTATIONS)}")

    log_dir = Path(tempfile.mkdtemp(prefix="videotasks-reliability-"))
    started = time.monotonic()
    base_env = {**STACK_ENV, "TASK_TIMEOUT_SECONDS": str(args.task_timeout)}
    # The contention suite needs conflicts injected into every transaction of its stack: a stack of its own.
    envs = dict.fromkeys(SUITES, base_env)
    envs["contention"] = {**base_env, "LOCAL_DYNAMODB_CONFLICT_RATE": str(args.conflict_rate)}
    from bench import reliability_callbacks, reliability_limits  # they build on this module's Session

    envs["limits"] = {**base_env, **reliability_limits.limits_env()}
    envs["queue"] = {**base_env, **QUEUE_ENV}  # its own cap, and a deadline that outlasts its queues
    envs["queue-order"] = {**base_env, **QUEUE_ORDER_ENV}
    envs["callbacks"] = {**base_env, **reliability_callbacks.CALLBACKS_ENV}  # retries within seconds
    stacks: dict[tuple[tuple[str, str], ...], RunningStack] = {}
    runs: dict[str, Callable[[RunningStack], Awaitable[Report]]] = {
        "faults": lambda stack: run_faults(stack, faults=faults, tasks_per_fault=args.tasks),
        "concurrency": lambda stack: run_concurrency(
            stack,
            creates=args.creates,
            users=args.users,
            races=args.races,
            archive_races=args.archive_races,
            storms=args.storms,
            storm_size=args.storm_size,
        ),
        "contention": lambda stack: run_contention(stack, tasks=args.contention_tasks),
        "limits": lambda stack: reliability_limits.run_limits(
            stack, users=args.limit_users, creates=args.limit_creates
        ),
        "queue": lambda stack: run_queue_cap(stack, creates=args.queue_creates, users=QUEUE_LONG["users"]),
        "queue-order": lambda stack: run_queue_order(stack, ordered=QUEUE_LONG["ordered"]),
        "callbacks": reliability_callbacks.run_callbacks,
    }
    reports: list[Report] = []
    crashed = False
    try:
        for suite in suites:
            key = tuple(sorted(envs[suite].items()))
            if key not in stacks:
                for stack in stacks.values():  # one stack at a time on the machine
                    stack.stop()
                launched = time.monotonic()
                try:
                    stacks[key] = start_stack(log_dir, envs[suite])
                except StackStartError as error:
                    print(error, file=sys.stderr)
                    return 2
                settings = ", ".join(f"{name}={value}" for name, value in envs[suite].items())
                print(
                    f"local stack up in {time.monotonic() - launched:.1f} s ({settings}); log: {stacks[key].log_path}",
                    flush=True,
                )
            try:
                reports.append(asyncio.run(runs[suite](stacks[key])))  # type: ignore[arg-type]
            except Exception:  # report what the other suites found all the same
                traceback.print_exc()
                crashed = True
                continue
            print(f"{suite} done in {reports[-1].wall_seconds:.1f} s", flush=True)
    finally:
        for stack in stacks.values():
            stack.stop()
    print()
    print(render(reports))
    # Faults and races reach error paths the e2e tests rarely do: their AWS calls are checked against the
    # grants too (an ungranted call is an AccessDenied in AWS), and the unused grants listed.
    calls = grants.read([stack.call_log_path for stack in stacks.values() if stack.call_log_path.exists()])
    print("\nIAM: the functions' AWS calls against their grants (python -m local.grants)")
    print(grants.render(calls))
    total = time.monotonic() - started
    print(f"\nwhole run (stack start and stop included): {total:.1f} s")
    if args.json:
        args.json.write_text(
            json.dumps({"wallSeconds": rounded(total), "reports": [r.as_dict() for r in reports]}, indent=2)
        )
    ok = not crashed and all(report.ok for report in reports) and not calls.ungranted()
    if ok:
        print("every row ok")
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        logs = ", ".join(str(stack.log_path) for stack in stacks.values())
        print(f"some rows FAILED; the stacks' logs: {logs}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
