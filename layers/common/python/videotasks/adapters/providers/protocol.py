"""The one interface the workflow speaks to every video provider, whatever its API looks like.

An adapter is one module per provider API shape (OpenAI Videos and its relays, Gemini API Veo, the fal
queue, Replicate predictions, ...). Each turns our ``JobRequest`` into its provider's create call, and
its provider's job object back into a ``ProviderJob`` with a state from our closed set
(``ProviderState``), the provider's raw status word kept. Every adapter shares the HTTP core in
``_http.py``: per-phase timeouts under the caller's ``Deadline``, errors mapped onto the transient and
permanent provider exceptions (which the state machine's ``Retry``/``Catch`` match by class name) with a
stable code, secrets scrubbed from every message, and media streamed, never held whole in memory.

What an adapter cannot do, it says in its ``capabilities``; a request a model cannot take is refused
at create time from the catalog, never by the provider later.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from videotasks.adapters.providers._http import JobRequest, MediaStream, ProviderJob
from videotasks.domain.deadline import Deadline
from videotasks.domain.submission import ListedJob

__all__ = ["Capabilities", "JobRequest", "MediaStream", "ProviderJob", "VideoAdapter"]


@dataclass(frozen=True)
class Capabilities:
    """What a provider shape offers beyond create, status and content."""

    progress: bool  # reports a percentage while running
    queue_position: bool  # reports where a queued job stands
    eta: bool  # reports when a job is expected to finish
    webhook: bool  # can call us back when a job changes
    cancel: bool  # can stop a job it has accepted
    remix: bool  # can make a new video from a finished one
    reference_image: bool  # takes an input image to start from
    list_jobs: bool = False  # can list recent jobs (Submit then adopts a job a lost reply made)


@runtime_checkable
class VideoAdapter(Protocol):
    """A client of one provider entry (base URL, credentials, paths) speaking one API shape.

    Synchronous and short-lived: one Lambda invocation builds it, makes one or two calls, closes it.
    Every call takes the invocation's ``Deadline`` and raises only ``videotasks.domain.errors`` provider
    exceptions.
    """

    SHAPE: ClassVar[str]  # the shape's name in the catalog: "openai_videos", "gemini_veo", "fal_queue", ...
    CAPABILITIES: ClassVar[Capabilities]

    def create_job(self, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        """Start a job. Sends ``request.idempotency_key`` where the provider honours one."""
        ...

    def get_job(self, job_id: str, *, deadline: Deadline | None = None) -> ProviderJob:
        """The job as the provider reports it now; a job the provider no longer knows is
        ``ProviderJobLostError``."""
        ...

    def open_content(
        self, job: ProviderJob, *, deadline: Deadline | None = None
    ) -> AbstractContextManager[MediaStream]:
        """The finished media of a SUCCEEDED job, streamed; gone media is permanent
        (``PROVIDER_CONTENT_GONE``)."""
        ...

    def remix_job(self, source_job_id: str, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        """Start a job that remixes the finished job ``source_job_id`` with ``request.prompt``. Only called
        when ``CAPABILITIES.remix``; a source the provider no longer has is a permanent error."""
        ...

    def cancel_job(self, job_id: str, *, deadline: Deadline | None = None) -> None:
        """Ask the provider to stop the job (best effort). Only called when ``CAPABILITIES.cancel``."""
        ...

    def list_recent_jobs(self, limit: int = 100, *, deadline: Deadline | None = None) -> list[ListedJob]:
        """Recent jobs, newest first, for adopting one a lost create reply made. ``[]`` when the shape has
        no listing (``CAPABILITIES.list_jobs`` is false)."""
        ...

    def close(self) -> None: ...
