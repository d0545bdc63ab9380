"""The limits suite of ``make reliability``: storms of concurrent creates against a user's plan limits.

* **rate-limit storm**: several users each send many creates at once against ``CREATES_PER_MINUTE``; in
  each one-minute window exactly the limit is created per user (the window the storm starts in fills up:
  the storm asks for far more), every other create is a 429 ``RATE_LIMITED`` with ``Retry-After``.
* **quota storm**: users on a plan whose daily quota holds a few videos each send many creates at once;
  exactly that many are created per user, every other create is a 429 ``QUOTA_EXCEEDED`` with
  ``Retry-After`` and the reset time in its details.

Both count under contention: every create of a user writes the same counters item, so DynamoDB cancels
overlapping transactions (the local stack does as DynamoDB does); a client sends a create that was answered
429 for that reason (``store_busy``, no details) again after its ``Retry-After``, as clients do. A limit's
429 is final. The created tasks then run to their end and are judged like every other row's (one terminal
message, media iff COMPLETED, one execution, /stats equal to the list): nothing half-written.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from bench.reliability import MODEL, Session, User, bounded
from bench.reliability_judge import Expected, Report, completes
from local.launcher import RunningStack
from videotasks.domain.admission import day_window, minute_window
from videotasks.domain.models import iso

RATE_STORM = "rate-limit storm"
QUOTA_STORM = "quota storm"
LIMITS_EXPECTATIONS: dict[str, Expected] = {
    RATE_STORM: completes("exactly the limit created per user and minute; the rest 429 RATE_LIMITED"),
    QUOTA_STORM: completes("exactly the quota's tasks created per user; the rest 429 QUOTA_EXCEEDED"),
}
RATE_LIMIT = 10  # creates per minute of the suite's stack (its default plan)
SECONDS = 10  # what each task asks for: one of the model's durations
QUOTA_TASKS = 4  # tasks a day the quota plan holds
QUOTA_PLAN = "storm-quota"
BUSY_RETRIES = 20
# Requests open at once across a storm's users: enough that each user's creates race each other, few enough
# that a two-core machine answers each before the client's timeout.
IN_FLIGHT = 48
# The storm should start with room left in its minute: a storm that spans two windows is judged per window.
MIN_SECONDS_LEFT_IN_MINUTE = 40


def limits_env(rate_limit: int = RATE_LIMIT, quota_tasks: int = QUOTA_TASKS) -> dict[str, str]:
    """The stack's settings for the suite: a small default-plan rate limit, and a plan with a small quota
    (and no practical rate limit, so its storm meets only the quota)."""
    plans = {QUOTA_PLAN: {"createsPerMinute": 100000, "videoSecondsPerDay": quota_tasks * SECONDS}}
    return {"CREATES_PER_MINUTE": str(rate_limit), "PLANS": json.dumps(plans, separators=(",", ":"))}


@dataclass
class StormTally:
    """What one user's storm got back."""

    created: list[str] = field(default_factory=list)  # createdAt of each created task
    refused: Counter[str] = field(default_factory=Counter)  # error.code of each final 429
    full: set[str] = field(default_factory=set)  # the windows (their resetsAt) a refusal said were full
    busy_resent: int = 0
    without_retry_after: int = 0
    without_reset: int = 0
    other: Counter[int] = field(default_factory=Counter)


def _storm(session: Session, user: User, creates: int, tally: StormTally) -> list[Awaitable[None]]:
    """The user's creates, as jobs to run concurrently with the other users'."""

    async def one(index: int) -> None:
        body = {"prompt": f"limits {session.run_id} {user.name} #{index}", "model": MODEL, "seconds": SECONDS}
        for _ in range(BUSY_RETRIES + 1):
            try:
                answer = await user.http.post("/tasks", json=body)
            except httpx.HTTPError as error:
                tally.other[0] += 1
                session.rows[user.row].problems.append(f"{user.name}: create failed: {error!r}")
                return
            if answer.status_code == 201:
                task = answer.json()["data"]
                tally.created.append(task["createdAt"])
                session.track(user, session.rows[user.row].expected, task["videoId"], 201)
                return
            if answer.status_code != 429:
                tally.other[answer.status_code] += 1
                return
            error = answer.json()["error"]
            if error["code"] == "RATE_LIMITED" and not error.get("details"):  # the store was busy, not a limit
                tally.busy_resent += 1
                await asyncio.sleep(float(answer.headers.get("Retry-After") or 1))
                continue
            tally.refused[error["code"]] += 1
            tally.without_retry_after += "Retry-After" not in answer.headers
            resets = (error.get("details") or [{}])[0].get("resetsAt")
            tally.without_reset += not resets
            if resets:
                tally.full.add(resets)
            return
        tally.other[429] += 1  # still busy after every resend

    return [one(index) for index in range(creates)]


