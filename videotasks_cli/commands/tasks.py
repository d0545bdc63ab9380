"""`create`, `watch`, `list`, `get`, `cancel`, `retry`: a caller's tasks."""

from __future__ import annotations

import base64
import mimetypes
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from videotasks_cli import render
from videotasks_cli.commands.common import Session, session
from videotasks_cli.exit_codes import CliError, ExitCode, exit_code_for_status
from videotasks_cli.watch import Follower, Update

# What the API takes inline as `inputReference` (docs/API.md): a data: URL of at most this many characters.
MAX_INPUT_REFERENCE_CHARS = 2048
INLINE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "video/mp4", "video/webm", "video/quicktime")
LIST_PAGE_MAX = 100  # the API's largest page; a larger --limit follows nextCursor


class Priority(StrEnum):
    high = "high"
    normal = "normal"
    low = "low"


class TaskType(StrEnum):
    VIDEO = "VIDEO"
    IMAGE = "IMAGE"


class Status(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


def sniff(data: bytes, name: str) -> str | None:
    """The media type from the file's first bytes (its name only as a last resort)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed = mimetypes.guess_type(name)[0]
    return guessed if guessed in INLINE_TYPES else None


def input_reference(image: str) -> str:
    """``--image``: an https:// URL is passed as it is; a file goes inline as a base64 data: URL, which the
    API takes up to 2048 characters (a small image); anything larger must be put at an https:// URL."""
    if image.startswith("https://"):
        return image
    path = Path(image)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CliError(f"--image {image}: {error.strerror or error}", ExitCode.USAGE) from None
    media_type = sniff(data, path.name)
    if media_type is None:
        raise CliError(f"--image {image}: not a PNG, JPEG, WebP or GIF image (nor an MP4/WebM/MOV)", ExitCode.USAGE)
    reference = f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
    if len(reference) > MAX_INPUT_REFERENCE_CHARS:
        raise CliError(
            f"--image {image} is {len(data):,} bytes: the API takes a file inline only up to about 1.5 KB "
            f"({MAX_INPUT_REFERENCE_CHARS} characters as a data: URL); put it at an https:// URL and pass "
            "--image https://…",
            ExitCode.USAGE,
        )
    return reference


class WatchDisplay:
    """A task's progress as it moves: a live bar on a terminal, JSON lines with --json, plain lines otherwise."""

    def __init__(self, output: render.Output, video_id: str) -> None:
        self.output = output
        self.video_id = video_id
        self.bar: Progress | None = None
        self.bar_task: Any = None
        self.last_status: str | None = None

    def __enter__(self) -> WatchDisplay:
        if self.output.decorated:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self.output.out,
                transient=False,
            )
            self.bar.start()
            self.bar_task = self.bar.add_task(self.video_id, total=100)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, update: Update) -> None:
        if self.output.json:
            self.output.emit({"event": "progress", **update})
        elif self.bar is not None:
            status = update["status"]
            where = f" #{update['queuePosition']}" if status == "QUEUED" and update.get("queuePosition") else ""
            done = 100 if status == "COMPLETED" else update["progress"]
            self.bar.update(self.bar_task, completed=done, description=f"{self.video_id} {status}{where}")
        elif update["status"] != self.last_status:
            self.output.out.print(f"{self.video_id} {update['status']} {update['progress']}%")
        self.last_status = update["status"]


def follow(s: Session, video_id: str) -> None:
    """Until the task ends, then the Task (JSON: the last line), and the exit code of how it ended."""
    with WatchDisplay(s.output, video_id) as display:
        task = Follower(s.api, s.ws_url, display.update, s.output.note).follow(video_id)
    s.output.emit(task, render.task_view(s.output, task))
    code = exit_code_for_status(str(task.get("status")))
    if code:
        raise typer.Exit(code)


def create(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="What to make (1-4000 characters).")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="A model id of `videotasks models`.")] = None,
    seconds: Annotated[int | None, typer.Option("--seconds", "-s", help="Video length, one the model allows.")] = None,
    size: Annotated[str | None, typer.Option("--size", help="e.g. 1280x720, one the model allows.")] = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="A reference image: an https:// URL, or a small file (sent inline, ≤ ~1.5 KB)."),
    ] = None,
    priority: Annotated[Priority | None, typer.Option("--priority", help="Where it waits in your queue.")] = None,
    task_type: Annotated[TaskType | None, typer.Option("--type", help="VIDEO (default) or IMAGE.")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow it to the end with a progress bar.")] = False,
) -> None:
    """Create a task; with --watch, follow it until it ends (exit code: how it ended)."""
    body: dict[str, Any] = {"prompt": prompt}
    optional = {"model": model, "seconds": seconds, "size": size, "priority": priority, "type": task_type}
    body.update(
        {
            name: str(value) if isinstance(value, StrEnum) else value
            for name, value in optional.items()
            if value is not None
        }
    )
    if image:
        body["inputReference"] = input_reference(image)
    with session(ctx) as s:
        task = s.api.create_task(body)
        if watch:
            if not s.output.json:
                s.output.note(f"created {task['videoId']}")
            follow(s, str(task["videoId"]))
        else:
            s.output.emit(task, render.task_view(s.output, task))


def watch(ctx: typer.Context, video_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Follow a task until it ends (exit code: 0 completed, 1 failed, 3 cancelled)."""
    with session(ctx) as s:
        follow(s, video_id)


def list_tasks(
    ctx: typer.Context,
    status: Annotated[
        Status | None, typer.Option("--status", case_sensitive=False, help="Only tasks in this status.")
    ] = None,
    task_type: Annotated[TaskType | None, typer.Option("--type", case_sensitive=False, help="VIDEO or IMAGE.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="How many, newest first.")] = 20,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Go on from a previous list's nextCursor.")] = None,
) -> None:
    """Your tasks, newest first."""
    with session(ctx) as s:
        items: list[dict[str, Any]] = []
        page: dict[str, Any] = {}
        while len(items) < limit:
            page = s.api.list_tasks(
                {
                    "status": status.value if status else None,
                    "type": task_type.value if task_type else None,
                    "limit": min(LIST_PAGE_MAX, limit - len(items)),
                    "cursor": cursor,
                }
            )
            items.extend(page.get("items") or [])
            cursor = page.get("nextCursor")
            if not page.get("hasMore") or not cursor:
                break
        result = {
            "items": items,
            "total": page.get("total"),
            "nextCursor": page.get("nextCursor"),
            "hasMore": page.get("hasMore"),
        }
        s.output.emit(result, render.task_table(s.output, items))
        if not s.output.json:
            more = f"; older: videotasks list --cursor {result['nextCursor']}" if result["hasMore"] else ""
            s.output.note(f"{len(items)} of {result['total']} tasks{more}")


def get(ctx: typer.Context, video_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """One task, with a fresh media link when it is completed."""
    with session(ctx) as s:
        task = s.api.get_task(video_id)
        s.output.emit(task, render.task_view(s.output, task))


def cancel(ctx: typer.Context, video_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Cancel a queued or running task."""
    with session(ctx) as s:
        task = s.api.cancel_task(video_id)
        s.output.emit(task, render.task_view(s.output, task))


def retry(
    ctx: typer.Context,
    video_id: Annotated[str, typer.Argument(metavar="ID")],
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow the new task to the end.")] = False,
) -> None:
    """Run a failed or cancelled task again, as a new task."""
    with session(ctx) as s:
        task = s.api.retry_task(video_id)
        if watch:
            follow(s, str(task["videoId"]))
        else:
            s.output.emit(task, render.task_view(s.output, task))
