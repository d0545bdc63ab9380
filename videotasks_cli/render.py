"""Everything the command line prints: one JSON object per line for scripts (`--json`), else rich tables.

Human output is plain (no colour, no box) when stdout is not a terminal, and wide enough not to wrap ids.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

STATUS_STYLES = {
    "QUEUED": "dim",
    "PROCESSING": "cyan",
    "COMPLETED": "green",
    "FAILED": "red",
    "CANCELLED": "yellow",
}
PROMPT_WIDTH = 48
PLAIN_WIDTH = 200  # not a terminal: long lines rather than wrapped ids and URLs


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    # Not the terminal's COLUMNS: a script gets the same lines wherever it runs.
    return Console(stderr=stderr, width=PLAIN_WIDTH, color_system=None, highlight=False, emoji=False)


def json_line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Output:
    """``--json`` or not, for one command's run."""

    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode
        self.out = console()
        self.err = console(stderr=True)

    @property
    def decorated(self) -> bool:
        """Live bars and colours only on a terminal, and never in JSON mode."""
        return not self.json and self.out.is_terminal

    def emit(self, value: Any, human: RenderableType | str | None = None) -> None:
        """One result: its JSON on one line, or its human rendering."""
        if self.json:
            sys.stdout.write(json_line(value) + "\n")
            sys.stdout.flush()
        elif human is not None:
            # Off a terminal nothing is wrapped: a URL or an id stays on its line for copy and grep.
            self.out.print(human, soft_wrap=not self.out.is_terminal)

    def note(self, text: str) -> None:
        """A remark for people (a fallback taken, a file written); stderr, so stdout stays the results."""
        self.err.print(Text(text, style="dim" if self.err.is_terminal else ""), soft_wrap=True)

    def table(self, *columns: str) -> Table:
        decorated = self.out.is_terminal
        table = Table(
            *columns,
            box=box.SIMPLE_HEAD if decorated else None,
            show_edge=False,
            header_style="bold" if decorated else "",
            pad_edge=False,
        )
        return table


# values ----------------------------------------------------------------------------------------
def status_text(status: str | None) -> Text:
    word = (status or "-").upper()
    return Text(word, style=STATUS_STYLES.get(word, ""))


def when(value: str | None) -> str:
    """An API timestamp in the terminal's time zone, to the second."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def shorten(text: str | None, width: int = PROMPT_WIDTH) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def progress_text(task: Mapping[str, Any]) -> str:
    status = str(task.get("status") or "").upper()
    if status == "QUEUED" and task.get("queuePosition"):
        return f"#{task['queuePosition']} in queue"
    return f"{task.get('progress') or 0}%"


# renderings ------------------------------------------------------------------------------------
def task_view(output: Output, task: Mapping[str, Any]) -> RenderableType:
    error = task.get("error") or {}
    rows: list[tuple[str, str | Text | None]] = [
        ("videoId", task.get("videoId")),
        ("status", status_text(task.get("status"))),
        ("progress", progress_text(task)),
        ("type", task.get("type")),
        ("model", task.get("model")),
        ("seconds", str(task["seconds"]) if task.get("seconds") is not None else None),
        ("size", task.get("size")),
        ("priority", task.get("priority")),
        ("prompt", task.get("prompt")),
        ("created", when(task.get("createdAt"))),
        ("completed", when(task.get("completedAt")) if task.get("completedAt") else None),
        ("error", f"{error.get('code')}: {error.get('message')}" if error else None),
        ("retryOf", task.get("retryOf")),
        ("remixOf", task.get("remixOf")),
        ("externalTaskId", task.get("externalTaskId")),
        ("videoUrl", task.get("videoUrl")),
    ]
    shown = [(name, value) for name, value in rows if value]
    if not output.out.is_terminal:  # plain `name  value` lines: a URL stays whole for copy and grep
        return Text("\n".join(f"{name:<15} {value}" for name, value in shown))
    grid = output.table("field", "value")
    grid.show_header = False
    grid.columns[1].overflow = "fold"
    for name, value in shown:
        grid.add_row(name, value)
    return grid


def task_table(output: Output, tasks: Iterable[Mapping[str, Any]]) -> Table:
    table = output.table("videoId", "status", "progress", "type", "model", "created", "prompt")
    # An id is what the other commands take: never cut it; the prompt gives way instead.
    for column in table.columns[:-1]:
        column.no_wrap = True
    table.columns[0].min_width = len("video_00000000-0000-4000-8000-000000000000")
    table.columns[-1].overflow = "ellipsis"
    for task in tasks:
        table.add_row(
            str(task.get("videoId")),
            status_text(task.get("status")),
            progress_text(task),
            str(task.get("type") or "-"),
            str(task.get("model") or "-"),
            when(task.get("createdAt")),
            shorten(task.get("prompt")),
        )
    return table


def stats_view(output: Output, stats: Mapping[str, Any]) -> Table:
    table = output.table("", "tasks")
    by_status = stats.get("byStatus") or {}
    for status, count in by_status.items():
        table.add_row(status_text(status), str(count))
    table.add_row("total", str(stats.get("total", 0)))
    table.add_row("last 24 hours", str(stats.get("last24Hours", 0)))
    for kind, count in (stats.get("byType") or {}).items():
        table.add_row(kind, str(count))
    rate = stats.get("successRate")
    table.add_row("success rate", "-" if rate is None else f"{rate:.1%}")
    average = stats.get("averageGenerationSeconds")
    table.add_row("average generation", "-" if average is None else f"{average:.1f} s")
    return table


def models_view(output: Output, catalog: Mapping[str, Any]) -> Table:
    table = output.table("model", "type", "provider", "seconds", "sizes", "can", "default")
    defaults = {catalog.get("default"), catalog.get("defaultImage")}
    for model in catalog.get("items") or []:
        capabilities = [name for name, able in (model.get("capabilities") or {}).items() if able]
        table.add_row(
            str(model.get("id")),
            str(model.get("type") or "-"),
            str(model.get("provider") or "-"),
            ", ".join(map(str, model.get("seconds") or [])) or "-",
            ", ".join(model.get("sizes") or []) or "-",
            ", ".join(capabilities) or "-",
            "yes" if model.get("id") in defaults else "",
        )
    return table


USAGE_ROWS = (
    ("tasks generating at once", "generating", "maxGenerating", None),
    ("creates this minute", "createsThisMinute", "createsPerMinute", "createsPerMinute"),
    ("video seconds today", "videoSecondsToday", "videoSecondsPerDay", "videoSecondsPerDay"),
)


def usage_view(output: Output, usage: Mapping[str, Any]) -> Table:
    table = output.table(f"plan: {usage.get('plan', '-')}", "used", "limit", "resets")
    used, limits, resets = usage.get("usage") or {}, usage.get("limits") or {}, usage.get("resets") or {}
    for label, used_key, limit_key, reset_key in USAGE_ROWS:
        reset = when(resets.get(reset_key)) if reset_key else "-"
        table.add_row(label, str(used.get(used_key, "-")), str(limits.get(limit_key, "-")), reset)
    table.add_row("tasks waiting", str(used.get("queued", "-")), "-", "-")
    return table
