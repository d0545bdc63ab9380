"""The per-user queue's reliability rows (``python -m bench.reliability --suites queue,queue-order``), each on
a stack of its own with a small ``MAX_GENERATING_PER_USER``:

* **queue: N generating per user**: hundreds of concurrent creates from a few users; from the fake
  provider's job log (``GET /_fake/stats``: each job's ``createdAt`` and ``readyAt``), the most jobs of one
  user in progress at any instant must be at most N, and every task must end (the judge's usual checks:
  none stuck or lost, stats equal to a recount, one terminal message, one execution);
* **queue: priority order** (suite ``queue-order``, a stack with N=1): one user, a job that never finishes
  holding the slot, low, normal and high tasks created meanwhile, then the blocker cancelled: jobs must
  reach the provider high before normal before low, oldest first within a priority.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from bench.reliability_judge import Expected, Report, Row, completes
from local.launcher import RunningStack

QUEUE_CAP = "queue: N generating per user"
QUEUE_ORDER = "queue: priority order"
QUEUE_EXPECTATIONS: dict[str, Expected] = {
    QUEUE_CAP: completes("every task ends; at most N of a user's jobs at the provider at once"),
    QUEUE_ORDER: completes("jobs start high, normal, low; oldest first within a priority"),
}
QUEUE_N = 3
# 200 tasks through 3 slots per user queue for minutes: their deadline must outlast the queue.
QUEUE_ENV = {"MAX_GENERATING_PER_USER": str(QUEUE_N), "TASK_TIMEOUT_SECONDS": "900"}
# The priority row's user has one slot, so the order of its jobs is the order of the queue.
QUEUE_ORDER_ENV = {"MAX_GENERATING_PER_USER": "1", "TASK_TIMEOUT_SECONDS": "900"}
PRIORITIES = ("low", "normal", "high")


@dataclass
class QueueRow(Row):
    """A judged row that also fails on what only the queue promises (the cap, the order)."""

    violations: int = 0

    @property
    def ok(self) -> bool:
        return super().ok and not self.violations


# -- reading the provider's job log ---------------------------------------------------------------
def provider_jobs(stack: RunningStack, job_ids: Iterable[str | None]) -> list[dict[str, Any]]:
    """The fake provider's log of the jobs named ``job_ids`` (the tasks' ``externalVideoId``)."""
    wanted = {job for job in job_ids if job}
    jobs = httpx.get(f"{stack.provider_url}/_fake/stats", timeout=30, trust_env=False).json()["jobs"]
    return [job for job in jobs if job["id"] in wanted]


def max_overlap(jobs: Iterable[dict[str, Any]]) -> int:
    """The most jobs in progress at one instant, a job being in progress from ``createdAt`` to ``readyAt``
    (an end and a start at the same instant do not overlap)."""
    events = sorted(
        [(job["createdAt"], 1) for job in jobs] + [(job["readyAt"], -1) for job in jobs],
        key=lambda event: (event[0], event[1]),
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def expected_order(tasks: list[tuple[str, str]]) -> list[str]:
    """The ids of ``tasks`` ((videoId, priority), in creation order) in the order the queue serves them."""
    rank = {"high": 0, "normal": 1, "low": 2}
    return [video_id for _, video_id in sorted(((rank[p], i), v) for i, (v, p) in enumerate(tasks))]


# -- the suites -----------------------------------------------------------------------------------
async def run_queue_cap(stack: RunningStack, *, creates: int, users: int) -> Report:
    """``creates`` concurrent creates from ``users`` users; at most N of one user's jobs at once."""
    from bench.reliability import Session  # the runner imports this module: no cycle at import time

    async with Session(stack, "queue", {}) as session:
        session.rows = {QUEUE_CAP: QueueRow(QUEUE_CAP, QUEUE_EXPECTATIONS[QUEUE_CAP])}
        load_users = await session.add_users(QUEUE_CAP, users)
        started = time.monotonic()
        load = [_create(session, load_users[i % users], i, "normal") for i in range(creates)]
        made = sum(1 for record in await asyncio.gather(*load) if record.video_id)
        creates_seconds = time.monotonic() - started
        report = await session.report()
        per_user: dict[str, list[str]] = {}
        for record in session.records:
            if record.video_id:
                per_user.setdefault(record.user, []).append(record.video_id)
        await _judge_cap(session, per_user, users, creates, creates_seconds, made)
        return report


