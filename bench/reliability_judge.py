"""The judge of the reliability runs: what became of each task, row and run, from what a run recorded.

No I/O and no clock: ``bench/reliability.py`` runs the stacks, injects the faults, times and records what
clients saw (lists, ``/stats``, WebSocket messages, S3 objects, executions), and prints; the verdicts and
figures are computed here, from those records alone, so ``tests/unit/test_reliability_judge.py`` can show
each check failing. docs/RELIABILITY.md explains what each fault is expected to end in, and why.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TERMINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED")
ALL_STATUSES = ("QUEUED", "PROCESSING", *TERMINAL_STATUSES)
TERMINAL_MESSAGE_OF = {"COMPLETED": "taskCompleted", "FAILED": "taskFailed", "CANCELLED": "taskCancelled"}
TERMINAL_MESSAGES = frozenset(TERMINAL_MESSAGE_OF.values())
TASK_MESSAGES = frozenset({"taskProgress", *TERMINAL_MESSAGES})
HEALTHY = "none"


# -- what each row expects ------------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    statuses: frozenset[str]
    code: str | None = None  # the error.code a FAILED end must carry
    why: str = ""

    @property
    def label(self) -> str:
        return "/".join(sorted(self.statuses)) + (f" {self.code}" if self.code else "")


def completes(why: str) -> Expected:
    return Expected(frozenset({"COMPLETED"}), None, why)


def fails(code: str, why: str) -> Expected:
    return Expected(frozenset({"FAILED"}), code, why)


FAULT_EXPECTATIONS: dict[str, Expected] = {
    HEALTHY: completes("the control batch: a healthy provider"),
    "5xx_burst": completes("a provider outage while polling counts as an attempt; the loop polls on"),
    "429": completes("rate limiting while polling counts as an attempt; the next poll is a poll interval later"),
    "hang": completes("the client gives up after PROVIDER_TIMEOUT_SECONDS; the next poll gets an answer"),
    "hang_status": completes(
        "a poll hangs past the Poll function's timeout; the client gives up by the invocation's deadline"
    ),
    "reset": completes("a dropped connection is transient, like a 5xx"),
    "malformed": completes("a garbled reply is treated as transient (relays garble under load)"),
    "vanish": fails("PROVIDER_JOB_LOST", "a 404 for a job we submitted means the provider lost it"),
    "stuck": fails("TIMEOUT", "MAX_POLL_ATTEMPTS (or TASK_TIMEOUT_SECONDS) ends a job that never finishes"),
    "content_flaky": completes("Archive retries ProviderTransientError (after 2 s, then 4 s)"),
    "content_gone": fails("PROVIDER_CONTENT_GONE", "a 404/410 for finished media cannot get better"),
    "content_html": fails("PROVIDER_BAD_MEDIA", "media that is not an allowed video/image type is never stored"),
    "drop_create_reply": completes("the retried Submit finds the job the lost reply named instead of making another"),
    "drop_webhook": completes("no webhook comes; the wait times out into the next poll, which finds the job done"),
}
RACE = Expected(frozenset({"COMPLETED", "CANCELLED"}), None, "CANCELLED iff the cancel answered 200")
CONCURRENT_CREATES = "concurrent creates"
CANCEL_VS_COMPLETION = "cancel vs completion"
CANCEL_VS_ARCHIVE = "cancel vs archive"
IDEMPOTENCY_STORM = "idempotency storm"
CONTENTION = "contention"
CONTENTION_EXPECTATIONS: dict[str, Expected] = {
    CONTENTION: completes(
        "conflicts are retried (repository, then the state machine); a cancelled one: CANCELLED iff it answered 200"
    ),
}
CONCURRENCY_EXPECTATIONS: dict[str, Expected] = {
    CONCURRENT_CREATES: completes("one task and one execution per create"),
    CANCEL_VS_COMPLETION: RACE,
    CANCEL_VS_ARCHIVE: RACE,
    IDEMPOTENCY_STORM: completes("one task per key; the other POSTs replay it (200) or are told to retry (409)"),
}


# -- tasks and what became of them ----------------------------------------------------------------
@dataclass
class TaskRecord:
    """One task as the run made it: its row, owner, expectation, and what the run saw of it."""

    row: str
    user: str
    expected: Expected
    video_id: str | None = None
    create_status: int | None = None
    create_error: str = ""
    answered_at: float = 0.0  # monotonic: when the create answered
    deadline: float = math.inf  # monotonic: by when it must be terminal
    ended_at: float | None = None  # monotonic: when the run first saw it terminal
    final: dict[str, Any] | None = None  # its last view in the owner's list
    cancel_status: int | None = None


OUTCOMES = ("completed", "cancelled", "failed_expected", "unexpected", "stuck", "lost")


@dataclass
class Verdict:
    outcome: str  # one of OUTCOMES
    duplicates: int = 0  # terminal messages beyond the first
    missing: bool = False  # an ended task whose owner never got a terminal message
    problems: list[str] = field(default_factory=list)  # inconsistencies, and why an outcome is unexpected

    @property
    def inconsistent(self) -> bool:
        return self.outcome != "unexpected" and bool(self.problems)


def judge(
    record: TaskRecord,
    listed: dict[str, Any] | None,
    messages: Sequence[dict[str, Any]],
    *,
    media_objects: int,
    executions: int,
    now: float,
) -> Verdict:
    """What became of one task. ``listed`` is its view in the owner's final list (None: absent),
    ``messages`` what the owner's connection received about it, ``media_objects`` how many S3 objects
    hold its media, ``executions`` how many Step Functions executions carry its name."""
    if record.create_status != 201 or record.video_id is None:
        return Verdict("unexpected", problems=[f"create answered {record.create_status}: {record.create_error}"])
    name = record.video_id
    if listed is None:
        return Verdict("lost", problems=[f"{name} is missing from {record.user}'s list"])
    status = str(listed.get("status"))
    ended_at = record.ended_at if record.ended_at is not None else now
    if status not in TERMINAL_STATUSES or ended_at > record.deadline:
        return Verdict("stuck", problems=[f"{name} is {status} past its deadline"])
    verdict = Verdict(_outcome_of(status))
    code = (listed.get("error") or {}).get("code")
    if status not in record.expected.statuses:
        verdict.outcome = "unexpected"
        verdict.problems.append(f"{name} ended {status} ({code}), expected {record.expected.label}")
    elif status == "FAILED" and record.expected.code and code != record.expected.code:
        verdict.outcome = "unexpected"
        verdict.problems.append(f"{name} failed with {code}, expected {record.expected.code}")
    ends = [index for index, message in enumerate(messages) if message.get("type") in TERMINAL_MESSAGES]
    if not ends:
        verdict.missing = True
    else:
        verdict.duplicates = len(ends) - 1
        said = messages[ends[0]].get("type")
        if said != TERMINAL_MESSAGE_OF[status]:
            verdict.problems.append(f"{name} is {status} but its terminal message was {said}")
        # A COMPLETED video's poster is told after its end, by a message of its own (taskPoster).
        allowed = TERMINAL_MESSAGES | ({"taskPoster"} if status == "COMPLETED" else set())
        after = [message.get("type") for message in messages[ends[0] + 1 :] if message.get("type") not in allowed]
        if after:
            verdict.problems.append(f"{name} sent {after} after its terminal message")
    wanted_media = 1 if status == "COMPLETED" else 0
    if media_objects != wanted_media:
        verdict.problems.append(f"{name} is {status} with {media_objects} media objects in S3")
    if executions != 1:
        verdict.problems.append(f"{name} has {executions} executions")
    return verdict


def _outcome_of(status: str) -> str:
    return {"COMPLETED": "completed", "CANCELLED": "cancelled", "FAILED": "failed_expected"}[status]


def leaked(owned: set[str], messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task messages a user's connection received about tasks that user does not own."""
    return [
        message
        for message in messages
        if message.get("type") in TASK_MESSAGES and (message.get("payload") or {}).get("videoId") not in owned
    ]


