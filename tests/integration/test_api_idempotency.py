"""Idempotent creation, one request after another: ``Idempotency-Key`` (or ``clientRequestId`` when no
header is sent) replays the task made first. Concurrent duplicates are in ``test_races.py``."""

from __future__ import annotations

from tests.integration.api_harness import OTHER_USER, Api, executions, item_count
from videotasks.adapters.executions import Executions

pytest_plugins = ["tests.integration.api_fixtures"]


def test_same_key_and_same_body_replays_the_same_task_with_one_execution(api: Api, aws_stack, counters):
    first = api.create(prompt="a koi pond", key="key-1")
    again = api.create(prompt="a koi pond", key="key-1")

    assert first.status == 201, first.body
    assert again.status == 200, again.body  # a replay, not a creation
    assert again.data["videoId"] == first.data["videoId"]
    assert item_count(aws_stack, "TASKS_TABLE") == 1
    assert len(executions(aws_stack)) == 1
    assert counters() == {"total": 1, "queued": 1, "video_total": 1, "video_queued": 1}


def test_replay_shows_the_task_as_it_is_now(api: Api, steps):
    video_id = api.create(key="key-1").data["videoId"]
    steps.complete(video_id)

    replay = api.create(key="key-1")

    assert replay.data["videoId"] == video_id
    assert replay.data["status"] == "COMPLETED"
    assert replay.data["videoUrl"]


def test_same_key_with_another_body_is_409_and_creates_nothing(api: Api, aws_stack):
    api.create(prompt="a koi pond", key="key-1")

    reply = api.create(prompt="a different pond", key="key-1")

    reply.error(409, "CONFLICT")
    assert "Idempotency-Key" in reply.body["message"]
    assert item_count(aws_stack, "TASKS_TABLE") == 1
    assert len(executions(aws_stack)) == 1


def test_client_request_id_is_the_key_when_no_header_is_sent(api: Api, aws_stack):
    first = api.create(prompt="a koi pond", clientRequestId="ui-7")
    again = api.create(prompt="a koi pond", clientRequestId="ui-7")

    assert again.data["videoId"] == first.data["videoId"]
    assert item_count(aws_stack, "TASKS_TABLE") == 1
    assert len(executions(aws_stack)) == 1


def test_client_request_id_reused_with_another_body_is_409(api: Api, aws_stack):
    api.create(prompt="a koi pond", clientRequestId="ui-7")

    reply = api.create(prompt="a shark tank", clientRequestId="ui-7")

    reply.error(409, "CONFLICT")
    assert item_count(aws_stack, "TASKS_TABLE") == 1


def test_the_header_is_the_key_when_both_are_sent(api: Api, aws_stack):
    first = api.create(clientRequestId="ui-7", key="header-1")
    second = api.create(clientRequestId="ui-7", key="header-2")

    assert first.status == second.status == 201
    assert first.data["videoId"] != second.data["videoId"]
    assert item_count(aws_stack, "TASKS_TABLE") == 2


def test_without_any_key_each_request_creates_a_task(api: Api, aws_stack):
    first = api.create(prompt="a koi pond")
    second = api.create(prompt="a koi pond")

    assert first.data["videoId"] != second.data["videoId"]
    assert len(executions(aws_stack)) == 2


def test_keys_belong_to_their_user(api: Api, aws_stack):
    mine = api.create(prompt="a koi pond", key="shared-key")
    theirs = api.as_user(OTHER_USER).create(prompt="a koi pond", key="shared-key")

    assert theirs.status == 201, theirs.body
    assert theirs.data["videoId"] != mine.data["videoId"]
    assert api.as_user(OTHER_USER).get(mine.data["videoId"]).status == 404


def test_a_create_that_failed_to_start_does_not_hold_its_key(api: Api, aws_stack, monkeypatch):
    original = Executions.start
    monkeypatch.setattr(Executions, "start", lambda self, video_id: (_ for _ in ()).throw(RuntimeError("down")))
    api.create(key="key-1").error(500, "INTERNAL")
    monkeypatch.setattr(Executions, "start", original)

    retried = api.create(key="key-1")

    assert retried.status == 201, retried.body
    assert retried.data["status"] == "QUEUED"
    assert len(executions(aws_stack)) == 1


def test_create_in_flight_records_when_its_lambda_times_out_so_a_crashed_attempt_frees_its_key(
    api: Api, aws_stack, monkeypatch
):
    seen: list[dict] = []
    original = Executions.start

    def start_and_look(self, video_id, **options):
        seen.extend(aws_stack.table("IDEMPOTENCY_TABLE").scan()["Items"])
        return original(self, video_id, **options)

    monkeypatch.setattr(Executions, "start", start_and_look)

    assert api.create(key="key-1").status == 201

    [record] = seen
    assert record["status"] == "INPROGRESS"
    assert "in_progress_expiration" in record
