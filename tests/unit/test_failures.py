"""A failed task shows our code and a catalogue sentence; what anyone else said is kept in details only."""

from __future__ import annotations

import pytest

from videotasks.domain.failures import for_users, public_error, sentence
from videotasks.domain.models import TaskError


def test_a_provider_code_of_ours_gets_our_sentence_and_the_raw_message_moves_to_details() -> None:
    shown = for_users(TaskError(code="PROVIDER_REJECTED", message="POST /v1/videos answered 400: 'prompt' too long"))
    assert shown.code == "PROVIDER_REJECTED"
    assert shown.message == sentence("PROVIDER_REJECTED") == "The provider refused the request"
    assert shown.details == {"providerMessage": "POST /v1/videos answered 400: 'prompt' too long"}


@pytest.mark.parametrize(
    ("raw_code", "code"),
    [
        ("moderation_blocked", "CONTENT_POLICY"),
        ("content_policy_violation", "CONTENT_POLICY"),
        ("E005_sensitive", "CONTENT_POLICY"),
        ("generation_failed", "PROVIDER_FAILED"),
        ("internal_error", "PROVIDER_FAILED"),
    ],
)
def test_a_providers_own_code_becomes_one_of_ours_and_is_kept_in_details(raw_code: str, code: str) -> None:
    shown = for_users(TaskError(code=raw_code, message="what the provider said"))
    assert (shown.code, shown.message) == (code, sentence(code))
    assert shown.details == {"providerCode": raw_code, "providerMessage": "what the provider said"}


@pytest.mark.parametrize("code", ["TIMEOUT", "INTERNAL", "EXECUTION_ABORTED"])
def test_our_own_words_beside_the_sentence_are_kept_as_the_reason(code: str) -> None:
    shown = for_users(TaskError(code=code, message="The media could not be stored within the task's 900 seconds"))
    assert (shown.code, shown.message) == (code, sentence(code))
    assert shown.details == {"reason": "The media could not be stored within the task's 900 seconds"}


def test_a_code_without_a_sentence_of_its_own_reads_the_generic_one() -> None:
    shown = for_users(TaskError(code="SOMETHING_NEW", message="GET /v1/jobs/abc answered 418"))
    assert (shown.code, shown.message) == ("SOMETHING_NEW", "The task failed")
    assert shown.details == {"providerMessage": "GET /v1/jobs/abc answered 418"}


def test_an_error_without_details_keeps_the_two_field_shape_clients_read() -> None:
    assert TaskError(code="TIMEOUT", message="late").model_dump(mode="json") == {"code": "TIMEOUT", "message": "late"}
    assert for_users(TaskError(code="TIMEOUT", message=sentence("TIMEOUT"))).model_dump(mode="json") == {
        "code": "TIMEOUT",
        "message": sentence("TIMEOUT"),
    }


def test_applying_it_twice_changes_nothing_more() -> None:
    once = for_users(TaskError(code="moderation_blocked", message="no"))
    assert for_users(once) == once


def test_the_public_error_reads_in_the_readers_language_and_keeps_the_details() -> None:
    error = for_users(TaskError(code="moderation_blocked", message="The prompt was blocked"))
    shown = public_error(error, "zh-CN")
    assert shown == {
        "code": "CONTENT_POLICY",
        "message": "提示词或生成结果未通过内容安全审核",
        "details": {"providerCode": "moderation_blocked", "providerMessage": "The prompt was blocked"},
    }
    assert public_error(error, "en")["message"] == sentence("CONTENT_POLICY")


def test_a_task_stored_with_a_providers_words_as_its_message_shows_our_sentence() -> None:
    # Tasks failed before every message was a catalogue sentence kept their words; reading them must not
    # show those words either.
    old = TaskError(code="PROVIDER_BAD_REPLY", message="GET https://api.example/v1/videos/x answered 502: <html>")
    assert public_error(old, "en")["message"] == "The provider sent a reply we could not read"
