"""`stats`, `models`, `usage`: the caller's counters, what they may ask for, and their plan's limits."""

from __future__ import annotations

import typer

from videotasks_cli import render
from videotasks_cli.commands.common import session


def stats(ctx: typer.Context) -> None:
    """Your tasks counted by status and type, success rate, average generation time."""
    with session(ctx) as s:
        data = s.api.stats()
        s.output.emit(data, render.stats_view(s.output, data))


def models(ctx: typer.Context) -> None:
    """The models you may use, with the seconds and sizes each takes."""
    with session(ctx) as s:
        data = s.api.models()
        s.output.emit(data, render.models_view(s.output, data))


def usage(ctx: typer.Context) -> None:
    """Your plan's limits, what of them is used now, and when each resets."""
    with session(ctx) as s:
        data = s.api.usage()
        s.output.emit(data, render.usage_view(s.output, data))
