"""A real PostgreSQL server for the importer's tests, and the old backend's table to load into it.

The server is Debian's `postgresql` package (`make postgres-deps` installs it, as `browser-deps` installs
Chromium): `initdb` and `pg_ctl` from /usr/lib/postgresql/<version>/bin or PATH, a data directory in a
fresh temporary directory, a free port, the socket beside the data. initdb refuses to run as root, so as
root the server runs as the `postgres` system user. One server per test session (per xdist worker), one
database per test.

Loaded by name: `pytest_plugins = ["tests.legacy_postgres"]`.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.legacy_rows import MP4, PASSWORD, free_port

# The old backend's table as Prisma's migration made it: quoted camelCase columns, TIMESTAMP(3) without
# a time zone (UTC), metadata JSONB. `snake` is the same model with @map'ed snake_case columns.
CAMEL_SCHEMA = """
CREATE TABLE "video_tasks" (
    "videoId" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "model" TEXT NOT NULL DEFAULT 'sora-2',
    "type" TEXT NOT NULL DEFAULT 'video',
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "progress" INTEGER NOT NULL DEFAULT 0,
    "videoUrl" TEXT,
    "metadata" JSONB,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "completedAt" TIMESTAMP(3)
);
CREATE INDEX "video_tasks_userId_idx" ON "video_tasks"("userId");
"""
CAMEL_COLUMNS = (
    "videoId",
    "userId",
    "prompt",
    "model",
    "type",
    "status",
    "progress",
    "videoUrl",
    "metadata",
    "error",
    "createdAt",
    "updatedAt",
    "completedAt",
)
SNAKE_SCHEMA = (
    CAMEL_SCHEMA.replace('"videoId"', "video_id")
    .replace('"userId"', "user_id")
    .replace('"videoUrl"', "video_url")
    .replace('"createdAt"', "created_at")
    .replace('"updatedAt"', "updated_at")
    .replace('"completedAt"', "completed_at")
    .replace('"video_tasks_userId_idx"', "video_tasks_user_idx")
)
SNAKE_COLUMNS = (
    "video_id",
    "user_id",
    "prompt",
    "model",
    "type",
    "status",
    "progress",
    "video_url",
    "metadata",
    "error",
    "created_at",
    "updated_at",
    "completed_at",
)


def _binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda path: int(Path(path).parts[4]))
    return Path(versions[-1]).parent if versions else None


@dataclass(frozen=True)
class LegacyServer:
    port: int
    admin_url: str

    def url(self, database: str, *, password: str = PASSWORD) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def legacy_postgres() -> Iterator[LegacyServer]:
    """A PostgreSQL server of its own, stopped (immediate) and removed after the session."""
    binaries = _binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (make postgres-deps installs Debian's postgresql package)")
    root = os.geteuid() == 0
    as_owner: list[str] = ["runuser", "-u", "postgres", "--"] if root else []
    base = Path(tempfile.mkdtemp(prefix="legacy-pg-"))
    data, sockets, password_file = base / "data", base / "sockets", base / "password"
    sockets.mkdir()
    password_file.write_text(PASSWORD)
    if root:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(password_file, "postgres")
    port = free_port()
    run = functools.partial(subprocess.run, check=True, capture_output=True, timeout=120)
    run(
        [
            *as_owner,
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--pwfile",
            str(password_file),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    run([*as_owner, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"])
    try:
        yield LegacyServer(port, f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            [*as_owner, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class LegacyDatabase:
    server: LegacyServer
    name: str

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(sql, params)

    def load(self, rows: Sequence[dict[str, Any]], *, snake: bool = False) -> None:
        """The old table, created, with ``rows`` (keyed by the camelCase names) in it."""
        import psycopg
        from psycopg.types.json import Jsonb

        self.execute(SNAKE_SCHEMA if snake else CAMEL_SCHEMA)
        columns = SNAKE_COLUMNS if snake else CAMEL_COLUMNS
        names = ", ".join(f'"{column}"' for column in columns)
        marks = ", ".join(["%s"] * len(columns))
        with psycopg.connect(self.url) as connection, connection.cursor() as cursor:
            cursor.executemany(
                f'INSERT INTO "video_tasks" ({names}) VALUES ({marks})',
                [
                    [
                        Jsonb(row[key]) if key == "metadata" and row[key] is not None else row[key]
                        for key in CAMEL_COLUMNS
                    ]
                    for row in rows
                ],
            )


@pytest.fixture
def legacy_database(legacy_postgres: LegacyServer) -> Iterator[LegacyDatabase]:
    """An empty database of its own on the session's server."""
    import psycopg

    name = f"legacy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(legacy_postgres.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield LegacyDatabase(legacy_postgres, name)
    with psycopg.connect(legacy_postgres.admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Media(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/videos/"):
            self._reply(200, "video/mp4", MP4)
        elif self.path.startswith("/page/"):
            self._reply(200, "text/html", b"<html>not a video</html>")
        else:
            self._reply(404, "application/json", b'{"error":"gone"}')

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def old_media_server() -> Iterator[str]:
    """The old provider's file host: `/videos/…` serves an MP4, `/page/…` an HTML page, the rest 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Media)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


__all__ = ["LegacyDatabase", "LegacyServer"]
