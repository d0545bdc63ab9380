"""A failed task shows our code and sentence; what the provider said is kept in details only."""

from __future__ import annotations

import pytest

from videotasks.domain.failures import PROVIDER_FAILURES, for_users
from videotasks.domain.models import TaskError


def test_a_provider_code_of_ours_gets_our_sentence_and_the_raw_message_moves_to_details() -> None:
    shown = for_users(TaskError(code="PROVIDER_REJECTED", message="POST /v1/videos answered 400: 'prompt' too long"))
    assert shown.code == "PROVIDER_REJECTED"
    assert shown.message == PROVIDER_FAILURES["PROVIDER_REJECTED"]
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
    assert (shown.code, shown.message) == (code, PROVIDER_FAILURES[code])
    assert shown.details == {"providerCode": raw_code, "providerMessage": "what the provider said"}


@pytest.mark.parametrize("code", ["TIMEOUT", "INTERNAL", "EXECUTION_ABORTED", "PROVIDER_BAD_MEDIA", "INVALID_INPUT"])
def test_failures_we_word_ourselves_pass_unchanged(code: str) -> None:
    error = TaskError(code=code, message="The task's workflow ran out of time")
    assert for_users(error) == error


def test_an_error_without_details_keeps_the_two_field_shape_clients_read() -> None:
    assert TaskError(code="TIMEOUT", message="late").model_dump(mode="json") == {"code": "TIMEOUT", "message": "late"}


def test_applying_it_twice_changes_nothing_more() -> None:
    once = for_users(TaskError(code="moderation_blocked", message="no"))
    assert for_users(once) == once
