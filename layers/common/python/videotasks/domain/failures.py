"""What a failed task tells its user: a stable code and our own sentence; the provider's words go to details.

Providers explain failures in their own words and codes (``moderation_blocked``, ``INVALID_ARGUMENT``,
``content_policy_violation``...), which change without notice, may echo the prompt, and differ for the same
cause from one provider to the next. A client needs one closed set of codes to act on, so a task's
``error`` carries our code and our sentence, and whatever the provider said is kept in
``error.details`` (``providerCode``, ``providerMessage``) for a person who wants to look, as in the logs.
"""

from __future__ import annotations

import re

from videotasks.domain.models import TaskError

# Our codes for failures a provider reports in its own words, each with what it means for the user. Codes
# whose message we write ourselves (PROVIDER_BAD_MEDIA, PROVIDER_TIMEOUT, INVALID_INPUT naming the allowed
# values, ...) keep it: it is already ours, and says more.
PROVIDER_FAILURES: dict[str, str] = {
    "PROVIDER_REJECTED": "The provider refused the request",
    "CONTENT_POLICY": "The provider's content policy refused this prompt or its result",
    "PROVIDER_AUTH_FAILED": "The provider refused this service's credentials; the operator must check its key",
    "PROVIDER_RATE_LIMITED": "The provider kept refusing requests as too many",
    "PROVIDER_UNAVAILABLE": "The provider was unavailable",
    "PROVIDER_FAILED": "The provider could not generate this result",
    "PROVIDER_CANCELLED": "The provider cancelled the job",
    "PROVIDER_CONTENT_GONE": "The provider no longer has the finished media",
    "PROVIDER_JOB_LOST": "The provider no longer knows the job",
}
# A provider's own code that names a content refusal, in any provider's spelling.
_POLICY_WORDS = re.compile(r"moderat|policy|safety|nsfw|sensitive|blocked|filtered", re.IGNORECASE)
_OUR_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def for_users(error: TaskError) -> TaskError:
    """``error`` as the task shows it: a provider's failure under our code and sentence, the provider's
    own code and message moved into ``details``. Our other errors (``TIMEOUT``, ``INTERNAL``...) pass."""
    code = error.code
    provider_code: str | None = None
    if not _OUR_CODE.match(code):  # the provider's own code, passed on by its job object
        provider_code = code
        code = "CONTENT_POLICY" if _POLICY_WORDS.search(code) else "PROVIDER_FAILED"
    sentence = PROVIDER_FAILURES.get(code)
    if sentence is None:
        return error
    details = dict(error.details or {})
    if provider_code:
        details["providerCode"] = provider_code
    if error.message and error.message != sentence:
        details["providerMessage"] = error.message
    return TaskError(code=code, message=sentence, details=details or None)
