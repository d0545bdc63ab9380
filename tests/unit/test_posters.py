"""Poster frames, the pure parts: where a poster goes, the ffmpeg command, how the Task and the socket show it,
and the model texts the playground reads (GET /models)."""

from __future__ import annotations

import pytest

from tests.fixtures.tasks import new_task
from videotasks.domain import messages, socket_outbound
from videotasks.domain.catalog import example_prompts, load_document, model_description
from videotasks.domain.models import TaskStatus, TaskType
from videotasks.domain.posters import POSTER_WIDTH, is_poster_key, poster_command, poster_key
from videotasks.domain.wire import INTERNAL_FIELDS, task_json

C = TaskStatus.COMPLETED
STAMP = 1_700_000_000_000


def test_a_poster_sits_beside_its_video_under_the_media_prefix() -> None:
    key = poster_key("media/video_1.mp4")

    assert key == "media/video_1.mp4.poster.jpg"
    assert key.startswith("media/") and is_poster_key(key)
    assert not is_poster_key("media/video_1.mp4") and not is_poster_key("media/video_1.png")


def test_the_command_seeks_before_the_input_takes_one_frame_and_never_enlarges() -> None:
    command = poster_command("/opt/ffmpeg", "/tmp/v", "/tmp/p.jpg", offset_seconds=0.5)

    assert command[0] == "/opt/ffmpeg" and command[-1] == "/tmp/p.jpg"
    assert command.index("-ss") < command.index("-i")  # input seeking: no decoding up to the offset
    assert command[command.index("-ss") + 1] == "0.5"
    assert command[command.index("-i") + 1] == "/tmp/v"
    assert command[command.index("-frames:v") + 1] == "1"
    assert command[command.index("-vf") + 1] == f"scale='min(iw,{POSTER_WIDTH})':-2"
    assert "-nostdin" in command and "-y" in command


def test_the_second_try_starts_at_the_first_frame() -> None:
    command = poster_command("ffmpeg", "in", "out", offset_seconds=0.0)

    assert command[command.index("-ss") + 1] == "0"


def test_the_poster_key_never_reaches_a_client_and_the_poster_url_does() -> None:
    task = new_task(status=C, mediaKey="media/v.mp4", posterKey="media/v.mp4.poster.jpg")

    body = task_json(task, video_url="https://v", poster_url="https://p")

    assert "posterKey" in INTERNAL_FIELDS and "posterKey" not in body
    assert (body["videoUrl"], body["posterUrl"]) == ("https://v", "https://p")


def test_started_is_when_submit_first_asked_the_provider_and_finished_only_once_ended() -> None:
    waiting = new_task()
    running = new_task(status=TaskStatus.PROCESSING, submitStartedAt="2026-01-01T00:00:01.000Z")
    failed = new_task(
        status=TaskStatus.FAILED, submitStartedAt="2026-01-01T00:00:01.000Z", finishedAt="2026-01-01T00:00:09.000Z"
    )
    cancelled_before = new_task(status=TaskStatus.CANCELLED, updatedAt="2026-01-01T00:00:05.000Z")

    assert (task_json(waiting, video_url=None)["startedAt"], task_json(waiting, video_url=None)["finishedAt"]) == (
        None,
        None,
    )
    assert task_json(running, video_url=None)["startedAt"] == "2026-01-01T00:00:01.000Z"
    assert task_json(running, video_url=None)["finishedAt"] is None
    assert task_json(failed, video_url=None)["finishedAt"] == "2026-01-01T00:00:09.000Z"
    # ended before finishedAt was written: its last write is when it ended
    assert task_json(cancelled_before, video_url=None)["finishedAt"] == "2026-01-01T00:00:05.000Z"


def test_a_recorded_poster_is_news_after_the_end_and_nothing_else_is() -> None:
    done = new_task(status=C, progress=100, mediaKey="media/v.mp4", externalTaskId="ext")
    with_poster = done.model_copy(update={"posterKey": "media/v.mp4.poster.jpg"})

    assert socket_outbound.poster_arrived(done, with_poster)
    assert not socket_outbound.is_worth_sending(done, with_poster)  # never a second taskCompleted
    assert not socket_outbound.poster_arrived(with_poster, with_poster)
    assert not socket_outbound.poster_arrived(None, with_poster)


def test_the_poster_message_carries_both_urls_and_both_ids() -> None:
    task = new_task(status=C, progress=100, externalTaskId="ext", posterKey="media/v.mp4.poster.jpg")

    message = socket_outbound.task_poster(task, video_url="https://v", poster_url="https://p", timestamp_ms=STAMP)

    assert message["type"] == "taskPoster"
    assert message["payload"] == {
        "videoId": task.videoId,
        "externalVideoId": "ext",
        "updatedAt": task.updatedAt,
        "result": {"videoUrl": "https://v", "posterUrl": "https://p"},
    }


def test_a_completed_message_carries_the_poster_url_it_is_given() -> None:
    task = new_task(status=C, progress=100, externalTaskId="ext")

    message = socket_outbound.task_message(task, video_url="https://v", poster_url="https://p", timestamp_ms=STAMP)

    assert message["payload"]["result"] == {"videoUrl": "https://v", "posterUrl": "https://p"}


@pytest.mark.parametrize("lang", messages.LANGS)
def test_every_catalog_model_has_its_own_description_in_both_languages(lang: str) -> None:
    for model in load_document().models:
        assert messages.has(f"model_description_{model.id}"), model.id
        text = model_description(model, lang)
        assert text and "{" not in text


def test_a_model_without_a_description_reads_a_plain_fallback() -> None:
    model = load_document().models[0].model_copy(update={"id": "brand-new"})

    assert model_description(model, "en") == "A VIDEO model"


@pytest.mark.parametrize("task_type", list(TaskType))
def test_example_prompts_come_in_both_languages_and_differ(task_type: TaskType) -> None:
    english, chinese = example_prompts(task_type, "en"), example_prompts(task_type, "zh-CN")

    assert len(english) == len(chinese) == 3
    assert len(set(english)) == 3 and not set(english) & set(chinese)
