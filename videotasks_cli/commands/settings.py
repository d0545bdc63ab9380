"""`config`: save where the API is and the token, or show the effective settings and their sources."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from videotasks_cli import config
from videotasks_cli.commands.common import options, output_of
from videotasks_cli.exit_codes import CliError, ExitCode


def configure(
    ctx: typer.Context,
    api_url: Annotated[str | None, typer.Option("--api-url", help="The API's base URL, ending in /api/video.")] = None,
    ws_url: Annotated[str | None, typer.Option("--ws-url", help="The WebSocket URL (wss://…).")] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="A JWT; `-` reads it from stdin (keeps it out of the shell history).")
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Use the running `make dev` stack (its URLs and dev token).")
    ] = False,
) -> None:
    """Save the API URL, WebSocket URL and token (owner-only file); alone, show the effective settings.

    The environment (VIDEOTASKS_API_URL, VIDEOTASKS_WS_URL, VIDEOTASKS_TOKEN) wins over the file.
    """
    output = output_of(ctx)
    path = config.config_path()
    if token == "-":  # noqa: S105 - the stdin marker, not a password
        token = sys.stdin.readline().strip()
        if not token:
            raise CliError("--token -: nothing on stdin", ExitCode.USAGE)
    given = {"api_url": api_url, "ws_url": ws_url, "token": token}
    changes = {name: value.strip() for name, value in given.items() if value}
    if local:
        changes = {**config.local_values(), **changes}
    if changes:
        if "api_url" in changes and not changes["api_url"].startswith(("http://", "https://")):
            raise CliError(f"--api-url {changes['api_url']}: not an http(s):// URL", ExitCode.USAGE)
        config.write_file(path, {**config.read_file(path), **changes})
        output.note(f"saved {', '.join(sorted(changes))} to {path}")
    effective = config.load(local=bool(options(ctx).get("local")))
    shown = {
        name: {
            "value": config.mask(setting.value) if name == "token" else setting.value,
            "source": setting.source,
        }
        for name, setting in (("api_url", effective.api_url), ("ws_url", effective.ws_url), ("token", effective.token))
    }
    table = output.table("setting", "value", "from")
    for name, row in shown.items():
        table.add_row(name, row["value"] or "-", row["source"])
    output.emit({"path": str(path), **shown}, table)
