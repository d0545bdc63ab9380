"""The provider key and the JWT secret never appear in logs or replies.

A local stack of its own (`python -m local`) runs with a canary JWT secret and talks, as to a real
provider (``SORA_BASE_URL``/``SORA_API_KEY``), to a fake provider started here that accepts only a
canary key. A whole life goes through it (videos completing, an image, a failure, a cancel, bad tokens,
validation errors, WebSocket updates and a refused handshake); then the stack is stopped and its whole
stdout/stderr, every HTTP reply (headers and body) and every WebSocket message are searched for both
secrets (and any other value in its Secrets Manager, the cursor-signing key), raw and in the encodings
a careless log line would use.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from local.fake_provider import FakeProviderConfig, serve_in_background
from local.launcher import RunningStack, start_stack
from tests.fixtures.providers import RELAY_MODEL
from tests.security.tokens import by_name, hs256_bad_tokens, valid_hs256

pytestmark = pytest.mark.e2e

JWT_CANARY = f"jwt-secret-canary-{secrets.token_hex(16)}"
PROVIDER_CANARY = f"sk-provider-canary-{secrets.token_hex(16)}"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def leaked_forms(secret: str) -> dict[str, str]:
    """The secret as a log line or a reply could carry it; its random tail alone catches a truncation."""
    raw = secret.encode()
    return {
        "raw": secret,
        "random part": secret[-32:],
        "url-encoded": urllib.parse.quote(secret, safe=""),
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "hex": raw.hex(),
    }


@pytest.fixture(scope="module")
def canary_provider_url() -> Iterator[str]:
    with serve_in_background(FakeProviderConfig(video_seconds=2.0, api_key=PROVIDER_CANARY)) as url:
        yield url


@pytest.fixture(scope="module")
def canary_stack(canary_provider_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(
        tmp_path_factory.mktemp("canary-stack"),
        {
            "JWT_SECRET": JWT_CANARY,
            "SORA_BASE_URL": canary_provider_url,
            "SORA_API_KEY": PROVIDER_CANARY,
            "POLL_INTERVAL_SECONDS": "1",
        },
    )
    yield stack
    stack.stop()


class Recorder:
    """Every HTTP reply and WebSocket message the clients of this test received, as text."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.messages: list[str] = []
        self.tokens: list[str] = []  # every valid token handed to a client

    def token(self, user: str) -> str:
        token = valid_hs256(user, JWT_CANARY).removeprefix("Bearer ")
        self.tokens.append(token)
        return token

    async def on_response(self, response: httpx.Response) -> None:
        await response.aread()
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.replies.append(f"{response.request.method} {response.request.url} -> {response.status_code}\n{headers}")
        self.replies.append(response.content.decode("utf-8", errors="replace"))

    def client(self, stack: RunningStack, user: str | None, **headers: str) -> httpx.AsyncClient:
        if user is not None:
            headers.setdefault("Authorization", f"Bearer {self.token(user)}")
        return httpx.AsyncClient(
            base_url=stack.api_url,
            headers=headers,
            timeout=30.0,
            trust_env=False,
            event_hooks={"response": [self.on_response]},
        )


