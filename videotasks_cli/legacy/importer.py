"""Writing the old backend's tasks into ours: through the repository, counted, media copied on request.

Counters: every batch of one user's tasks is written in one transaction with the counter changes it
makes (`TaskRepository.import_ended`), the way the API counts a create: the counters equal a recount
after any run, however far it got, and a task already there is neither written nor counted again. (A
recount per user after the import would be simpler to write, but wrong while the user creates tasks
meanwhile, and wrong for ever after a run that stopped half-way.)

Idempotence: ids are kept and every put is conditional on the id being free, so a second run skips every
task the first one wrote (`skipped`), and writes and counts nothing.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import BotoCoreError, ClientError

from videotasks.adapters.media import MediaStore, media_key
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import StaleWriteError, VideoTasksError
from videotasks.domain.media_types import UnsafeMediaError, checked_media_type, content_disposition, peek
from videotasks.domain.models import Task, parse_iso
from videotasks_cli.legacy.mapping import Mapped, Refused, map_row

ROWS_PER_ROUND = 200  # read, checked for existence and written together
TASKS_PER_TRANSACTION = 40  # 40 puts + the totals + at most 40 hour items: inside DynamoDB's 100
DOWNLOAD_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Problem:
    video_id: str
    reason: str


@dataclass
class Summary:
    dry_run: bool = False
    read: int = 0
    imported: int = 0  # in a dry run: would be imported
    skipped: int = 0  # already there
    failed: int = 0  # refused by the mapping, or not written
    media_copied: int = 0
    dead_links: int = 0
    problems: list[Problem] = field(default_factory=list)
    dead: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "read": self.read,
            "imported": self.imported,
            "skipped": self.skipped,
            "failed": self.failed,
            "mediaCopied": self.media_copied,
            "deadLinks": self.dead_links,
            "problems": [{"videoId": problem.video_id, "reason": problem.reason} for problem in self.problems],
            "dead": [{"videoId": problem.video_id, "reason": problem.reason} for problem in self.dead],
        }


class DeadLinkError(RuntimeError):
    """The old file cannot be had: its server said no, did not answer, or served something not media."""


def shown_url(url: str) -> str:
    """A URL as reports show it: without its query, where signed links keep their credentials."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


class MediaCopier:
    """Streams an old file into our bucket at the key the archive step uses (`media/<videoId>.<ext>`),
    its type checked as the archive checks a provider's (`media_types.checked_media_type`)."""

    def __init__(self, media: MediaStore, *, timeout_seconds: float = 30.0) -> None:
        import httpx

        self._media = media
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_seconds, connect=10.0), follow_redirects=True)

    def copy(self, task: Task, url: str) -> tuple[str, str]:
        """(key, content type) of the stored copy. Raises ``DeadLinkError`` for a file that cannot be had;
        a failure to store it (our side) propagates."""
        import httpx

        if urlsplit(url).scheme not in ("http", "https"):
            raise DeadLinkError(f"not an http(s) URL: {shown_url(url)}")
        try:
            with self._http.stream("GET", url) as reply:
                if reply.status_code != 200:
                    raise DeadLinkError(f"HTTP {reply.status_code} from {shown_url(url)}")
                head, chunks = peek(reply.iter_bytes(DOWNLOAD_CHUNK))
                try:
                    content_type = checked_media_type(reply.headers.get("content-type"), head)
                except UnsafeMediaError as error:
                    raise DeadLinkError(f"{error} at {shown_url(url)}") from None
                key = media_key(task.videoId, content_type)
                disposition = content_disposition(task.videoId, content_type)
                self._media.put_stream(key, chunks, content_type, content_disposition=disposition)
                return key, content_type
        except httpx.HTTPError as error:
            raise DeadLinkError(f"{type(error).__name__} from {shown_url(url)}") from None

    def close(self) -> None:
        self._http.close()