def _window_of(created_at: str, per_minute: bool) -> str:
    """The window a task was counted in, named by when it resets (as a refusal names it)."""
    moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    ends = minute_window(moment)[1] if per_minute else day_window(moment)[1]
    return iso(ends)


def _judge(session: Session, user: User, tally: StormTally, *, limit: int, code: str, per_minute: bool) -> None:
    """A broken limit makes the row fail (it counts as inconsistent), with the problem spelled out."""
    row = session.rows[user.row]
    before = len(row.problems)
    counted = Counter(_window_of(created, per_minute) for created in tally.created)
    over = {window: count for window, count in counted.items() if count > limit}
    if over:
        row.problems.append(f"{user.name}: more than {limit} created in the windows ending {over}")
    # A refusal says its window was full: it must hold exactly the limit, not one task fewer.
    short = {window: counted[window] for window in tally.full if counted[window] != limit}
    if short:
        row.problems.append(f"{user.name}: refused as full, windows ending {short} hold other than {limit}")
    if not tally.full:
        row.problems.append(f"{user.name}: no create was refused; the storm never reached the limit")
    wrong = {name: count for name, count in tally.refused.items() if name != code}
    if wrong or tally.other:
        row.problems.append(f"{user.name}: unexpected answers {dict(wrong)} {dict(tally.other)}")
    if tally.without_retry_after or tally.without_reset:
        row.problems.append(
            f"{user.name}: {tally.without_retry_after} 429s without Retry-After, {tally.without_reset} without resetsAt"
        )
    row.inconsistent += len(row.problems) - before


async def _fresh_minute() -> None:
    left = 60 - datetime.now(UTC).second
    if left < MIN_SECONDS_LEFT_IN_MINUTE:
        await asyncio.sleep(left + 0.5)


async def run_limits(
    stack: RunningStack,
    *,
    users: int,
    creates: int,
    rate_limit: int = RATE_LIMIT,
    quota_tasks: int = QUOTA_TASKS,
    in_flight: int = IN_FLIGHT,
) -> Report:
    """``users`` users per storm, each sending ``creates`` creates, all users' at once with up to
    ``in_flight`` requests open (on a stack of ``limits_env``)."""
    async with Session(stack, "limits", LIMITS_EXPECTATIONS) as session:
        rate_users = await session.add_users(RATE_STORM, users)
        quota_users = await session.add_users(QUOTA_STORM, users)
        for user in quota_users:
            user.http.headers["Authorization"] = f"Bearer {stack.token(user.name, plan=QUOTA_PLAN)}"
        figures: dict[str, list[str]] = defaultdict(list)
        for row, members, limit, code, per_minute in (
            (RATE_STORM, rate_users, rate_limit, "RATE_LIMITED", True),
            (QUOTA_STORM, quota_users, quota_tasks, "QUOTA_EXCEEDED", False),
        ):
            await _fresh_minute()
            started = time.monotonic()
            tallies = [StormTally() for _ in members]
            jobs = [_storm(session, user, creates, tally) for user, tally in zip(members, tallies, strict=True)]
            await bounded((job for together in zip(*jobs, strict=True) for job in together), in_flight)
            took = time.monotonic() - started
            for user, tally in zip(members, tallies, strict=True):
                _judge(session, user, tally, limit=limit, code=code, per_minute=per_minute)
            created = [len(tally.created) for tally in tallies]
            refused = sum(tally.refused[code] for tally in tallies)
            busy = sum(tally.busy_resent for tally in tallies)
            figures[row].append(
                f"{len(members)} users x {creates} creates, {in_flight} in flight (limit {limit}): created per user "
                f"{created} in {len({w for t in tallies for w in t.full})} full windows, "
                f"{refused} x 429 {code}, {busy} busy 429s sent again; storm answered in {took:.1f} s"
            )
        for row_name, notes in figures.items():
            session.rows[row_name].notes += notes
        return await session.report()