async def run_queue_order(stack: RunningStack, *, ordered: int) -> Report:
    """One user with one slot (the stack's ``MAX_GENERATING_PER_USER=1``): ``ordered`` tasks of random
    priorities wait behind a job that never finishes, which is then cancelled."""
    from bench.reliability import Session

    async with Session(stack, "queue-order", {}) as session:
        session.rows = {QUEUE_ORDER: QueueRow(QUEUE_ORDER, QUEUE_EXPECTATIONS[QUEUE_ORDER])}
        [user] = await session.add_users(QUEUE_ORDER, 1)
        # The slot is held by a job that never finishes until every waiting task exists (creating them takes
        # a while on a busy stack): then the blocker is cancelled and the queue drains in its order.
        blocker = await _create(session, user, 0, "normal", " [fault:stuck]")
        if blocker.video_id:
            await user.listener.wait_until(blocker.video_id, _started, timeout=session.task_timeout)
        picks = [random.Random(index).choice(PRIORITIES) for index in range(ordered)]
        waiting = []
        for index, priority in enumerate(picks):
            waiting.append(((await _create(session, user, index + 1, priority)).video_id, priority))
        await session.cancel(blocker)
        report = await session.report()
        await _judge_order(session, [(video_id, p) for video_id, p in waiting if video_id])
        return report


async def _create(session: Any, user: Any, index: int, priority: str, fault: str = "") -> Any:
    prompt = f"reliability {session.run_id} queue #{index}{fault}"
    body = {"prompt": prompt, "model": "sora_video2", "priority": priority}
    expected = session.rows[user.row].expected
    try:
        answer = await user.http.post("/tasks", json=body)
    except httpx.HTTPError as error:  # judged as an unexpected create, as the other suites do
        return session.track(user, expected, None, None, repr(error))
    video_id = answer.json()["data"]["videoId"] if answer.status_code == 201 else None
    return session.track(user, expected, video_id, answer.status_code, "" if video_id else answer.text[:300])


def _started(message: dict[str, Any]) -> bool:
    return message.get("payload", {}).get("status") in {"in_progress", "completed", "failed", "cancelled"}


async def _external_ids(session: Any, user: Any) -> dict[str, str | None]:
    return {task["videoId"]: task["externalVideoId"] for task in await session.list_all(user)}


async def _judge_cap(
    session: Any, per_user: dict[str, list[str]], users: int, creates: int, seconds: float, made: int
) -> None:
    row = session.rows[QUEUE_CAP]
    peaks = []
    for name, video_ids in per_user.items():
        external = await _external_ids(session, session.users[name])
        jobs = await asyncio.to_thread(provider_jobs, session.stack, (external.get(v) for v in video_ids))
        peaks.append(max_overlap(jobs))
    peak = max(peaks, default=0)
    if peak > QUEUE_N:
        row.violations += 1
        row.problems.append(f"a user had {peak} jobs at the provider at once; the cap is {QUEUE_N}")
    row.notes.append(
        f"{creates} concurrent creates from {users} users ({made} created in {seconds:.1f} s), "
        f"MAX_GENERATING_PER_USER={QUEUE_N}: most jobs of one user at the provider at once {peak} (per user: "
        f"{', '.join(map(str, peaks))})"
    )


async def _judge_order(session: Any, waiting: list[tuple[str, str]]) -> None:
    row = session.rows[QUEUE_ORDER]
    user = next(user for user in session.users.values() if user.row == QUEUE_ORDER)
    external = await _external_ids(session, user)
    by_job = {external[video_id]: video_id for video_id, _ in waiting if external.get(video_id)}
    jobs = await asyncio.to_thread(provider_jobs, session.stack, by_job)
    served = [by_job[job["id"]] for job in sorted(jobs, key=lambda job: job["createdAt"])]
    expected = expected_order(waiting)
    counts = ", ".join(f"{sum(p == name for _, p in waiting)} {name}" for name in reversed(PRIORITIES))
    if served != expected:
        row.violations += 1
        row.problems.append(f"jobs reached the provider out of priority order: {served} instead of {expected}")
    row.notes.append(
        f"{len(waiting)} tasks ({counts}) queued behind one slot: served in priority order: "
        f"{'yes' if served == expected else 'NO'}"
    )
