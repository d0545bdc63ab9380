"""Shared fixtures: an in-process AWS (moto) built from template.yaml, events from ``events/``, JWTs,
handlers imported in isolation, and fake providers that implement the provider clients' interface.

Everything here leans on what the project already has: ``local.template`` reads the template and
resolves its intrinsics, ``local.aws_setup`` creates its resources (with ``endpoint=None`` the boto3
clients go to the in-process moto), ``local.lambdas`` imports a function's ``app.py`` the way Lambda
does, and ``local.token`` signs tokens the way the Sora UI auth service does.
"""

from __future__ import annotations

import os

# Lambda sets its environment before any code is imported, and so must the tests: Powertools names
# the package's child loggers (videotasks.services.tasks, videotasks.services.workflow) after the service when they
# are imported, and a child named after "service_undefined" finds no parent handler.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "videotasks")

import contextlib
import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from local import aws_setup
from local.lambdas import FunctionRegistry
from local.moto_seam import MOTO_CONFIG
from local.template import Resolver, function_environment, load_template, resources
from local.token import make_token
from videotasks import wiring
from videotasks.adapters import aws
from videotasks.adapters.media import MediaStore
from videotasks.adapters.providers import JobRequest, MediaStream, ProviderJob
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderJobLostError
from videotasks.domain.lifecycle import ProviderState, normalise_provider_status
from videotasks.domain.models import Task, TaskStatus, TaskType, iso, utc_now
from videotasks.domain.submission import ListedJob
from videotasks.edge import auth
from videotasks.services.workflow import Workflow
from videotasks.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events"
REGION = "us-east-1"
# At least 32 bytes, as RFC 7518 asks of HS256 keys (PyJWT warns about shorter ones).
JWT_SECRET = "tests-jwt-secret-0123456789abcdef0123456789"
PROVIDER_KEY = "tests-provider-key-not-a-real-one"
STAGE = "test"
# Speed only: moto otherwise drops boto3's default session at every start, and each new one registers
# its handlers and reads its configuration again. Credentials and region come from the environment.
KEEP_BOTO3_SESSION = {"core": {"reset_boto3_session": False}}
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def pytest_configure(config: pytest.Config) -> None:
    # Powertools warns on every invocation of a @log_metrics handler that recorded no metric (a GET, say);
    # Python shows it once per process in Lambda, but the tests import a fresh handler every time.
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


# -- process isolation ------------------------------------------------------------------------------


def _settings_variables() -> set[str]:
    return {info.alias for info in Settings.model_fields.values() if info.alias}


def reset_caches() -> None:
    """Every process-wide cache that outlives a test: collaborators, settings, clients, secrets."""
    wiring.reset()
    aws.reset()
    parameters.clear_caches()
    jwks_client = auth._jwks_client
    if hasattr(jwks_client, "cache_clear"):  # a test may have replaced it with a stand-in
        jwks_client.cache_clear()


@pytest.fixture(autouse=True, scope="session")
def _service_logger() -> Logger:
    """The parent logger every handler module creates first in Lambda; the package's child loggers
    need it when a test calls the package without going through a handler."""
    return Logger()


@pytest.fixture(autouse=True, scope="session")
def _shared_botocore_models() -> Iterator[None]:
    """Speed only: every boto3 session (moto starts a new default one per test, and the package makes
    its own) would parse the same service model JSON again; share one loader cache across them."""
    shared: dict[Any, Any] = {}
    original = botocore.loaders.Loader.__init__

    def init(self: botocore.loaders.Loader, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._cache = shared

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.loaders.Loader, "__init__", init)
        yield


@pytest.fixture(autouse=True)
def _isolated_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reaches a real AWS account or inherits another's settings, endpoints or caches."""
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN")) or name in _settings_variables():
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")  # moto accepts anything
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    # In-process moto: botocore's account-id endpoints would break DynamoDB Streams calls.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    reset_caches()
    yield
    reset_caches()


# -- AWS in process, from template.yaml ------------------------------------------------------------


@functools.cache
def shared_client(service: str) -> Any:
    """One boto3 client per service for the test side (setup and assertions). In-process moto serves
    any client while it is active, so these outlive each test's moto; the package's own clients are
    still made afresh in every test (``videotasks.adapters.aws.reset``)."""
    return boto3.client(service, region_name=REGION)


@functools.cache
def shared_dynamodb() -> Any:
    return boto3.resource("dynamodb", region_name=REGION)


