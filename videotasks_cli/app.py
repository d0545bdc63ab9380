"""The `videotasks` command: one typer app; every command lives in a module of its own and is added here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="videotasks",
    help="Create, follow and fetch video and image generation tasks; import the old backend's history.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def options(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help="One JSON object per result, for scripts."),
) -> None:
    ctx.obj = {"json": json_output}


def main() -> None:
    app()
