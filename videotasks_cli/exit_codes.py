"""Exit codes a script can branch on, and the one error every failure of the command line becomes.

The numbers are a contract (docs/CLI.md, `videotasks --help`): never renumber one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import IO, Any

import typer

try:  # newer typer carries its own click, and its core catches only that click's exceptions
    from typer._click import ClickException
except ImportError:  # pragma: no cover - older typer, on click itself
    from click import ClickException  # type: ignore[assignment,no-redef]

__all__ = ["EXIT_CODES_HELP", "ApiError", "CliError", "ClickException", "ExitCode", "exit_code_for_status"]


class ExitCode(IntEnum):
    OK = 0  # success; for create --watch / watch: the task COMPLETED
    TASK_FAILED = 1  # the task ended FAILED
    USAGE = 2  # a bad option or argument (typer's own code)
    TASK_CANCELLED = 3  # the task ended CANCELLED
    UNREACHABLE = 4  # no answer: connection refused, DNS, TLS, timeout
    API_ERROR = 5  # the API answered with an error (4xx/5xx)
    NOT_CONFIGURED = 6  # no API URL or token: see `videotasks config` (import-legacy: no target tables)
    WRONG_SCHEMA = 7  # import-legacy: the database holds no table shaped like the old backend's
    ROWS_FAILED = 8  # import-legacy finished, but some rows were not imported (each is reported)
    INTERNAL = 70  # a bug in the command line itself (EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl+C (128 + SIGINT)


EXIT_CODES_HELP = (
    "Exit codes: 0 success (or the task completed), 1 the task failed, 2 usage error, 3 the task was "
    "cancelled, 4 the API (import-legacy: the old database) is unreachable, 5 the API refused the request, "
    "6 not configured, 7 not the old backend's schema, 8 some rows not imported, 130 interrupted."
)

TERMINAL_EXIT = {"COMPLETED": ExitCode.OK, "FAILED": ExitCode.TASK_FAILED, "CANCELLED": ExitCode.TASK_CANCELLED}


def exit_code_for_status(status: str) -> ExitCode:
    """What `watch` and `create --watch` exit with once the task has ended."""
    return TERMINAL_EXIT.get(status.upper(), ExitCode.OK)


class CliError(ClickException):
    """A failure said in one line on stderr (``videotasks: <message>``), with its exit code.

    A click exception so that typer's click prints it and exits with its code, in the console script and in
    typer's CliRunner alike.
    """

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the cause said
        self.exit_code = int(code)  # type: ignore[misc]  # click reads it per instance

    def show(self, file: IO[Any] | None = None) -> None:
        typer.echo(f"videotasks: {self.message}", file=file, err=file is None)


class ApiError(CliError):
    """The API's error envelope: its HTTP status, `error.code` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}", ExitCode.API_ERROR)
        self.status = status
        self.code = code
