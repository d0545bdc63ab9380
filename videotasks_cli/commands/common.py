"""What every command that calls the API starts from: its output mode, the settings, a client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from videotasks_cli import config
from videotasks_cli.client import ApiClient
from videotasks_cli.render import Output


@dataclass(frozen=True)
class Session:
    output: Output
    settings: config.Config
    api: ApiClient

    @property
    def ws_url(self) -> str | None:
        return self.settings.ws_url.value


def options(ctx: typer.Context) -> dict[str, bool]:
    return dict(ctx.obj or {})


def output_of(ctx: typer.Context) -> Output:
    return Output(bool(options(ctx).get("json")))


@contextmanager
def session(ctx: typer.Context) -> Iterator[Session]:
    output = output_of(ctx)
    settings = config.load(local=bool(options(ctx).get("local")))
    api_url, token = settings.require()
    with ApiClient(api_url, token) as api:
        yield Session(output, settings, api)