def stats_mismatch(stats: dict[str, Any], listed: Sequence[dict[str, Any]]) -> str | None:
    """Why ``/stats`` disagrees with a recount of the user's list, or None when they agree."""
    recount = Counter(str(task.get("status")) for task in listed)
    counted = {status: int((stats.get("byStatus") or {}).get(status, -1)) for status in ALL_STATUSES}
    wanted = {status: recount.get(status, 0) for status in ALL_STATUSES}
    if counted != wanted or int(stats.get("total", -1)) != len(listed):
        return f"/stats says total {stats.get('total')} {counted}, the list has {len(listed)} {wanted}"
    return None


# -- rows and the report --------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    expected: Expected
    tasks: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    missing: int = 0
    leaks: int = 0
    inconsistent: int = 0
    stats_ok: bool = True
    seconds: list[float] = field(default_factory=list)  # create answered -> seen terminal
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        bad = sum(self.outcomes[name] for name in ("unexpected", "stuck", "lost"))
        return not (bad or self.duplicates or self.missing or self.leaks or self.inconsistent) and self.stats_ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.name,
            "expected": self.expected.label,
            "tasks": self.tasks,
            **{name: self.outcomes[name] for name in OUTCOMES},
            "duplicateMessages": self.duplicates,
            "missingMessages": self.missing,
            "leaks": self.leaks,
            "inconsistent": self.inconsistent,
            "statsMatch": self.stats_ok,
            "p50Seconds": rounded(statistics.median(self.seconds)) if self.seconds else None,
            "maxSeconds": rounded(max(self.seconds)) if self.seconds else None,
            "ok": self.ok,
            "notes": self.notes,
            "problems": self.problems,
        }


