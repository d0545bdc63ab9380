"""Provider webhooks wake the waiting execution, and a bad one changes nothing (services/webhooks.py, waits.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fixtures.tasks import new_task
from tests.unit.test_webhooks import NOW, SECRET, standard_signed
from videotasks.domain.catalog import ProviderEntry
from videotasks.domain.errors import NotFoundError, UnauthorizedError, UnavailableError
from videotasks.domain.models import TaskStatus
from videotasks.services.waits import WaitService, WebhookArrivedError
from videotasks.services.webhooks import WebhookService

REPLICATE = ProviderEntry(
    id="replicate",
    shape="replicate",
    base_url="https://api.replicate.com",
    path=None,
    auth=None,
    secret_name="replicate-token",
    webhook_secret_name="replicate-webhook-secret",
)
GEMINI = ProviderEntry(
    id="gemini", shape="gemini_veo", base_url="https://g.example", path=None, auth=None, secret_name="k"
)
JOB = "prediction_1"


@dataclass
class Catalog:
    entries: dict[str, ProviderEntry]


@dataclass
class Tasks:
    tasks: list[Any]

    def find_by_external_id(self, external_id: str, *, provider: str) -> Any:
        return next((t for t in self.tasks if t.externalTaskId == external_id and t.provider == provider), None)


@dataclass
class Store:
    """The webhooks table's contract, in memory (tests/integration/test_webhook_store.py checks the real one)."""

    seen: set[str] = field(default_factory=set)
    tokens: dict[str, str] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    fail_take: bool = False

    def remember(self, entry_id: str, event_id: str, *, now: float) -> bool:
        key = f"{entry_id}#{event_id}"
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def forget(self, entry_id: str, event_id: str) -> None:
        self.seen.discard(f"{entry_id}#{event_id}")

    def take_token(self, video_id: str, *, now: float) -> str | None:
        if self.fail_take:
            raise RuntimeError("DynamoDB said no")
        token = self.tokens.pop(video_id, None)
        if token is None:
            self.pending.add(video_id)
        return token

    def park(self, video_id: str, token: str, *, now: float) -> Any:
        @dataclass
        class Parked:
            wake_now: bool

        if video_id in self.pending:
            self.pending.discard(video_id)
            return Parked(True)
        self.tokens[video_id] = token
        return Parked(False)


@dataclass
class Waker:
    woken: list[str] = field(default_factory=list)

    def wake(self, token: str) -> bool:
        self.woken.append(token)
        return True


@pytest.fixture
def running() -> Any:
    return new_task("alice", status=TaskStatus.PROCESSING, externalTaskId=JOB, provider="replicate")


def service(tasks: list[Any], store: Store, waker: Waker, *, secret: str | None = SECRET) -> WebhookService:
    return WebhookService(
        Catalog({"replicate": REPLICATE, "gemini": GEMINI}),  # type: ignore[arg-type]
        Tasks(tasks),  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        waker,  # type: ignore[arg-type]
        verification=lambda entry: {"secret": secret, "jwks": None},
        clock=lambda: float(NOW),
    )


def body(job: str = JOB, status: str = "succeeded") -> bytes:
    return json.dumps({"id": job, "status": status, "output": "https://replicate.delivery/x.mp4"}).encode()


def test_a_verified_webhook_wakes_the_parked_wait(running: Any) -> None:
    store, waker = Store(tokens={running.videoId: "token-1"}), Waker()

    received = service([running], store, waker).receive("replicate", standard_signed(body()), body())

    assert received.woke and received.video_id == running.videoId
    assert waker.woken == ["token-1"]


def test_a_webhook_while_nothing_waits_ends_the_next_wait_at_once(running: Any) -> None:
    store, waker = Store(), Waker()
    service([running], store, waker).receive("replicate", standard_signed(body()), body())

    with pytest.raises(WebhookArrivedError):
        WaitService(store, clock=lambda: float(NOW)).park(running.videoId, "token-2")  # type: ignore[arg-type]
    WaitService(store, clock=lambda: float(NOW)).park(running.videoId, "token-3")  # type: ignore[arg-type]
    assert store.tokens == {running.videoId: "token-3"}, "only the one wait after the webhook ends early"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (standard_signed(body(), secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="), "signature"),
        (standard_signed(body(), at=NOW - 301), "old"),
        ({}, "webhook-id"),
    ],
    ids=["forged", "stale", "unsigned"],
)
def test_a_forged_stale_or_unsigned_webhook_is_401_and_changes_nothing(
    running: Any, headers: dict[str, str], reason: str
) -> None:
    store, waker = Store(tokens={running.videoId: "token-1"}), Waker()

    with pytest.raises(UnauthorizedError, match=reason):
        service([running], store, waker).receive("replicate", headers, body())

    assert (store.seen, store.tokens, store.pending, waker.woken) == (set(), {running.videoId: "token-1"}, set(), [])


def test_a_replayed_webhook_is_401_and_wakes_nothing_more(running: Any) -> None:
    store, waker = Store(tokens={running.videoId: "token-1"}), Waker()
    hooks = service([running], store, waker)
    hooks.receive("replicate", standard_signed(body()), body())
    store.tokens[running.videoId] = "token-2"

    with pytest.raises(UnauthorizedError, match="already received"):
        hooks.receive("replicate", standard_signed(body()), body())
    assert waker.woken == ["token-1"] and store.tokens == {running.videoId: "token-2"}


def test_a_webhook_for_no_task_of_that_provider_is_404(running: Any) -> None:
    store, waker = Store(), Waker()
    other = body(job="prediction_of_someone_else")

    with pytest.raises(NotFoundError, match="prediction_of_someone_else"):
        service([running], store, waker).receive("replicate", standard_signed(other), other)
    assert (store.seen, store.pending, waker.woken) == (set(), set(), [])


@pytest.mark.parametrize("entry_id", ["gemini", "nobody"])
def test_a_provider_that_sends_no_webhooks_here_is_404(running: Any, entry_id: str) -> None:
    with pytest.raises(NotFoundError, match=entry_id):
        service([running], Store(), Waker()).receive(entry_id, standard_signed(body()), body())


def test_a_webhook_for_a_finished_task_is_taken_and_wakes_nothing(running: Any) -> None:
    done = running.model_copy(update={"status": TaskStatus.COMPLETED})
    store, waker = Store(), Waker()

    received = service([done], store, waker).receive("replicate", standard_signed(body()), body())

    assert not received.woke and waker.woken == [] and store.pending == set()


def test_a_webhook_we_could_not_act_on_is_not_a_replay_when_the_provider_retries(running: Any) -> None:
    store, waker = Store(tokens={running.videoId: "token-1"}, fail_take=True), Waker()
    hooks = service([running], store, waker)

    with pytest.raises(RuntimeError):
        hooks.receive("replicate", standard_signed(body()), body())
    store.fail_take = False
    assert hooks.receive("replicate", standard_signed(body()), body()).woke


def test_an_entry_whose_secret_is_not_a_webhook_secret_answers_503(running: Any) -> None:
    with pytest.raises(UnavailableError):
        service([running], Store(), Waker(), secret="not-a-whsec-secret").receive(
            "replicate", standard_signed(body()), body()
        )
