"""The command line's parts one at a time: settings and their precedence, errors and exit codes, rendering,
--image, the follower's rules and the resumable download (httpx mock transports; no stack)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from videotasks_cli import app as cli
from videotasks_cli import config, download, render
from videotasks_cli.client import ApiClient, accept_language
from videotasks_cli.commands.tasks import MAX_INPUT_REFERENCE_CHARS, input_reference
from videotasks_cli.exit_codes import ApiError, CliError, ExitCode, exit_code_for_status
from videotasks_cli.local_state import LocalStackState, write_state
from videotasks_cli.watch import Follower, update_of_message, with_token

TOKEN = "eyJhbGciOiJIUzI1NiJ9.secret-part-of-the-token.signature1234"
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    """No settings from the developer's machine: a config file of this test, no VIDEOTASKS_* variables."""
    for name in (*config.ENVIRONMENT.values(), "VIDEOTASKS_LOCAL_STATE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.json"
    monkeypatch.setenv(config.CONFIG_VARIABLE, str(path))
    return path


# settings ----------------------------------------------------------------------------------------
def test_the_environment_wins_over_the_file_setting_by_setting(isolated, monkeypatch):
    config.write_file(isolated, {"api_url": "https://file.example/api/video", "ws_url": "wss://file", "token": "f"})
    monkeypatch.setenv("VIDEOTASKS_TOKEN", "from-env")

    settings = config.load()

    assert settings.token.value == "from-env"
    assert settings.token.source == "environment (VIDEOTASKS_TOKEN)"
    assert settings.api_url.value == "https://file.example/api/video"
    assert settings.api_url.source == f"file ({isolated})"


def test_local_wins_over_the_environment_and_a_missing_stack_is_one_line(isolated, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOTASKS_API_URL", "https://env.example/api/video")
    state = tmp_path / "state.json"
    monkeypatch.setenv("VIDEOTASKS_LOCAL_STATE", str(state))
    with pytest.raises(CliError) as missing:
        config.load(local=True)
    assert missing.value.exit_code == ExitCode.NOT_CONFIGURED
    assert "make dev" in missing.value.message

    write_state(
        LocalStackState("http://127.0.0.1:1/api/video", "ws://127.0.0.1:2", "dev", "http://m", "r", os.getpid()), state
    )

    settings = config.load(local=True)
    assert (settings.api_url.value, settings.api_url.source) == ("http://127.0.0.1:1/api/video", "local stack")


def test_missing_settings_name_the_variables_and_how_to_set_them(isolated):
    with pytest.raises(CliError) as error:
        config.load().require()

    assert error.value.exit_code == ExitCode.NOT_CONFIGURED == 6
    assert "VIDEOTASKS_API_URL and VIDEOTASKS_TOKEN" in error.value.message
    assert "videotasks config" in error.value.message


def test_the_config_file_is_owner_only_and_a_broken_one_is_one_line(isolated):
    config.write_file(isolated, {"token": TOKEN})
    assert stat.S_IMODE(isolated.stat().st_mode) == 0o600

    isolated.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CliError, match="not a videotasks config file"):
        config.load()


def test_a_masked_token_shows_only_its_tail_and_length():
    assert config.mask(TOKEN) == f"…1234 ({len(TOKEN)} characters)"
    assert config.mask("short") == "*** (5 characters)"
    assert config.mask(None) == "-"


def test_config_saves_reads_the_token_from_stdin_and_never_prints_it(isolated):
    runner = CliRunner()

    saved = runner.invoke(
        cli.app, ["config", "--api-url", "https://api.example/api/video", "--token", "-"], input=TOKEN + "\n"
    )
    shown = runner.invoke(cli.app, ["--json", "config"])

    assert saved.exit_code == 0, saved.output
    assert json.loads(isolated.read_text())["token"] == TOKEN
    assert TOKEN not in saved.output + shown.output
    reply = json.loads(shown.stdout)
    assert reply["token"] == {"value": config.mask(TOKEN), "source": f"file ({isolated})"}
    assert reply["ws_url"] == {"value": None, "source": "not set"}


def test_config_refuses_an_api_url_that_is_not_http(isolated):
    result = CliRunner().invoke(cli.app, ["config", "--api-url", "ftp://x"])

    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.strip() == "videotasks: --api-url ftp://x: not an http(s):// URL"
    assert not isolated.exists()


# exit codes and errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "code"),
    [("COMPLETED", 0), ("FAILED", 1), ("CANCELLED", 3), ("completed", 0), ("failed", 1)],
)
def test_a_finished_task_maps_to_its_exit_code(status, code):
    assert exit_code_for_status(status) == code


