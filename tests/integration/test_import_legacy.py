"""`videotasks import-legacy` from a real PostgreSQL server into the template's tables (moto in process).

The command is run as a user runs it (typer's runner, the deployed-stack target named by the functions'
variables, which the moto stack exports), against a database loaded with the old backend's table.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.fixtures.aws import AwsStack, shared_dynamodb
from tests.integration.api_harness import media_bytes, recount
from tests.legacy_rows import MP4, PASSWORD, dead_url, history, odd_rows, old_row
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.models import TaskStatus, TaskType, utc_now
from videotasks_cli.app import app
from videotasks_cli.exit_codes import ExitCode

pytest_plugins = ["tests.legacy_postgres"]
# moto behind the local stack's seam: as strict as DynamoDB about transactions, and a transaction copies
# only the partitions it touches (plain moto copies whole tables each time: thousands of tasks take minutes).
pytestmark = pytest.mark.usefixtures("strict_moto")

REFUSED = ("unknown_status", "bad_id", "uppercase_id", "unknown_type")


def run(url: str, *options: str) -> Result:
    return CliRunner().invoke(app, ["--json", "import-legacy", "--database-url", url, *options])


def summary_of(result: Result) -> dict[str, Any]:
    assert result.stdout.strip(), result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def everything(aws_stack: AwsStack) -> dict[str, list[dict[str, Any]]]:
    """Every item of the tasks and stats tables, and every media object: what a run may change."""
    tables = {}
    for variable in ("TASKS_TABLE", "STATS_TABLE"):
        items = aws_stack.table(variable).scan()["Items"]
        tables[variable] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))
    tables["media"] = [{"key": key} for key in sorted(aws_stack.media_keys())]
    return tables


def nothing_written(aws_stack: AwsStack) -> bool:
    return all(not items for items in everything(aws_stack).values())


def counters_match_a_recount(aws_stack: AwsStack, users: set[str]) -> None:
    aws_stack.settle_counters()
    repository = TaskRepository(aws_stack.settings, dynamodb=shared_dynamodb())
    for user in users:
        counted = repository.counters(user, utc_now())
        expected = recount(aws_stack, user)
        assert counted.total == expected["total"], user
        assert {status.value: counted.by_status[status] for status in TaskStatus} == expected["byStatus"], user
        assert {kind.value: counted.by_type[kind] for kind in TaskType} == expected["byType"], user


def test_a_history_with_odd_rows_is_imported_once(aws_stack: AwsStack, legacy_database: Any) -> None:
    odd = odd_rows()
    rows = history(1000) + list(odd.values())
    legacy_database.load(rows)

    result = run(legacy_database.url)

    assert result.exit_code == ExitCode.ROWS_FAILED, result.stderr
    summary = summary_of(result)
    assert {key: summary[key] for key in ("read", "imported", "skipped", "failed")} == {
        "read": len(rows),
        "imported": len(rows) - len(REFUSED),
        "skipped": 0,
        "failed": len(REFUSED),
    }
    assert sorted(problem["videoId"] for problem in summary["problems"]) == sorted(
        odd[case]["videoId"] for case in REFUSED
    )
    stored = aws_stack.table("TASKS_TABLE").scan(Select="COUNT")["Count"]
    assert stored == len(rows) - len(REFUSED)
    assert aws_stack.stored(odd["non_ascii"]["videoId"])["prompt"] == odd["non_ascii"]["prompt"]
    unfinished = aws_stack.stored(odd["queued"]["videoId"])
    assert unfinished["status"] == "FAILED" and unfinished["error"]["code"] == "LEGACY_UNFINISHED"
    assert "executionArn" not in unfinished  # no workflow ever runs for history
    assert (
        aws_stack.client("stepfunctions").list_executions(stateMachineArn=aws_stack.state_machine_arn)["executions"]
        == []
    )
    counters_match_a_recount(aws_stack, {row["userId"] for row in rows})
    before = everything(aws_stack)

    again = run(legacy_database.url)

    assert again.exit_code == ExitCode.ROWS_FAILED
    assert {key: summary_of(again)[key] for key in ("imported", "skipped", "failed")} == {
        "imported": 0,
        "skipped": len(rows) - len(REFUSED),
        "failed": len(REFUSED),
    }
    assert everything(aws_stack) == before


def test_a_dry_run_reports_and_writes_nothing(aws_stack: AwsStack, legacy_database: Any) -> None:
    odd = odd_rows()
    legacy_database.load([*history(3000, seed=16), *odd.values()])

    result = run(legacy_database.url, "--dry-run", "--copy-media")

    assert result.exit_code == ExitCode.ROWS_FAILED
    summary = summary_of(result)
    assert summary["dryRun"] is True
    assert (summary["read"], summary["imported"], summary["failed"], summary["mediaCopied"]) == (
        3000 + len(odd),
        3000 + len(odd) - len(REFUSED),
        len(REFUSED),
        0,
    )
    assert nothing_written(aws_stack)


def test_since_takes_only_newer_tasks(aws_stack: AwsStack, legacy_database: Any) -> None:
    old = old_row(createdAt=datetime(2024, 12, 31, 23, 59))
    new = old_row(createdAt=datetime(2025, 1, 1, 0, 0))
    no_column = old_row(createdAt=None, metadata={"createdAt": int(datetime(2025, 2, 1, tzinfo=UTC).timestamp())})
    old_by_metadata = old_row(createdAt=None, metadata={"createdAt": 1700000000})
    legacy_database.load([old, new])
    legacy_database.execute('ALTER TABLE "video_tasks" ALTER COLUMN "createdAt" DROP NOT NULL')
    extra = [no_column, old_by_metadata]
    for row in extra:
        legacy_database.execute(
            'INSERT INTO "video_tasks" ("videoId", "userId", prompt, model, status, metadata, "createdAt", "updatedAt")'
            " VALUES (%s, %s, %s, %s, %s, %s::jsonb, NULL, now())",
            [row["videoId"], row["userId"], row["prompt"], row["model"], row["status"], json.dumps(row["metadata"])],
        )

    result = run(legacy_database.url, "--since", "2025-01-01")

    assert result.exit_code == ExitCode.OK, result.stderr
    assert summary_of(result)["imported"] == 2
    assert aws_stack.stored(new["videoId"]) and aws_stack.stored(no_column["videoId"])
    assert not aws_stack.stored(old["videoId"]) and not aws_stack.stored(old_by_metadata["videoId"])


def test_copy_media_stores_live_files_and_reports_dead_links(
    aws_stack: AwsStack, legacy_database: Any, old_media_server: str
) -> None:
    live = [old_row(videoUrl=f"{old_media_server}/videos/{index}.mp4?token=abc") for index in range(12)]
    missing = old_row(videoUrl=f"{old_media_server}/gone/1.mp4")
    not_media = old_row(videoUrl=f"{old_media_server}/page/1.mp4")
    nobody = old_row(videoUrl=dead_url())
    failed = old_row(status="FAILED", videoUrl=f"{old_media_server}/videos/never.mp4")
    legacy_database.load([*live, missing, not_media, nobody, failed])

    result = run(legacy_database.url, "--copy-media", "--concurrency", "4")

    assert result.exit_code == ExitCode.OK, result.stderr
    summary = summary_of(result)
    assert (summary["imported"], summary["mediaCopied"], summary["deadLinks"]) == (16, 12, 3)
    dead = {problem["videoId"]: problem["reason"] for problem in summary["dead"]}
    assert dead[missing["videoId"]].startswith("HTTP 404")
    assert "not an allowed video or image type" in dead[not_media["videoId"]]
    assert dead[nobody["videoId"]].startswith("ConnectError")
    assert "token=abc" not in result.stdout  # a signed link's query is never shown
    for row in live:
        task = aws_stack.stored(row["videoId"])
        assert task["mediaKey"] == f"media/{row['videoId']}.mp4" and task["mediaContentType"] == "video/mp4"
        assert media_bytes(aws_stack, task["mediaKey"]) == MP4
        assert "legacyVideoUrl" not in task["metadata"]
    gone = aws_stack.stored(missing["videoId"])
    assert gone["status"] == "COMPLETED" and "mediaKey" not in gone
    assert gone["metadata"]["legacyVideoUrl"] == missing["videoUrl"]
    assert sorted(aws_stack.media_keys()) == sorted(f"media/{row['videoId']}.mp4" for row in live)


def test_snake_case_columns_are_read_too(aws_stack: AwsStack, legacy_database: Any) -> None:
    rows = history(30)
    legacy_database.load(rows, snake=True)

    result = run(legacy_database.url)

    assert result.exit_code == ExitCode.OK, result.stderr
    assert summary_of(result)["imported"] == 30
    counters_match_a_recount(aws_stack, {row["userId"] for row in rows})


def test_an_unreachable_database_is_one_line_and_nothing_written(aws_stack: AwsStack, legacy_postgres: Any) -> None:
    wrong_password = legacy_postgres.url("postgres", password="not-the-password")
    nobody_listens = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{legacy_postgres.port + 1}/postgres"
    for url in (wrong_password, nobody_listens):
        result = run(url)
        assert result.exit_code == ExitCode.UNREACHABLE, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.output
        assert PASSWORD not in result.output and "not-the-password" not in result.output
        assert "postgres:***@127.0.0.1" in result.stderr
    assert nothing_written(aws_stack)


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ("CREATE TABLE tasks (id text)", "no table video_tasks or VideoTask"),
        ('CREATE TABLE video_tasks ("videoId" text, prompt text, status text)', "userId or user_id"),
    ],
    ids=["no table", "missing columns"],
)
def test_a_wrong_schema_is_one_line_and_nothing_written(
    aws_stack: AwsStack, legacy_database: Any, setup: str, says: str
) -> None:
    legacy_database.execute(setup)

    result = run(legacy_database.url)

    assert result.exit_code == ExitCode.WRONG_SCHEMA
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert PASSWORD not in result.output
    assert json.loads(result.stdout)["exitCode"] == ExitCode.WRONG_SCHEMA
    assert nothing_written(aws_stack)


def test_no_target_is_one_line(legacy_database: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TASKS_TABLE", raising=False)
    monkeypatch.setenv("VIDEOTASKS_LOCAL_STATE", str(tmp_path / "no-stack.json"))

    deployed, local = run(legacy_database.url), run(legacy_database.url, "--local")

    assert deployed.exit_code == local.exit_code == ExitCode.NOT_CONFIGURED
    assert "TASKS_TABLE" in deployed.stderr and len(deployed.stderr.strip().splitlines()) == 1
    assert "start one with `make dev`" in local.stderr and len(local.stderr.strip().splitlines()) == 1


def test_tasks_written_meanwhile_by_another_run_are_skipped_not_counted_twice(
    aws_stack: AwsStack, legacy_database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = history(60, users=2)
    legacy_database.load(rows)
    assert run(legacy_database.url).exit_code == ExitCode.OK
    before = everything(aws_stack)
    # Another run wrote them after this one looked: every batch meets a stored id and falls back to one by one.
    monkeypatch.setattr(TaskRepository, "stored_ids", lambda self, ids: set())

    result = run(legacy_database.url)

    assert result.exit_code == ExitCode.OK, result.stderr
    assert (summary_of(result)["imported"], summary_of(result)["skipped"]) == (0, 60)
    assert everything(aws_stack) == before