def rounded(value: float) -> float:
    return round(value, 1)


COLUMNS = (
    ("row", "row"),
    ("expected", "expected"),
    ("tasks", "tasks"),
    ("completed", "completed"),
    ("cancelled", "cancelled"),
    ("failed_expected", "failed (expected code)"),
    ("unexpected", "unexpected"),
    ("stuck", "stuck"),
    ("lost", "lost"),
    ("duplicateMessages", "dup msgs"),
    ("missingMessages", "missing msgs"),
    ("leaks", "leaks"),
    ("inconsistent", "inconsistent"),
    ("statsMatch", "stats = recount"),
    ("p50Seconds", "p50 s"),
    ("maxSeconds", "max s"),
    ("ok", "result"),
)


@dataclass
class Report:
    suite: str
    rows: list[Row]
    wall_seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def row(self, name: str) -> Row:
        return next(row for row in self.rows if row.name == name)

    def render(self) -> str:
        return render([self])

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "wallSeconds": rounded(self.wall_seconds),
            "ok": self.ok,
            "notes": self.notes,
            "rows": [row.as_dict() for row in self.rows],
        }


def _cell(key: str, value: Any) -> str:
    if key == "ok":
        return "ok" if value else "FAIL"
    if key == "statsMatch":
        return "yes" if value else "NO"
    if value is None:
        return "-"
    return str(value)