def test_the_exit_code_numbers_are_the_documented_ones():
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "TASK_FAILED": 1,
        "USAGE": 2,
        "TASK_CANCELLED": 3,
        "UNREACHABLE": 4,
        "API_ERROR": 5,
        "NOT_CONFIGURED": 6,
        "WRONG_SCHEMA": 7,
        "ROWS_FAILED": 8,
        "INTERNAL": 70,
        "INTERRUPTED": 130,
    }
    documented = (Path(__file__).resolve().parents[2] / "docs" / "CLI.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert f"| {int(code)} |" in documented, code


def api(handler: Any) -> ApiClient:
    return ApiClient("https://api.example/api/video", TOKEN, transport=httpx.MockTransport(handler))


def test_an_error_envelope_becomes_its_code_and_message_in_one_line():
    def refuse(request: httpx.Request) -> httpx.Response:
        message = f"Task x not found\n(you sent {TOKEN})"
        return httpx.Response(
            404, json={"success": False, "message": message, "error": {"code": "NOT_FOUND", "message": message}}
        )

    with pytest.raises(ApiError) as error:
        api(refuse).get_task("video_x")

    assert error.value.exit_code == ExitCode.API_ERROR
    assert error.value.message == "NOT_FOUND (404): Task x not found (you sent ***)"


def test_a_reply_that_is_not_the_envelope_says_so():
    with pytest.raises(CliError, match="did not answer JSON"):
        api(lambda request: httpx.Response(200, text="<html>")).stats()
    with pytest.raises(ApiError, match=r"HTTP_502 \(502\): Bad Gateway"):
        api(lambda request: httpx.Response(502, text="upstream")).stats()


def test_no_answer_is_unreachable_and_the_token_and_header_are_sent():
    seen: list[httpx.Request] = []

    def down(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ConnectError("Connection refused")

    with pytest.raises(CliError) as error:
        api(down).stats()

    assert error.value.exit_code == ExitCode.UNREACHABLE
    assert error.value.message == "cannot reach https://api.example/api/video/stats: Connection refused"
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("environ", "header"),
    [({"LANG": "zh_CN.UTF-8"}, "zh-CN, en;q=0.5"), ({"LANG": "en_GB.UTF-8"}, "en"), ({}, "en")],
)
def test_the_api_is_asked_for_the_terminals_language(environ, header):
    assert accept_language(environ) == header


def test_run_turns_an_interrupt_into_130_and_a_bug_into_one_line(monkeypatch, capsys):
    def interrupted(**kwargs: Any) -> None:
        raise KeyboardInterrupt

    def broken(**kwargs: Any) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "app", interrupted)
    assert cli.run([]) == 130
    monkeypatch.setattr(cli, "app", broken)
    assert cli.run([]) == 70
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "videotasks: interrupted",
        "videotasks: internal error (ZeroDivisionError): division by zero",
    ]


def test_run_prints_a_cli_error_as_one_line_with_its_code(isolated, capsys):
    assert cli.run(["stats"]) == ExitCode.NOT_CONFIGURED
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("videotasks: not configured")
    assert cli.run(["list", "--limit", "0"]) == ExitCode.USAGE
    assert cli.run(["--help"]) == 0
    assert "Exit codes: 0 success" in capsys.readouterr().out


