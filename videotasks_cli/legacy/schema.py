"""Reading the old backend's `video_tasks` table: connect, check its shape, stream its rows.

The old backend's Prisma `VideoTask` model named its columns after its fields (`"videoId"`, quoted
camelCase) unless a `@map` made them snake_case; both spellings are read, checked against
information_schema before a single row is. The connection is read-only: the import never writes there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TABLES = ("video_tasks", "VideoTask")  # the @@map'ed name, and Prisma's default
# logical name -> (required, spellings)
COLUMNS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "video_id": (True, ("videoId", "video_id")),
    "user_id": (True, ("userId", "user_id")),
    "prompt": (True, ("prompt",)),
    "model": (True, ("model",)),
    "status": (True, ("status",)),
    "created_at": (True, ("createdAt", "created_at")),
    "type": (False, ("type",)),
    "progress": (False, ("progress",)),
    "video_url": (False, ("videoUrl", "video_url")),
    "metadata": (False, ("metadata",)),
    "error": (False, ("error",)),
    "updated_at": (False, ("updatedAt", "updated_at")),
    "completed_at": (False, ("completedAt", "completed_at")),
}
FETCH_ROWS = 500
CONNECT_TIMEOUT_SECONDS = 10


class LegacyUnreachableError(RuntimeError):
    """The database did not answer, or refused the login."""


class LegacySchemaError(RuntimeError):
    """The database answered, but holds no table shaped like the old one."""


# libpq also takes "host=… password=…" keyword strings: their password is masked the same way.
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def masked(url: str) -> str:
    """``url`` with its password replaced: it goes into messages and logs."""
    if "://" not in url:
        return _KEYWORD_PASSWORD.sub(r"\1***", url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _password(url: str) -> str | None:
    if "://" not in url:
        found = _KEYWORD_PASSWORD.search(url)
        return found.group(2).strip("'") if found else None
    return urlsplit(url).password


def _one_line(error: BaseException, url: str) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    password = _password(url)
    return text.replace(password, "***") if password else text


@dataclass(frozen=True)
class LegacyTable:
    name: str
    columns: dict[str, str]  # logical name -> the column's real name

    def select(self, since: datetime | None) -> tuple[str, list[Any]]:
        chosen = ", ".join(f'"{real}" AS {logical}' for logical, real in self.columns.items())
        rows, params = self._rows(since)
        return (
            f'SELECT {chosen}{rows} ORDER BY "{self.columns["created_at"]}" NULLS LAST, "{self.columns["video_id"]}"',
            params,
        )

    def count(self, since: datetime | None) -> tuple[str, list[Any]]:
        rows, params = self._rows(since)
        return f"SELECT count(*) AS n{rows}", params

    def _rows(self, since: datetime | None) -> tuple[str, list[Any]]:
        if since is None:
            return f' FROM "{self.name}"', []
        created = f'"{self.columns["created_at"]}"'
        # A row without a creation time may still carry metadata.createdAt: the importer decides for it.
        return f' FROM "{self.name}" WHERE ({created} >= %s OR {created} IS NULL)', [since]


class LegacyDatabase:
    """A read-only session on the old database. ``open`` checks that it answers and has the table."""

    def __init__(self, connection: Any, table: LegacyTable) -> None:
        self._connection = connection
        self.table = table

    @classmethod
    def open(cls, url: str) -> LegacyDatabase:
        import psycopg
        from psycopg.rows import dict_row

        try:
            connection = psycopg.connect(
                url, connect_timeout=CONNECT_TIMEOUT_SECONDS, row_factory=dict_row, autocommit=True
            )
        except (psycopg.Error, ValueError) as error:  # ValueError: psycopg's own URL parsing
            raise LegacyUnreachableError(f"cannot reach {masked(url)}: {_one_line(error, url)}") from None
        connection.read_only = True
        try:
            table = _find_table(connection)
        except LegacySchemaError:
            connection.close()
            raise
        except psycopg.Error as error:
            connection.close()
            raise LegacyUnreachableError(f"{masked(url)} stopped answering: {_one_line(error, url)}") from None
        return cls(connection, table)

    def count(self, since: datetime | None) -> int:
        query, params = self.table.count(since)
        with self._connection.cursor() as cursor:
            cursor.execute(query, params)
            return int(cursor.fetchone()["n"])

    def rows(self, since: datetime | None) -> Iterator[dict[str, Any]]:
        """Every row, oldest first, through a server-side cursor (never the whole table in memory)."""
        query, params = self.table.select(since)
        with self._connection.transaction(), self._connection.cursor(name="legacy_import") as cursor:
            cursor.itersize = FETCH_ROWS
            cursor.execute(query, params)
            yield from cursor

    def close(self) -> None:
        self._connection.close()


def _find_table(connection: Any) -> LegacyTable:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = ANY(current_schemas(false)) AND table_name = ANY(%s)",
            [list(TABLES)],
        )
        found: dict[str, set[str]] = {}
        for row in cursor.fetchall():
            found.setdefault(row["table_name"], set()).add(row["column_name"])
    name = next((table for table in TABLES if table in found), None)
    if name is None:
        raise LegacySchemaError(f"no table {' or '.join(TABLES)} in the database: is it the old backend's?")
    present = found[name]
    columns: dict[str, str] = {}
    missing: list[str] = []
    for logical, (required, spellings) in COLUMNS.items():
        real = next((spelling for spelling in spellings if spelling in present), None)
        if real is not None:
            columns[logical] = real
        elif required:
            missing.append(" or ".join(spellings))
    if missing:
        raise LegacySchemaError(f"table {name} lacks the column(s) {', '.join(missing)}: is it the old backend's?")
    return LegacyTable(name, columns)