@pytest.fixture(autouse=True, scope="session")
def _shared_setup_clients() -> Iterator[None]:
    """local/aws_setup.py makes new clients on every call; the tests create the template's resources
    once per test, so let it use the shared ones (speed only)."""
    original = aws_setup._client

    def client(service: str, endpoint: str | None) -> Any:
        return shared_client(service) if endpoint is None else original(service, endpoint)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aws_setup, "_client", client)
        yield


@dataclass
class AwsStack:
    """The template's resources in moto, and the environment every function of the template gets."""

    template: dict[str, Any]
    resolver: Resolver
    environment: dict[str, str]
    secrets: dict[str, str] = field(repr=False)

    @property
    def settings(self) -> Settings:
        return get_settings()

    def physical(self, logical_id: str) -> str:
        return self.resolver.physical[logical_id]

    @property
    def state_machine_arn(self) -> str:
        return self.environment["STATE_MACHINE_ARN"]

    @property
    def bucket(self) -> str:
        return self.environment["MEDIA_BUCKET"]

    def client(self, service: str) -> Any:
        return shared_client(service)

    def table(self, variable: str) -> Any:
        """A table by the environment variable that names it (``TASKS_TABLE``, ``STATS_TABLE``...)."""
        return shared_dynamodb().Table(self.environment[variable])

    def stored(self, video_id: str) -> dict[str, Any] | None:
        return self.table("TASKS_TABLE").get_item(Key={"videoId": video_id}, ConsistentRead=True).get("Item")

    def counters(self, user_id: str) -> dict[str, int]:
        """The user's counters as the repository reads them (the stats table's layout is its business)."""
        totals, _ = TaskRepository(self.settings, dynamodb=shared_dynamodb()).get_counters(user_id, utc_now())
        return {key: int(value) for key, value in totals.items() if isinstance(value, int)}

    def media_keys(self) -> list[str]:
        listing = self.client("s3").list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listing.get("Contents", [])]

    def execution(self, video_id: str) -> dict[str, Any]:
        name = self.state_machine_arn.split(":")[-1]
        arn = f"arn:aws:states:{REGION}:{self.resolver.ref('AWS::AccountId')}:execution:{name}:{video_id}"
        return self.client("stepfunctions").describe_execution(executionArn=arn)


def _secret_value(logical_id: str) -> str:
    name = logical_id.lower()
    if "jwt" in name:
        return JWT_SECRET
    if "provider" in name:
        return PROVIDER_KEY
    return f"tests-{name}-0123456789abcdef0123456789"


def _secret_values(template: dict[str, Any]) -> dict[str, str]:
    return {logical_id: _secret_value(logical_id) for logical_id in resources(template, "AWS::SecretsManager::Secret")}


def build_aws(
    monkeypatch: pytest.MonkeyPatch, parameters_: dict[str, str] | None = None, *, lambda_functions: bool = False
) -> AwsStack:
    """Create the resources of template.yaml in the running moto and export the functions' environment.

    The template's functions are registered in moto's Lambda only with ``lambda_functions`` (the Step
    Functions engine needs their ARNs to resolve; nothing else does, and they are the slowest to make).
    """
    template = load_template()
    resolver = Resolver(template, parameters={"Stage": STAGE, **(parameters_ or {})})
    secrets = _secret_values(template)
    aws_setup.physical_names(template, resolver)
    endpoint: Any = None  # boto3's default endpoints, which mock_aws intercepts
    aws_setup.create_tables(template, resolver, endpoint)
    aws_setup.create_buckets(template, resolver, endpoint)
    aws_setup.create_secrets(template, resolver, endpoint, secrets)
    if lambda_functions:
        aws_setup.create_functions(template, endpoint)
    aws_setup.create_state_machines(template, resolver, endpoint)
    environment = function_environment(template, resolver)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    return AwsStack(template, resolver, environment, secrets)


@pytest.fixture
def start_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AwsStack]]:
    """``start_aws(parameters=None, *, executing=False)``: moto with the template's resources, built with
    these template parameters; ``executing`` turns moto's Step Functions engine on (it then parses
    definitions and runs executions). Stopped, and its state dropped, after the test."""
    with contextlib.ExitStack() as stack:

        def start(parameters: dict[str, str] | None = None, *, executing: bool = False) -> AwsStack:
            config = {**(MOTO_CONFIG if executing else {}), **KEEP_BOTO3_SESSION}
            stack.enter_context(mock_aws(config=config))  # type: ignore[arg-type]
            return build_aws(monkeypatch, parameters, lambda_functions=executing)

        yield start