class Importer:
    def __init__(
        self,
        repository: TaskRepository,
        *,
        now: datetime,
        copier: MediaCopier | None = None,
        dry_run: bool = False,
        since: datetime | None = None,
        concurrency: int,
        advanced: Callable[[int], None] = lambda rows: None,
    ) -> None:
        self._repository = repository
        self._now = now
        self._copier = copier
        self._since = since
        self._concurrency = max(1, concurrency)
        self._advanced = advanced
        self.summary = Summary(dry_run=dry_run)
        self._lock = threading.Lock()  # the media copies report from the pool's threads

    def run(self, rows: Iterable[Mapping[str, Any]]) -> Summary:
        with concurrent.futures.ThreadPoolExecutor(self._concurrency, thread_name_prefix="media") as pool:
            for chunk in _chunks(iter(rows), ROWS_PER_ROUND):
                self._round(chunk, pool)
                self._advanced(len(chunk))
        return self.summary

    def _round(self, rows: list[Mapping[str, Any]], pool: concurrent.futures.Executor) -> None:
        summary = self.summary
        summary.read += len(rows)
        tasks: list[Mapped] = []
        for row in rows:
            result = map_row(row, now=self._now)
            if isinstance(result, Refused):
                summary.failed += 1
                summary.problems.append(Problem(result.video_id, result.reason))
            elif self._since is None or parse_iso(result.task.createdAt) >= self._since:
                tasks.append(result)
            else:  # read only for a missing creation column; metadata.createdAt put it before --since
                summary.read -= 1
        stored = self._repository.stored_ids([mapped.task.videoId for mapped in tasks])
        summary.skipped += sum(1 for mapped in tasks if mapped.task.videoId in stored)
        new = [mapped for mapped in tasks if mapped.task.videoId not in stored]
        if summary.dry_run:
            summary.imported += len(new)
            return
        ready = list(pool.map(self._with_media, new))
        by_user: dict[str, list[Task]] = {}
        for task in ready:
            if task is not None:
                by_user.setdefault(task.userId, []).append(task)
        for user_tasks in by_user.values():
            for start in range(0, len(user_tasks), TASKS_PER_TRANSACTION):
                self._write(user_tasks[start : start + TASKS_PER_TRANSACTION])

    def _with_media(self, mapped: Mapped) -> Task | None:
        """The task as it will be written: with our copy of its file, or with the old link kept in
        ``metadata.legacyVideoUrl`` when there is no copy (not asked for, or the link is dead); None when
        storing the copy failed on our side (the task is then not written, and the next run tries again)."""
        task, url = mapped.task, mapped.media_url
        if url is None:
            return task
        if self._copier is not None:
            try:
                key, content_type = self._copier.copy(task, url)
            except DeadLinkError as error:
                with self._lock:
                    self.summary.dead_links += 1
                    self.summary.dead.append(Problem(task.videoId, str(error)))
            except (BotoCoreError, ClientError) as error:
                with self._lock:
                    self.summary.failed += 1
                    self.summary.problems.append(Problem(task.videoId, f"could not store its media: {error}"))
                return None
            else:
                with self._lock:
                    self.summary.media_copied += 1
                return task.model_copy(update={"mediaKey": key, "mediaContentType": content_type})
        return task.model_copy(update={"metadata": {**task.metadata, "legacyVideoUrl": url}})

    def _write(self, tasks: list[Task]) -> None:
        try:
            self._repository.import_ended(tasks, now=self._now)
        except StaleWriteError:
            if len(tasks) > 1:  # one of them landed meanwhile (another run): each on its own
                for task in tasks:
                    self._write([task])
                return
            self.summary.skipped += 1
            return
        except (VideoTasksError, BotoCoreError, ClientError) as error:
            self.summary.failed += len(tasks)
            reason = f"not written: {' '.join(str(error).split())}"
            self.summary.problems.extend(Problem(task.videoId, reason) for task in tasks)
            return
        self.summary.imported += len(tasks)


def _chunks(rows: Iterator[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    while chunk := list(islice(rows, size)):
        yield chunk