# rendering ----------------------------------------------------------------------------------------
TASK = {
    "videoId": "video_e7a620c7-2829-40d8-bbfb-77891f4621cc",
    "status": "FAILED",
    "progress": 40,
    "type": "VIDEO",
    "model": "veo-3.1-fast",
    "seconds": 8,
    "prompt": "a paper boat\non a rainy street",
    "createdAt": "2026-11-25T16:09:12.164Z",
    "error": {"code": "TIMEOUT", "message": "The video took too long"},
    "videoUrl": None,
}


def test_json_mode_prints_one_object_per_line(capsys):
    output = render.Output(json_mode=True)

    output.emit({"prompt": "雨中的纸船"}, "ignored")
    output.emit(TASK)

    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [{"prompt": "雨中的纸船"}, TASK]


def test_a_task_off_a_terminal_is_plain_name_value_lines(capsys):
    output = render.Output(json_mode=False)

    output.emit(TASK, render.task_view(output, TASK))

    out = capsys.readouterr().out
    assert "videoId         video_e7a620c7-2829-40d8-bbfb-77891f4621cc" in out
    assert "error           TIMEOUT: The video took too long" in out
    assert "videoUrl" not in out  # no empty rows
    assert "\x1b[" not in out  # no colour off a terminal


def test_a_list_shows_full_ids_and_short_prompts(capsys):
    output = render.Output(json_mode=False)
    long = {**TASK, "prompt": "x" * 200, "status": "QUEUED", "queuePosition": 2}

    output.emit({}, render.task_table(output, [TASK, long]))

    out = capsys.readouterr().out
    assert out.count(TASK["videoId"]) == 2
    assert "a paper boat on a rainy street" in out
    assert "x" * (render.PROMPT_WIDTH - 1) + "…" in out
    assert "#2 in queue" in out


def test_times_are_shown_in_local_time_to_the_second():
    assert render.when(None) == "-"
    assert render.when("not a time") == "not a time"
    assert len(render.when("2026-11-25T16:09:12.164Z")) == len("2026-11-25 16:09:12")


# --image ------------------------------------------------------------------------------------------
def test_an_https_image_is_passed_as_it_is():
    assert input_reference("https://cdn.example/cat.png") == "https://cdn.example/cat.png"


def test_a_small_file_goes_inline_as_a_data_url_whatever_its_name(tmp_path):
    image = tmp_path / "reference.bin"
    image.write_bytes(PNG_1X1)

    assert input_reference(str(image)) == "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()


def test_a_large_or_unknown_file_is_a_usage_error(tmp_path):
    large = tmp_path / "large.png"
    large.write_bytes(PNG_1X1 + b"\0" * MAX_INPUT_REFERENCE_CHARS)
    text = tmp_path / "notes.txt"
    text.write_text("hello")

    with pytest.raises(CliError, match=r"https:// URL") as too_large:
        input_reference(str(large))
    with pytest.raises(CliError, match="not a PNG") as unknown:
        input_reference(str(text))
    with pytest.raises(CliError, match="No such file") as missing:
        input_reference(str(tmp_path / "missing.png"))
    assert too_large.value.exit_code == unknown.value.exit_code == missing.value.exit_code == ExitCode.USAGE


# following --------------------------------------------------------------------------------------
def test_the_token_joins_the_websocket_url_once():
    assert with_token("wss://ws.example/prod?lang=zh-CN&token=old", "t") == "wss://ws.example/prod?lang=zh-CN&token=t"


def test_only_messages_that_move_the_task_forward_are_shown():
    shown: list[dict[str, Any]] = []
    follower = Follower(api(lambda request: httpx.Response(500)), None, shown.append, print)

    for status, progress, position in [
        ("queued", 0, 2),
        ("queued", 0, 1),
        ("in_progress", 50, None),
        ("in_progress", 30, None),  # stale
        ("queued", 0, 1),  # stale
        ("completed", 100, None),
        ("failed", 100, None),  # after the end: never
    ]:
        follower.apply(
            update_of_message({"videoId": "v", "status": status, "progress": progress, "queuePosition": position})
        )

    assert [(u["status"], u["progress"], u["queuePosition"]) for u in shown] == [
        ("QUEUED", 0, 2),
        ("QUEUED", 0, 1),
        ("PROCESSING", 50, None),
        ("COMPLETED", 100, None),
    ]


