"""`videotasks import-legacy`: the old backend's task history into this service (docs/MIGRATION.md)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from videotasks_cli.exit_codes import ExitCode

if TYPE_CHECKING:  # the importer brings boto3, psycopg and the layer: loaded when the command runs, not for --help
    from videotasks_cli.legacy.importer import MediaCopier, Problem, Summary
    from videotasks_cli.legacy.schema import LegacyDatabase
    from videotasks_cli.legacy.target import Target

DEFAULT_CONCURRENCY = 8  # downloads at a time with --copy-media
SHOWN_PROBLEMS = 20  # in the table output; --json lists them all
_NAME = "videotasks import-legacy"
_SINCE = typer.Option(
    None, "--since", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="Only tasks created on or after (UTC)."
)


class _StopError(Exception):
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def import_legacy(
    ctx: typer.Context,
    database_url: str = typer.Option(
        ...,
        "--database-url",
        envvar="VIDEOTASKS_LEGACY_DATABASE_URL",
        help="postgresql://user:password@host:port/db of the old backend (or the variable, to keep the password"
        " off the command line).",
        show_envvar=True,
    ),
    local: bool = typer.Option(False, "--local", help="Write into the running `make dev` stack."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read and map every row, report; write nothing."),
    copy_media: bool = typer.Option(False, "--copy-media", help="Copy completed tasks' files into our bucket."),
    since: datetime | None = _SINCE,
    concurrency: int = typer.Option(DEFAULT_CONCURRENCY, "--concurrency", min=1, max=64, help="Parallel copies."),
) -> None:
    """Import the old backend's tasks (its PostgreSQL `video_tasks` table), ids kept; a second run changes nothing."""
    as_json = bool((ctx.obj or {}).get("json"))
    local = local or bool((ctx.obj or {}).get("local"))  # `videotasks --local import-legacy` too
    after = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since
    try:
        summary = _run(
            database_url,
            local=local,
            dry_run=dry_run,
            copy_media=copy_media,
            since=after,
            concurrency=concurrency,
            quiet=as_json,
        )
    except _StopError as stop:
        _fail(stop.code, str(stop), as_json)
    except KeyboardInterrupt:
        _fail(ExitCode.INTERRUPTED, "interrupted: tasks written so far stay; run again to finish", as_json)
    if as_json:
        print(json.dumps(summary.as_json(), ensure_ascii=False))
    else:
        _report(summary)
    raise typer.Exit(ExitCode.ROWS_FAILED if summary.failed else ExitCode.OK)


def _run(
    database_url: str,
    *,
    local: bool,
    dry_run: bool,
    copy_media: bool,
    since: datetime | None,
    concurrency: int,
    quiet: bool,
) -> Summary:
    from botocore.exceptions import BotoCoreError, ClientError

    from videotasks_cli.legacy.importer import MediaCopier
    from videotasks_cli.legacy.schema import LegacyDatabase, LegacySchemaError, LegacyUnreachableError, masked
    from videotasks_cli.legacy.target import TargetError, deployed_target, local_target

    try:
        target = local_target() if local else deployed_target()
        target.repository.stored_ids(["video_00000000-0000-4000-8000-000000000000"])  # do the tables answer?
    except TargetError as error:
        raise _StopError(ExitCode.NOT_CONFIGURED, str(error)) from None
    except (BotoCoreError, ClientError) as error:
        raise _StopError(ExitCode.UNREACHABLE, f"cannot use the tasks table: {_one_line(error)}") from None
    # Every check is made before a task is written: a bad database leaves the tables as they were.
    try:
        database = LegacyDatabase.open(database_url)
    except LegacyUnreachableError as error:
        raise _StopError(ExitCode.UNREACHABLE, str(error)) from None
    except LegacySchemaError as error:
        raise _StopError(ExitCode.WRONG_SCHEMA, f"{masked(database_url)}: {error}") from None
    copier = MediaCopier(target.media) if copy_media and not dry_run else None
    try:
        return _import(database, target, copier, dry_run=dry_run, since=since, concurrency=concurrency, quiet=quiet)
    except (BotoCoreError, ClientError) as error:
        raise _StopError(ExitCode.UNREACHABLE, f"writing stopped: {_one_line(error)}; run again to finish") from None
    finally:
        database.close()
        if copier is not None:
            copier.close()


def _import(
    database: LegacyDatabase,
    target: Target,
    copier: MediaCopier | None,
    *,
    dry_run: bool,
    since: datetime | None,
    concurrency: int,
    quiet: bool,
) -> Summary:
    import psycopg

    from videotasks.domain.models import utc_now
    from videotasks_cli.legacy.importer import Importer

    verb = "Checking" if dry_run else "Importing"
    progress = Progress(
        TextColumn(f"{verb} into {target.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=False,
    )
    try:
        with progress:
            bar = progress.add_task(verb, total=database.count(since))
            importer = Importer(
                target.repository,
                now=utc_now(),
                copier=copier,
                dry_run=dry_run,
                since=since,
                concurrency=concurrency,
                advanced=lambda rows: progress.advance(bar, rows),
            )
            return importer.run(database.rows(since))
    except psycopg.Error as error:
        raise _StopError(ExitCode.UNREACHABLE, f"the old database stopped answering: {_one_line(error)}") from None


def _report(summary: Summary) -> None:
    console = Console()
    title = "Dry run: nothing written" if summary.dry_run else "Import"
    table = Table(title=title, title_justify="left")
    table.add_column("rows read", justify="right")
    table.add_column("would import" if summary.dry_run else "imported", justify="right")
    table.add_column("skipped (already there)", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("media copied", justify="right")
    table.add_column("dead links", justify="right")
    table.add_row(
        *(
            str(value)
            for value in (
                summary.read,
                summary.imported,
                summary.skipped,
                summary.failed,
                summary.media_copied,
                summary.dead_links,
            )
        )
    )
    console.print(table)
    _problems(console, "Not imported", summary.problems)
    _problems(console, "Dead links (imported without our copy)", summary.dead)


def _problems(console: Console, title: str, problems: list[Problem]) -> None:
    if not problems:
        return
    console.print(f"{title}:")
    for problem in problems[:SHOWN_PROBLEMS]:
        console.print(f"  {problem.video_id}: {problem.reason}", markup=False, highlight=False)
    if len(problems) > SHOWN_PROBLEMS:
        console.print(f"  … and {len(problems) - SHOWN_PROBLEMS} more (--json lists them all)")


def _fail(code: ExitCode, message: str, as_json: bool) -> Any:
    if as_json:
        print(json.dumps({"error": message, "exitCode": int(code)}, ensure_ascii=False))
    print(f"{_NAME}: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
