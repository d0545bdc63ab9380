"""The `videotasks` command: one typer app; every command lives in a module of its own and is added here."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from videotasks_cli.commands import account, media, settings, tasks
from videotasks_cli.exit_codes import EXIT_CODES_HELP, ClickException, ExitCode
from videotasks_cli.legacy.command import import_legacy
from videotasks_cli.maintenance import backfill_list_keys

app = typer.Typer(
    name="videotasks",
    help="Create, follow and fetch video and image generation tasks; import the old backend's history.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # click's plain errors (one line) rather than rich's boxed panels, which scripts would have to parse
    rich_markup_mode=None,
)


@app.callback()
def options(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per result, for scripts.")] = False,
    local: Annotated[bool, typer.Option("--local", help="Use the running `make dev` stack for this command.")] = False,
) -> None:
    ctx.obj = {"json": json_output, "local": local}


app.command("config")(settings.configure)
app.command()(tasks.create)
app.command()(tasks.watch)
app.command("list")(tasks.list_tasks)
app.command()(tasks.get)
app.command()(tasks.cancel)
app.command()(tasks.retry)
app.command()(media.download)
app.command()(account.stats)
app.command()(account.models)
app.command()(account.usage)
app.command("import-legacy")(import_legacy)
app.command("backfill-list-keys")(backfill_list_keys)


def run(args: list[str] | None = None) -> int:
    """The app without click's standalone handling, so that Ctrl+C is 130 and no failure is a traceback."""
    try:
        result = app(args=args, standalone_mode=False)
    except ClickException as error:  # ours (CliError) and typer's usage errors
        error.show()
        return error.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("videotasks: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except Exception as error:  # a bug of ours: still one line, never a traceback
        typer.echo(f"videotasks: internal error ({type(error).__name__}): {error}", err=True)
        return ExitCode.INTERNAL
    return result if isinstance(result, int) else ExitCode.OK


def main() -> None:
    sys.exit(run())
