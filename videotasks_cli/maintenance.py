"""`videotasks backfill-list-keys`: the filtered listings' keys on tasks stored before they existed, run once
after upgrading to the release that added the ``ByUserFilter`` index (docs/DEPLOYMENT.md). Direct AWS access, as
`import-legacy`: the deployed stack's TASKS_TABLE (and the other variables the target reads), or `--local`."""

from __future__ import annotations

import json
from typing import Any

import typer

from videotasks_cli.exit_codes import ExitCode

_RESUME_HELP = "Go on from where a stopped run reached (the JSON it printed as `resume`)."


def backfill_list_keys(
    ctx: typer.Context,
    local: bool = typer.Option(False, "--local", help="Key the running `make dev` stack's tasks."),
    resume: str | None = typer.Option(None, "--resume", help=_RESUME_HELP),
    page_size: int = typer.Option(200, "--page-size", min=1, max=1000, help="Items read per page."),
) -> None:
    """Give every stored task the keys filtered listings read (idempotent: a second run keys nothing)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from videotasks_cli.legacy.target import TargetError, deployed_target, local_target

    as_json = bool((ctx.obj or {}).get("json"))
    local = local or bool((ctx.obj or {}).get("local"))
    try:
        start: dict[str, Any] | None = json.loads(resume) if resume else None
    except json.JSONDecodeError:
        _finish(ExitCode.USAGE, {"error": "--resume takes the JSON a stopped run printed"}, as_json)
    totals = {"scanned": 0, "keyed": 0, "moved": 0}
    try:
        repository = (local_target() if local else deployed_target()).repository
        while True:
            page = repository.backfill_list_keys(start, limit=page_size)
            totals = {
                "scanned": totals["scanned"] + page.scanned,
                "keyed": totals["keyed"] + page.keyed,
                "moved": totals["moved"] + page.moved,
            }
            start = page.next_start
            if start is None:
                break
            if not as_json:
                typer.echo(f"{totals['scanned']} read, {totals['keyed']} keyed", err=True)
    except TargetError as error:
        _finish(ExitCode.NOT_CONFIGURED, {"error": str(error)}, as_json)
    except (BotoCoreError, ClientError) as error:
        stopped = {"error": f"stopped: {str(error).splitlines()[0]}", **totals, "resume": json.dumps(start)}
        _finish(ExitCode.UNREACHABLE, stopped, as_json)
    except KeyboardInterrupt:
        _finish(ExitCode.INTERRUPTED, {"error": "interrupted", **totals, "resume": json.dumps(start)}, as_json)
    _finish(ExitCode.OK, totals, as_json)


def _finish(code: ExitCode, result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result))
    else:
        text = ", ".join(f"{name} {value}" for name, value in result.items())
        typer.echo(f"videotasks backfill-list-keys: {text}", err=code is not ExitCode.OK)
    raise typer.Exit(code)