def test_without_a_websocket_the_task_is_followed_by_polling():
    answers = iter(["QUEUED", "PROCESSING", "COMPLETED", "COMPLETED"])

    def task(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"success": True, "data": {"videoId": "v", "status": next(answers)}})

    notes: list[str] = []
    follower = Follower(api(task), "ws://127.0.0.1:9/unused", lambda update: None, notes.append, poll_seconds=0)

    final = follower.follow("v")

    assert final["status"] == "COMPLETED"
    assert follower.transport == "polling"
    assert len(notes) == 1
    assert notes[0].startswith("WebSocket unavailable (")
    assert notes[0].endswith("); following the task by polling")


# download ---------------------------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.started: tuple[int | None, int] | None = None
        self.advanced = 0

    def start(self, total: int | None, done: int) -> None:
        self.started = (total, done)

    def advance(self, size: int) -> None:
        self.advanced += size


OBJECT = bytes(range(256)) * 40


def ranged(request: httpx.Request) -> httpx.Response:
    """An S3-like server: honours `Range: bytes=N-`."""
    header = request.headers.get("range")
    if not header:
        return httpx.Response(200, content=OBJECT)
    start = int(header.removeprefix("bytes=").rstrip("-"))
    if start >= len(OBJECT):
        return httpx.Response(416)
    return httpx.Response(
        206, content=OBJECT[start:], headers={"Content-Range": f"bytes {start}-{len(OBJECT) - 1}/{len(OBJECT)}"}
    )


def test_a_download_continues_its_part_file_with_a_range_request(tmp_path):
    target = tmp_path / "video.mp4"
    download.part_path(target).write_bytes(OBJECT[:1000])
    progress = Recorder()

    done = download.fetch("https://s3.example/x", target, progress, transport=httpx.MockTransport(ranged))

    assert target.read_bytes() == OBJECT
    assert not download.part_path(target).exists()
    assert (done.bytes, done.resumed_from) == (len(OBJECT), 1000)
    assert progress.started == (len(OBJECT), 1000)
    assert progress.advanced == len(OBJECT) - 1000


def test_a_server_that_ignores_range_starts_the_file_over(tmp_path):
    target = tmp_path / "video.mp4"
    download.part_path(target).write_bytes(b"garbage")

    done = download.fetch(
        "https://s3.example/x",
        target,
        Recorder(),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=OBJECT)),
    )

    assert target.read_bytes() == OBJECT
    assert done.resumed_from == 0


def test_a_complete_part_file_is_renamed_and_an_expired_link_is_an_api_error(tmp_path):
    target = tmp_path / "video.mp4"
    download.part_path(target).write_bytes(OBJECT)

    done = download.fetch("https://s3.example/x", target, Recorder(), transport=httpx.MockTransport(ranged))
    assert target.read_bytes() == OBJECT
    assert done.resumed_from == len(OBJECT)

    with pytest.raises(CliError, match="HTTP 403") as expired:
        download.fetch(
            "https://s3.example/x?X-Amz-Signature=s",
            tmp_path / "other.mp4",
            Recorder(),
            transport=httpx.MockTransport(lambda r: httpx.Response(403)),
        )
    assert expired.value.exit_code == ExitCode.API_ERROR


def test_an_unreachable_media_host_names_the_host_not_the_signed_url(tmp_path):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    with pytest.raises(CliError) as error:
        download.fetch(
            "https://s3.example/key?X-Amz-Signature=abc",
            tmp_path / "v.mp4",
            Recorder(),
            transport=httpx.MockTransport(down),
        )

    assert error.value.exit_code == ExitCode.UNREACHABLE
    assert "X-Amz-Signature" not in error.value.message
    assert "s3.example" in error.value.message


def test_default_names_follow_the_content_type():
    assert download.default_name("video_1", "video/mp4") == "video_1.mp4"
    assert download.default_name("video_1", "image/png") == "video_1.png"
    assert download.default_name("video_1", "image/jpeg") == "video_1.jpg"