async def a_whole_life(stack: RunningStack, recorder: Recorder, user: str) -> dict[str, dict[str, Any]]:
    """Drive the stack through every kind of task ending and refusal; return the tasks at their end."""
    async with (
        websockets.connect(f"{stack.ws_url}/?token={recorder.token(user)}") as socket,
        recorder.client(stack, user) as api,
        recorder.client(stack, None) as anonymous,
    ):

        async def listen() -> None:
            async for message in socket:
                recorder.messages.append(str(message))

        listener = asyncio.create_task(listen())
        await socket.send(json.dumps({"action": "subscribe"}))

        prompts = {
            # The relay's model: its entry is the one pointed at this test's canary provider.
            "video": {"prompt": "a paper boat on a rainy street", "model": RELAY_MODEL},
            "retried": {"prompt": "a relay having a bad day [fault:5xx_burst]", "model": RELAY_MODEL},
            "image": {"prompt": "a red bicycle", "type": "IMAGE"},
            "failing": {"prompt": "media the provider loses [fault:content_gone]", "model": RELAY_MODEL},
            "cancelled": {"prompt": "never mind", "model": RELAY_MODEL},
        }
        ids = {}
        for name, body in prompts.items():
            created = await api.post("/tasks", json=body, headers={"Idempotency-Key": f"key-{name}"})
            assert created.status_code == 201, created.text
            ids[name] = created.json()["data"]["videoId"]
        assert (await api.post(f"/tasks/{ids['cancelled']}/cancel")).status_code == 200
        replay = await api.post("/tasks", json=prompts["video"], headers={"Idempotency-Key": "key-video"})
        assert replay.status_code == 200, replay.text

        # refusals of every kind
        for token in hs256_bad_tokens(user, JWT_CANARY):
            if token.name in ("missing", "wrong-secret", "expired", "alg-none", "not-yet-valid-nbf", "oversized"):
                headers = {"Authorization": token.authorization} if token.authorization else {}
                await anonymous.get("/tasks", headers=headers)
        await api.post("/tasks", content=b"{not json", headers={"Content-Type": "application/json"})
        await api.post("/tasks", json={"prompt": "x", "model": "no-such-model"})
        await api.get("/tasks/not-a-video-id")
        await api.get("/no-such-route")
        await api.put("/tasks")
        for path in ("/health", "/openapi.json", "/docs", "/stats", "/tasks?limit=2"):
            await api.get(path)
        await _refused_handshake(stack, by_name(hs256_bad_tokens(user, JWT_CANARY), "wrong-secret").query_token)

        tasks = {}
        deadline = time.monotonic() + stack.completion_deadline(extra_polls=6)
        for name, video_id in ids.items():
            while True:
                task = (await api.get(f"/tasks/{video_id}")).json()["data"]
                if task["status"] in TERMINAL or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.25)
            tasks[name] = task
            if task["status"] == "COMPLETED":
                content = (await api.get(f"/tasks/{video_id}/content")).json()["data"]
                fetched = await anonymous.get(content["url"])  # as a browser would: no token
                assert fetched.status_code == 200
        await api.get("/stats")
        await asyncio.sleep(0.5)  # the last pushes
        listener.cancel()
        return tasks


async def _refused_handshake(stack: RunningStack, token: str) -> None:
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(f"{stack.ws_url}/?token={token}"):
            pass


def test_neither_the_jwt_secret_nor_the_provider_key_appears_in_logs_or_replies(
    canary_stack: RunningStack, canary_provider_url: str
) -> None:
    recorder = Recorder()

    tasks = asyncio.run(a_whole_life(canary_stack, recorder, "canary-user"))
    stored_secrets = _secret_values(canary_stack)
    provider_jobs = httpx.get(f"{canary_provider_url}/fake/jobs", timeout=30.0, trust_env=False).json()["jobs"]
    canary_stack.stop()  # its shutdown is logged too
    log = canary_stack.log()

    # The canaries are the secrets this stack really works with...
    assert {JWT_CANARY, PROVIDER_CANARY} <= stored_secrets
    statuses = {name: task["status"] for name, task in tasks.items()}
    assert statuses == {
        "video": "COMPLETED",  # the provider took the canary key (it refuses any other)...
        "retried": "COMPLETED",
        "image": "COMPLETED",
        "failing": "FAILED",
        "cancelled": "CANCELLED",
    }, tasks
    assert len(provider_jobs) >= 3  # the video jobs (the cancelled task may end before it has one)
    # ...and the search looks where things were said.
    assert tasks["video"]["videoId"] in log
    assert "refused" in log
    assert any("UNAUTHORIZED" in reply for reply in recorder.replies)
    assert any("taskCompleted" in message for message in recorder.messages)

    # Nor does a client's bearer token: whoever reads the logs could act as that user until it expires.
    assert recorder.tokens
    for token in recorder.tokens:
        assert token.split(".")[2] not in log, "a client's token is in the stack's log"

    others = {
        f"secret #{number} of the stack": value
        for number, value in enumerate(sorted(stored_secrets - {JWT_CANARY, PROVIDER_CANARY}))
    }
    for secret_name, secret in {"JWT secret": JWT_CANARY, "provider key": PROVIDER_CANARY, **others}.items():
        for form, text in leaked_forms(secret).items():
            assert text not in log, f"the {secret_name} ({form}) is in the stack's log"
            for reply in recorder.replies:
                assert text not in reply, f"the {secret_name} ({form}) is in a reply: {reply[:300]}"
            for message in recorder.messages:
                assert text not in message, f"the {secret_name} ({form}) is in a WebSocket message: {message[:300]}"


def _secret_values(stack: RunningStack) -> set[str]:
    manager = stack.boto3_client("secretsmanager")
    names = [entry["ARN"] for entry in manager.list_secrets()["SecretList"]]
    return {manager.get_secret_value(SecretId=name)["SecretString"] for name in names}
