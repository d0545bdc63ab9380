"""What a failed task tells its user: a stable code and our own sentence; the provider's words go to details.

Providers explain failures in their own words and codes (``moderation_blocked``, ``INVALID_ARGUMENT``,
``content_policy_violation``...), which change without notice, may echo the prompt, and differ for the same
cause from one provider to the next. A client needs one closed set of codes to act on, so a task's
``error`` carries our code and our sentence, and whatever the provider said is kept in
``error.details`` (``providerCode``, ``providerMessage``) for a person who wants to look, as in the logs.
"""

from __future__ import annotations

import re
from typing import Any

from videotasks.domain import messages
from videotasks.domain.models import TaskError

# Codes whose words, when they differ from our sentence, are ours (kept as ``details.reason``); every
# other code's words come from a provider or its adapter (kept as ``details.providerMessage``).
_OUR_FAILURES = frozenset({"TIMEOUT", "INTERNAL", "EXECUTION_ABORTED", "QUEUE_TIMEOUT"})
# A provider's own code that names a content refusal, in any provider's spelling.
_POLICY_WORDS = re.compile(r"moderat|policy|safety|nsfw|sensitive|blocked|filtered", re.IGNORECASE)
_OUR_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def failure_key(code: str) -> str:
    """The catalogue key of ``code``'s sentence; a code without one reads the generic sentence."""
    key = f"failure_{code.lower()}"
    return key if messages.has(key) else "failure_other"


def sentence(code: str, lang: str = messages.DEFAULT_LANG) -> str:
    return messages.render(failure_key(code), lang)


def for_users(error: TaskError) -> TaskError:
    """``error`` as the task stores it: our code and our sentence; the provider's own code, and any words
    other than our sentence (a provider's message, an HTTP method, path or status, an exception's text),
    moved into ``details``. The message a user reads is only ever a catalogue sentence."""
    code = error.code
    provider_code: str | None = None
    if not _OUR_CODE.match(code):  # the provider's own code, passed on by its job object
        provider_code = code
        code = "CONTENT_POLICY" if _POLICY_WORDS.search(code) else "PROVIDER_FAILED"
    ours = sentence(code)
    details = dict(error.details or {})
    if provider_code:
        details["providerCode"] = provider_code
    if error.message and error.message != ours:
        details["reason" if code in _OUR_FAILURES else "providerMessage"] = error.message
    return TaskError(code=code, message=ours, details=details or None)


def public_error(error: TaskError, lang: str) -> dict[str, Any]:
    """A task's ``error`` as its owner reads it: the sentence of its code in ``lang`` (also for tasks
    stored before their message was a catalogue sentence), ``details`` as stored."""
    return {**error.model_dump(mode="json", exclude_none=True), "message": sentence(error.code, lang)}
