"""The `videotasks` command against the real local stack: every command, --json, the exit codes, the WebSocket
and its polling fallback, a resumed download. Most runs go through typer's CliRunner (in process, fast), a
few through the installed console script."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from typer.testing import CliRunner, Result

from tests.e2e.counters import settled
from videotasks_cli import download as transfer
from videotasks_cli.app import app
from videotasks_cli.commands import media

pytestmark = pytest.mark.e2e

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Cli:
    """``cli("list", "--limit", "5")`` as one user of one stack; ``json=True`` puts --json first."""

    stack: Any
    user_id: str
    home: Path
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            "VIDEOTASKS_API_URL": self.stack.api_url,
            "VIDEOTASKS_WS_URL": self.stack.ws_url,
            "VIDEOTASKS_TOKEN": self.stack.token(self.user_id),
            "VIDEOTASKS_CONFIG": str(self.home / "config.json"),
            "VIDEOTASKS_LOCAL_STATE": str(self.stack.state_path),
            "NO_PROXY": "127.0.0.1,localhost",
            "LANG": "C.UTF-8",
            **self.overrides,
        }

    def __call__(self, *args: str, json: bool = False) -> Result:
        return CliRunner().invoke(app, ["--json", *args] if json else list(args), env=self.env)

    def data(self, *args: str) -> Any:
        """The last JSON line of a --json run that succeeded."""
        result = self(*args, json=True)
        assert result.exit_code == 0, result.output
        return json_lines(result)[-1]


def json_lines(result: Result) -> list[Any]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def one_line_error(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("videotasks: ")
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def cli(local_stack, user_id, tmp_path) -> Cli:
    return Cli(local_stack, user_id, tmp_path)


def media_object(stack: Any, video_url: str) -> bytes:
    """The stored object itself, read from the stack's S3 (the presigned URL's path is /bucket/key)."""
    bucket, key = unquote(urlsplit(video_url).path).lstrip("/").split("/", 1)
    return bytes(stack.boto3_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_create_watch_follows_the_websocket_and_prints_the_final_task_last(cli):
    result = cli(
        "create", "a paper boat on a rainy street", "--seconds", "4", "--priority", "high", "--watch", json=True
    )

    assert result.exit_code == 0, result.output
    *progress, task = json_lines(result)
    assert task["status"] == "COMPLETED"
    assert task["seconds"] == 4
    assert task["priority"] == "high"
    assert task["videoUrl"]
    assert progress
    assert {line["event"] for line in progress} == {"progress"}
    assert {line["videoId"] for line in progress} == {task["videoId"]}
    assert progress[-1]["status"] == "COMPLETED"
    assert "polling" not in result.stderr  # the socket carried it
    # a message only the socket sends (the HTTP task has no `message` while it runs)
    assert any(line["message"] for line in progress if line["status"] != "COMPLETED")


def test_a_websocket_that_refuses_falls_back_to_polling(cli):
    cli.overrides["VIDEOTASKS_WS_URL"] = f"ws://127.0.0.1:{cli.stack.env['PROVIDER_PORT']}"  # not a WebSocket

    result = cli("create", "an owl at dusk", "--type", "IMAGE", "--watch", json=True)

    assert result.exit_code == 0, result.output
    assert json_lines(result)[-1]["status"] == "COMPLETED"
    assert "WebSocket unavailable (" in result.stderr
    assert "following the task by polling" in result.stderr
    assert cli.stack.token(cli.user_id) not in result.output


def test_human_watch_output_off_a_terminal_is_plain_status_lines(cli):
    result = cli("create", "a lighthouse", "--type", "IMAGE", "--watch")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    video_id = lines[0].split()[0]
    assert lines[0].startswith(f"{video_id} QUEUED") or lines[0].startswith(f"{video_id} PROCESSING")
    assert f"{video_id} COMPLETED 100%" in lines
    assert f"videoId         {video_id}" in lines
    assert "\x1b[" not in result.stdout


def test_a_failed_task_exits_1_with_its_error(local_stack_factory, user_id, tmp_path):
    cli = Cli(local_stack_factory(FAKE_FAILURE_RATE=1), user_id, tmp_path)

    result = cli("create", "a storm at sea", "--watch", json=True)

    assert result.exit_code == 1, result.output
    task = json_lines(result)[-1]
    assert task["status"] == "FAILED"
    assert task["error"]["code"]
    retried = cli("retry", task["videoId"], json=True)
    assert retried.exit_code == 0, retried.output
    assert json_lines(retried)[-1]["retryOf"] == task["videoId"]


def test_cancel_then_watch_exits_3_and_retry_makes_a_new_task(cli):
    created = cli.data("create", "a slow sunrise", "--seconds", "8")

    cancelled = cli.data("cancel", created["videoId"])
    watched = cli("watch", created["videoId"], json=True)
    again = cli("cancel", created["videoId"])
    retried = cli("retry", created["videoId"], "--watch", json=True)

    assert cancelled["status"] == "CANCELLED"
    assert watched.exit_code == 3, watched.output
    assert json_lines(watched)[-1]["status"] == "CANCELLED"
    assert again.exit_code == 5
    assert one_line_error(again).startswith("videotasks: CONFLICT (409): ")
    assert retried.exit_code == 0, retried.output
    final = json_lines(retried)[-1]
    assert final["retryOf"] == created["videoId"]
    assert final["status"] == "COMPLETED"
    assert final["videoId"] != created["videoId"]


def test_list_and_get_read_the_users_tasks_with_filters(cli):
    image = cli.data("create", "a red kite", "--type", "IMAGE", "--watch")
    video = cli.data("create", "a blue kite", "--seconds", "4")

    everything = settled(lambda: cli.data("list"), lambda listed: listed["total"] == 2)
    images = cli.data("list", "--type", "image", "--status", "completed")
    newest = cli.data("list", "--limit", "1")
    got = cli.data("get", image["videoId"])
    table = cli("list")

    assert [task["videoId"] for task in everything["items"]] == [video["videoId"], image["videoId"]]
    assert everything["total"] == 2
    assert [task["videoId"] for task in images["items"]] == [image["videoId"]]
    assert [task["videoId"] for task in newest["items"]] == [video["videoId"]]
    assert newest["hasMore"] is True
    assert got["status"] == "COMPLETED"
    assert got["videoUrl"].startswith("http")
    assert table.exit_code == 0
    assert image["videoId"] in table.stdout
    assert "a red kite" in table.stdout
    assert "2 of 2 tasks" in table.stderr


def test_create_sends_a_small_image_file_inline(cli, tmp_path):
    picture = tmp_path / "start.png"
    picture.write_bytes(PNG_1X1)

    task = cli.data("create", "the picture, moving", "--image", str(picture), "--seconds", "4")

    assert task["inputReference"] == "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()


def test_a_download_interrupted_midway_resumes_to_the_exact_object(cli, tmp_path, monkeypatch):
    task = cli.data("create", "a harbour at dawn", "--seconds", "4", "--watch")
    stored = media_object(cli.stack, task["videoUrl"])
    target = tmp_path / "harbour.mp4"
    monkeypatch.setattr(transfer, "CHUNK_BYTES", 4096)

    def interrupt(self: Any, size: int) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(media.TransferBar, "advance", interrupt)
        interrupted = cli("download", task["videoId"], "-o", str(target))
    partial = transfer.part_path(target)
    kept = partial.stat().st_size
    finished_early = target.exists()
    resumed = cli("download", task["videoId"], "-o", str(target), json=True)

    assert interrupted.exit_code == 130
    assert not finished_early
    assert 0 < kept < len(stored)
    assert resumed.exit_code == 0, resumed.output
    reply = json_lines(resumed)[-1]
    assert reply == {
        "videoId": task["videoId"],
        "path": str(target),
        "bytes": len(stored),
        "contentType": "video/mp4",
        "resumedFrom": kept,
    }
    assert target.read_bytes() == stored
    assert not partial.exists()


def test_download_names_the_file_after_the_task_and_refuses_unfinished_ones(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = cli.data("create", "a green kite", "--type", "IMAGE", "--watch")
    pending = cli.data("create", "a long film", "--seconds", "8")

    done = cli("download", image["videoId"])
    refused = cli("download", pending["videoId"])

    assert done.exit_code == 0, done.output
    saved = tmp_path / f"{image['videoId']}.png"
    assert saved.read_bytes() == media_object(cli.stack, image["videoUrl"])
    assert refused.exit_code == 5
    assert one_line_error(refused).startswith("videotasks: CONFLICT (409): ")
    cli("cancel", pending["videoId"])


def test_stats_models_and_usage(cli):
    cli.data("create", "a yellow kite", "--type", "IMAGE", "--watch")

    stats = settled(lambda: cli.data("stats"), lambda counted: counted["byStatus"]["COMPLETED"] == 1)
    models = cli.data("models")
    usage = cli.data("usage")
    human = [cli(command) for command in ("stats", "models", "usage")]

    assert stats["total"] == 1
    assert stats["byStatus"]["COMPLETED"] == 1
    assert models["default"] in {model["id"] for model in models["items"]}
    # The create may fall in the previous UTC minute by now (the watch waits for it to finish): its count
    # is in this minute's window or the window has rolled over since.
    assert set(usage["usage"]) >= {"createsThisMinute", "videoSecondsToday"}
    assert usage["limits"]["createsPerMinute"] >= 1
    assert all(result.exit_code == 0 for result in human)
    assert "success rate" in human[0].stdout
    assert models["default"] in human[1].stdout
    assert "creates this minute" in human[2].stdout


def test_api_refusals_unreachable_apis_and_missing_settings_have_their_exit_codes(cli):
    token = cli.stack.token(cli.user_id)
    missing = cli("get", "video_00000000-0000-4000-8000-000000000000")
    invalid = cli("create", "x", "--seconds", "3")
    usage = cli("list", "--status", "SLEEPING")
    cli.overrides["VIDEOTASKS_API_URL"] = "http://127.0.0.1:9/api/video"
    unreachable = cli("list")
    cli.overrides["VIDEOTASKS_TOKEN"] = ""
    unconfigured = cli("stats")

    assert missing.exit_code == 5
    assert one_line_error(missing) == (
        "videotasks: NOT_FOUND (404): Task video_00000000-0000-4000-8000-000000000000 not found"
    )
    assert invalid.exit_code == 5
    assert "VALIDATION_ERROR (400): " in one_line_error(invalid)
    assert usage.exit_code == 2
    assert unreachable.exit_code == 4
    assert one_line_error(unreachable).startswith("videotasks: cannot reach http://127.0.0.1:9/api/video/tasks: ")
    assert unconfigured.exit_code == 6
    assert "VIDEOTASKS_TOKEN" in one_line_error(unconfigured)
    for result in (missing, invalid, unreachable):
        assert token not in result.output


def test_config_local_saves_the_running_stack_and_shows_the_token_masked(cli):
    saved = cli("config", "--local")
    for name in ("VIDEOTASKS_API_URL", "VIDEOTASKS_WS_URL", "VIDEOTASKS_TOKEN"):
        cli.overrides[name] = ""  # only the file now
    shown = cli("config", json=True)
    stats = cli("stats", json=True)
    on_the_fly = cli("--local", "usage", json=True)

    stored = json.loads((cli.home / "config.json").read_text())
    assert saved.exit_code == 0, saved.output
    assert stored["api_url"] == cli.stack.api_url
    assert stored["token"] not in saved.output + shown.output
    settings = json_lines(shown)[-1]
    assert settings["api_url"] == {"value": cli.stack.api_url, "source": f"file ({cli.home / 'config.json'})"}
    assert settings["token"]["value"].endswith(f"({len(stored['token'])} characters)")
    assert stats.exit_code == 0, stats.output
    assert on_the_fly.exit_code == 0, on_the_fly.output


def script() -> Path:
    path = Path(sys.executable).parent / "videotasks"
    if not path.exists():
        pytest.fail(f"{path} is missing: `make install` installs the project into .venv (pip install -e .)")
    return path


def test_the_installed_console_script_creates_watches_and_fails_in_one_line(cli):
    env = {**os.environ, **cli.env}

    created = subprocess.run(
        [str(script()), "--json", "create", "a paper crane", "--type", "IMAGE", "--watch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    env["VIDEOTASKS_API_URL"] = "http://127.0.0.1:9/api/video"
    unreachable = subprocess.run([str(script()), "stats"], env=env, capture_output=True, text=True, timeout=60)

    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout.splitlines()[-1])["status"] == "COMPLETED"
    assert unreachable.returncode == 4
    assert unreachable.stdout == ""
    assert unreachable.stderr.startswith("videotasks: cannot reach http://127.0.0.1:9/api/video/stats: ")
    assert len(unreachable.stderr.splitlines()) == 1