@pytest.fixture
def aws_stack(start_aws: Callable[..., AwsStack]) -> AwsStack:
    """moto with the template's tables, bucket, secrets and state machine; executions are recorded but
    not run."""
    return start_aws()


@pytest.fixture
def executing_aws(start_aws: Callable[..., AwsStack]) -> AwsStack:
    """As ``aws_stack``, with moto's Step Functions engine on and the template's functions in its Lambda."""
    return start_aws(executing=True)


@pytest.fixture
def provider_key() -> str:
    """The value the template's ProviderApiKeySecret holds in these tests."""
    return PROVIDER_KEY


# -- tasks ------------------------------------------------------------------------------------------


@pytest.fixture
def repository(aws_stack: AwsStack) -> TaskRepository:
    return TaskRepository(aws_stack.settings, dynamodb=shared_dynamodb())


def new_task(user_id: str = "alice", **fields: Any) -> Task:
    """A task as the API creates it; ``fields`` override any attribute."""
    from videotasks.domain.ids import new_video_id

    now = iso(utc_now())
    values: dict[str, Any] = {
        "videoId": new_video_id(),
        "userId": user_id,
        "type": TaskType.VIDEO,
        "prompt": "A paper boat drifting down a rainy street",
        "model": "sora-2",
        "seconds": 4,
        "size": "720x1280",
        "metadata": {"externalTaskId": None},
        "createdAt": now,
        "updatedAt": now,
        **fields,
    }
    return Task(**values)


@pytest.fixture
def make_task() -> Callable[..., Task]:
    """``make_task(user_id="alice", **fields)``: a Task as the API creates it, not stored."""
    return new_task


@pytest.fixture
def stored_task(repository: TaskRepository) -> Callable[..., Task]:
    """Create a task in the tasks table (QUEUED, counted) and, if ``status`` is given, walk it there
    through legal transitions, as the workflow would."""

    def create(user_id: str = "alice", *, status: TaskStatus = TaskStatus.QUEUED, **fields: Any) -> Task:
        task = repository.create(new_task(user_id, **fields))
        if status is TaskStatus.QUEUED:
            return task
        if status in (TaskStatus.PROCESSING, TaskStatus.COMPLETED):
            task = repository.transition(
                task,
                TaskStatus.PROCESSING,
                externalTaskId="ext_1",
                metadata={**task.metadata, "externalTaskId": "ext_1"},
            )
        if status is not TaskStatus.PROCESSING:
            task = repository.transition(task, status)
        return task

    return create


# -- events -----------------------------------------------------------------------------------------


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<name>.json``."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


_UNSET: Any = object()


