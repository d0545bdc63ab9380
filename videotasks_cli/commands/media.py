"""`download`: a completed task's media to a file, with a progress bar, resumable."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from videotasks_cli import download as transfer
from videotasks_cli.commands.common import session
from videotasks_cli.render import Output


class TransferBar:
    """`download.Progress` as a rich bar on a terminal; silent otherwise."""

    def __init__(self, output: Output, label: str) -> None:
        self.label = label
        self.bar = (
            Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=output.out)
            if output.decorated
            else None
        )
        self.task_id = self.bar.add_task(label, total=None) if self.bar else None

    def __enter__(self) -> TransferBar:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, total: int | None, done: int) -> None:
        if self.bar is not None and self.task_id is not None:
            self.bar.update(self.task_id, total=total, completed=done)

    def advance(self, size: int) -> None:
        if self.bar is not None and self.task_id is not None:
            self.bar.advance(self.task_id, size)


def download(
    ctx: typer.Context,
    video_id: Annotated[str, typer.Argument(metavar="ID")],
    output_file: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write it (default: ./<ID>.<ext>); an interrupted run resumes."),
    ] = None,
) -> None:
    """Download a completed task's video or image; run it again to resume an interrupted download."""
    with session(ctx) as s:
        content = s.api.content(video_id)
        target = output_file or Path(transfer.default_name(video_id, str(content.get("contentType") or "")))
        if target.is_dir():
            target = target / transfer.default_name(video_id, str(content.get("contentType") or ""))
        with TransferBar(s.output, target.name) as bar:
            done = transfer.fetch(str(content["url"]), target, bar, token=s.api.token)
        result = {
            "videoId": video_id,
            "path": str(done.path),
            "bytes": done.bytes,
            "contentType": content.get("contentType"),
            "resumedFrom": done.resumed_from,
        }
        resumed = f" (resumed at {done.resumed_from:,} bytes)" if done.resumed_from else ""
        s.output.emit(result, f"{done.path}  {done.bytes:,} bytes{resumed}")