def render(reports: Sequence[Report]) -> str:
    """A Markdown table of every row of every report, then the notes and the problems found."""
    rows = [row.as_dict() for report in reports for row in report.rows]
    cells = [[title for _, title in COLUMNS]] + [[_cell(key, row[key]) for key, _ in COLUMNS] for row in rows]
    widths = [max(len(line[index]) for line in cells) for index in range(len(COLUMNS))]
    numeric = [index >= 2 for index in range(len(COLUMNS))]

    def line(values: list[str]) -> str:
        padded = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (width + 1) + ":") if right else "-" * (width + 2)
            for width, right in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    out = [line(cells[0]), rule, *(line(values) for values in cells[1:]), ""]
    for report in reports:
        out.append(
            f"{report.suite}: {sum(row.tasks for row in report.rows)} tasks, wall time {report.wall_seconds:.1f} s"
        )
        out.extend(f"  {note}" for note in report.notes)
        for row in report.rows:
            out.extend(f"  {row.name}: {note}" for note in row.notes)
    problems = [f"  {row.name}: {problem}" for report in reports for row in report.rows for problem in row.problems]
    if problems:
        out.append(f"problems ({len(problems)}):")
        out.extend(problems[:60])
        if len(problems) > 60:
            out.append(f"  … and {len(problems) - 60} more")
    return "\n".join(out)


# -- a run's records, judged ----------------------------------------------------------------------
def about(messages: Iterable[Any], video_id: str) -> list[dict[str, Any]]:
    """The messages about ``video_id``."""
    return [m for m in messages if isinstance(m, dict) and (m.get("payload") or {}).get("videoId") == video_id]


@dataclass
class Seen:
    """What one user saw once the run had settled: its whole list, its ``/stats``, and every message its
    connection received (``closed_early`` says why the connection closed before the end)."""

    user: str
    row: str
    listed: list[dict[str, Any]]
    stats: dict[str, Any]
    messages: list[Any]
    closed_early: str | None = None


def tally(
    rows: Mapping[str, Row],
    records: Sequence[TaskRecord],
    seen: Sequence[Seen],
    *,
    media: Mapping[str, int],
    executions: Mapping[str, Sequence[str]],
    now: float,
) -> list[Row]:
    """Judge every task of a run into its row and return the rows that have tasks. ``media`` counts the
    S3 objects per videoId, ``executions`` lists the statuses of the executions named after each videoId,
    ``now`` is when the final lists were read (on the records' clock)."""
    users = {view.user: view for view in seen}
    listed = {view.user: {task["videoId"]: task for task in view.listed} for view in seen}
    for view in seen:
        mismatch = stats_mismatch(view.stats, view.listed)
        if mismatch:
            rows[view.row].stats_ok = False
            rows[view.row].problems.append(f"{view.user}: {mismatch}")
    mine: dict[str, set[str]] = defaultdict(set)
    for record in records:
        if record.video_id:
            mine[record.user].add(record.video_id)
    for record in records:
        view = listed[record.user].get(record.video_id or "")
        verdict = judge(
            record,
            view,
            about(users[record.user].messages, record.video_id) if record.video_id else [],
            media_objects=media.get(record.video_id or "", 0),
            executions=len(executions.get(record.video_id or "", [])),
            now=now,
        )
        row = rows[record.row]
        row.outcomes[verdict.outcome] += 1
        row.duplicates += verdict.duplicates
        row.missing += verdict.missing
        row.inconsistent += verdict.inconsistent
        row.problems += verdict.problems
        if verdict.missing:
            row.problems.append(f"{record.video_id} ended {view and view.get('status')} with no terminal message")
        if record.ended_at is not None and verdict.outcome not in ("stuck", "lost"):
            row.seconds.append(record.ended_at - record.answered_at)
    for user in seen:
        row = rows[user.row]
        strangers = set(listed[user.user]) - mine[user.user]
        if strangers:  # a storm's duplicate, or a task nobody asked for
            row.inconsistent += len(strangers)
            row.problems.append(f"{user.user} lists {len(strangers)} tasks nobody created: {sorted(strangers)[:3]}")
        leaks = leaked(set(listed[user.user]) | mine[user.user], user.messages)
        row.leaks += len(leaks)
        row.problems += [f"{user.user} heard of {(m.get('payload') or {}).get('videoId')}" for m in leaks[:5]]
        if user.closed_early:
            row.problems.append(f"{user.user}'s connection closed early: {user.closed_early}")
            row.inconsistent += 1
    return [row for row in rows.values() if row.tasks]