def build_api_event(
    name: str = "api_health",
    *,
    user: str | None = "alice",
    body: Any = _UNSET,
    video_id: str | None = None,
    auth_error: str | None = None,
    method: str | None = None,
    path: str | None = None,
    route_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event from ``events/<name>.json``, with the fields a test cares about
    replaced. ``user=None`` drops the authorizer context; ``auth_error`` is what our authorizer passes
    for a refused token; ``body`` is JSON-encoded unless it is a string."""
    event = load_event(name)
    context = event["requestContext"]
    if auth_error is not None:
        context["authorizer"] = {"lambda": {"authError": auth_error}}
    elif user is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"lambda": {"userId": user}}
    if body is not _UNSET:
        event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    if video_id is not None:
        event["pathParameters"] = {"videoId": video_id}
        path = path or f"/api/video/tasks/{video_id}"
    if path is not None:
        event["rawPath"] = context["http"]["path"] = path
    if method is not None:
        context["http"]["method"] = method
    if route_key is not None:
        event["routeKey"] = context["routeKey"] = route_key
    if headers:
        event["headers"] = {**event["headers"], **headers}
    return event


def build_authorizer_event(kind: str, token: str | None) -> dict[str, Any]:
    """``kind`` ``http`` (HTTP API v2 REQUEST, token in the Authorization header as given) or
    ``websocket`` (``$connect`` REQUEST, token in the query string). ``token=None`` sends none."""
    if kind == "http":
        event = load_event("authorizer_http_request")
        event["headers"].pop("authorization", None)
        if token is not None:
            event["headers"]["authorization"] = token
            event["identitySource"] = [token]
        return event
    event = load_event("authorizer_websocket_connect")
    event["queryStringParameters"] = {"token": token} if token is not None else None
    event["multiValueQueryStringParameters"] = {"token": [token]} if token is not None else None
    return event


def step_event(video_id: str, error: dict[str, str] | None = None) -> dict[str, Any]:
    """What the state machine passes to a step, or with ``error``, to fail_task after a Catch."""
    if error is None:
        return {**load_event("step_task"), "videoId": video_id}
    event = load_event("step_fail_task")
    return {**event, "videoId": video_id, "error": error}


@pytest.fixture
def api_event() -> Callable[..., dict[str, Any]]:
    return build_api_event


@pytest.fixture
def authorizer_event() -> Callable[..., dict[str, Any]]:
    return build_authorizer_event


@pytest.fixture(name="load_event")
def load_event_fixture() -> Callable[[str], dict[str, Any]]:
    return load_event


@pytest.fixture(name="step_event")
def step_event_fixture() -> Callable[..., dict[str, Any]]:
    return step_event


# -- tokens -----------------------------------------------------------------------------------------


@pytest.fixture
def jwt_secret() -> str:
    """The HS256 secret the template's JwtSecret holds in these tests."""
    return JWT_SECRET


@pytest.fixture
def token() -> Callable[..., str]:
    """``token(user, secret=..., ttl_seconds=..., **claims)``: a JWT signed like the auth service's."""

    def sign(user_id: str = "alice", secret: str = JWT_SECRET, **options: Any) -> str:
        return make_token(user_id, secret, **options)

    return sign


# -- handlers ---------------------------------------------------------------------------------------


@pytest.fixture
def invoke() -> Iterator[Callable[[str, Any], Any]]:
    """``invoke(logical_id, event)`` runs that template function's handler as Lambda would.

    Each test gets fresh imports of the ``app.py`` files (every function's module is called ``app``),
    under private module names, so no handler's module state leaks between functions or tests.
    """
    registry = FunctionRegistry(load_template())
    before = set(sys.modules)
    yield lambda logical_id, event: registry.get(logical_id).invoke(event)
    for name in set(sys.modules) - before:
        if name == "app" or name.startswith("_lambda_"):
            del sys.modules[name]


def response_json(result: dict[str, Any]) -> dict[str, Any]:
    return json.loads(result["body"])


# -- fake providers ---------------------------------------------------------------------------------


@dataclass
class FakeVideos:
    """Implements ``videotasks.adapters.providers.VideosProvider``'s interface, with scripted replies.

    ``report()``/``fail_next_poll()`` queue what the next ``get_job`` calls answer; with nothing queued
    the job is answered as it last was. ``after_create`` runs once a job exists at the provider and
    ``after_download`` once the media has been read: where a concurrent cancel can be made to land.
    """

    media: bytes = MP4
    content_type: str = "video/mp4"
    create_error: Exception | None = None
    # Raised by the next create *after* the job is made: the reply was lost (a timeout, a reset).
    lose_create_reply: Exception | None = None
    list_error: Exception | None = None  # what list_recent_jobs raises (a provider without the list)
    list_prompts: bool = True  # whether the listing shows each job's prompt, as relays do
    after_create: Callable[[], None] | None = None
    after_download: Callable[[], None] | None = None
    created: list[JobRequest] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    polled: list[str] = field(default_factory=list)
    deadlines: list[Deadline | None] = field(default_factory=list)  # what each call was given, in order
    jobs: dict[str, ProviderJob] = field(default_factory=dict)
    listed: list[ListedJob] = field(default_factory=list)  # newest first, as the provider lists them
    _replies: list[dict[str, Any] | Exception] = field(default_factory=list)

    def report(
        self,
        status: str,
        progress: int | None = None,
        *,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        self._replies.append(
            {
                "state": normalise_provider_status(status),
                "raw_status": status,
                "progress": progress,
                "error_code": error_code,
                "error_message": error_message,
            }
        )

    def fail_next_poll(self, error: Exception) -> None:
        self._replies.append(error)

    # the VideosProvider interface
    def create_job(self, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        self.deadlines.append(deadline)
        self.created.append(request)
        if self.create_error is not None:
            raise self.create_error
        job = ProviderJob(
            id=f"ext_video_{len(self.created)}",
            state=ProviderState.QUEUED,
            raw_status="queued",
            progress=0,
            media_url=None,
            error_code=None,
            error_message=None,
        )
        self.jobs[job.id] = job
        self.listed.insert(
            0,
            ListedJob(
                id=job.id,
                created_at=utc_now(),
                prompt=request.prompt if self.list_prompts else None,
                model=request.model,
                seconds=str(request.seconds) if request.seconds is not None else None,
                size=request.size,
            ),
        )
        if self.after_create is not None:
            self.after_create()
        if self.lose_create_reply is not None:
            error, self.lose_create_reply = self.lose_create_reply, None
            raise error
        return job

    def list_recent_jobs(self, limit: int = 100, *, deadline: Deadline | None = None) -> list[ListedJob]:
        if self.list_error is not None:
            raise self.list_error
        return self.listed[:limit]

    def get_job(self, job_id: str, *, deadline: Deadline | None = None) -> ProviderJob:
        self.deadlines.append(deadline)
        self.polled.append(job_id)
        if job_id not in self.jobs:
            raise ProviderJobLostError(f"GET /v1/videos/{job_id} answered 404", status_code=404)
        if self._replies:
            reply = self._replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            self.jobs[job_id] = dataclasses.replace(self.jobs[job_id], **reply)
        return self.jobs[job_id]

    @contextlib.contextmanager
    def open_content(self, job: ProviderJob, *, deadline: Deadline | None = None) -> Iterator[MediaStream]:
        self.deadlines.append(deadline)

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(self.media), 100):
                yield self.media[start : start + 100]
            if self.after_download is not None:
                self.after_download()

        yield MediaStream(content_type=self.content_type, content_length=len(self.media), chunks=chunks())

    def cancel_job(self, job_id: str, *, deadline: Deadline | None = None) -> None:
        self.cancelled.append(job_id)

    def close(self) -> None:
        pass


@dataclass
class FakeImages:
    """Implements ``videotasks.adapters.providers.ImagesProvider``'s interface: every generation succeeds at once.

    ``after_generate`` runs once an image exists; ``content_errors`` are raised, one per call, by the
    next ``open_content`` calls (a download that fails)."""

    media: bytes = PNG
    content_type: str = "image/png"
    after_generate: Callable[[], None] | None = None
    content_errors: list[Exception] = field(default_factory=list)
    generated: list[JobRequest] = field(default_factory=list)
    generate_error: Exception | None = None
    deadlines: list[Deadline | None] = field(default_factory=list)  # what each call was given, in order

    def generate(self, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        self.deadlines.append(deadline)
        self.generated.append(request)
        if self.generate_error is not None:
            raise self.generate_error
        if self.after_generate is not None:
            self.after_generate()
        return ProviderJob(
            id=f"img_{len(self.generated)}",
            state=ProviderState.SUCCEEDED,
            raw_status="completed",
            progress=100,
            media_url="https://cdn.provider.test/img.png",
            error_code=None,
            error_message=None,
        )

    @contextlib.contextmanager
    def open_content(self, job: ProviderJob, *, deadline: Deadline | None = None) -> Iterator[MediaStream]:
        self.deadlines.append(deadline)
        if self.content_errors:
            raise self.content_errors.pop(0)
        yield MediaStream(content_type=self.content_type, content_length=len(self.media), chunks=iter((self.media,)))

    def close(self) -> None:
        pass


class ManualClock:
    """The workflow's clock; it moves only when a test says so."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake_videos() -> FakeVideos:
    return FakeVideos()


@pytest.fixture
def fake_images() -> FakeImages:
    return FakeImages()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_workflow(
    aws_stack: AwsStack,
    repository: TaskRepository,
    fake_videos: FakeVideos,
    fake_images: FakeImages,
    clock: ManualClock,
) -> Callable[..., Workflow]:
    """``make_workflow(**settings)``: the real Workflow on moto with the fake providers and clock;
    keyword arguments override settings by field name (``max_poll_attempts=3``)."""

    def build(**overrides: Any) -> Workflow:
        settings = aws_stack.settings.model_copy(update=overrides)
        return Workflow(
            settings,
            repository,
            fake_videos,  # type: ignore[arg-type]
            fake_images,  # type: ignore[arg-type]
            MediaStore(settings.media_bucket, s3=shared_client("s3")),
            clock=clock,
        )

    return build


@pytest.fixture
def settings_for() -> Callable[..., Settings]:
    """Settings without AWS: the required fields filled with placeholders, ``overrides`` by field name."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "tasks_table": "tasks",
            "stats_table": "stats",
            "media_bucket": "media",
            "provider_base_url": "https://provider.test",
            "provider_api_key_secret": "provider-key",
            "jwt_secret_name": "jwt-secret",
            **overrides,
        }
        return Settings(**values)

    return build
