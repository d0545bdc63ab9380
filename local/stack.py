"""The whole offline stack in one process: moto, the gateways, the fake provider, the stream pump."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
from collections.abc import Callable
from typing import Any

import httpx
from aiohttp import web

from local import aws_setup, iam, moto_seam
from local.config import (
    FAKE_ENTRY_PREFIXES,
    FAKE_PROVIDER_KEY,
    FAKE_WEBHOOK_SECRET,
    HOST,
    StackConfig,
    StackConfigError,
    port_busy,
)
from local.http_gateway import HttpGateway
from local.lambdas import FunctionRegistry
from local.stream_pump import StreamPump
from local.template import (
    Resolver,
    function_environment,
    http_routes,
    load_template,
    resources,
    stream_sources,
    websocket_api,
)
from local.token import make_token
from local.ws_gateway import WebSocketGateway
from videotasks.domain.catalog import load_document
from videotasks.domain.models import TaskType
from videotasks_cli.local_state import LocalStackState

log = logging.getLogger("videotasks.local")


def _parameters(config: StackConfig) -> dict[str, str]:
    values = {
        "Stage": "local",
        "ProviderBaseUrl": config.provider_url,
        "PollIntervalSeconds": str(config.poll_interval_seconds),
        "PollMinSeconds": "1",
        "PollMaxSeconds": str(config.poll_max_seconds or config.poll_interval_seconds),
        "PollWebhookMaxSeconds": str(config.poll_webhook_max_seconds),
        "MaxPollAttempts": str(config.max_poll_attempts),
        "CorsAllowedOrigins": ",".join(config.browser_origins),
        "JwtAllowNoExp": "true" if config.jwt_allow_no_exp else "false",
        # Every other provider entry is the fake's, under its shape's prefix (SORA_BASE_URL moves only the relay).
        **{parameter: config.fake_provider_url + prefix for parameter, prefix in FAKE_ENTRY_PREFIXES.items()},
        # Providers call back on the local HTTP API; the fake's fal signs with a key it publishes itself.
        "PublicApiUrl": config.api_url,
        "FalWebhookJwksUrl": f"{config.fake_provider_url}{FAKE_ENTRY_PREFIXES['FalBaseUrl']}/.well-known/jwks.json",
    }
    if config.task_timeout_seconds:
        values["TaskTimeoutSeconds"] = str(config.task_timeout_seconds)
    limits = {
        "MaxGeneratingPerUser": config.max_generating_per_user,
        "CreatesPerMinute": config.creates_per_minute,
        "VideoSecondsPerDay": config.video_seconds_per_day,
    }
    values.update({parameter: str(value) for parameter, value in limits.items() if value})
    if config.plans:
        values["Plans"] = config.plans
    if config.uses_real_provider:
        # "With SORA_BASE_URL set, the stack talks to that provider": new tasks default to the relay's model.
        values["DefaultModel"] = _relay_model()
        for parameter, env_name in RELAY_PARAMETERS.items():
            if os.environ.get(env_name):
                values[parameter] = os.environ[env_name]
    return values


RELAY_PARAMETERS = {
    "ProviderVideosPath": "SORA_VIDEOS_PATH",
    "ProviderImagesPath": "SORA_IMAGES_PATH",
    "ProviderAuthScheme": "SORA_AUTH_SCHEME",
}


def _relay_model() -> str:
    """The catalog's first offered video model on the relay entry (``openai``), the shape SORA_BASE_URL serves."""
    document = load_document()
    return next(
        model.id
        for model in document.models
        if model.provider == "openai" and model.type is TaskType.VIDEO and not model.retired
    )


def _secret_values(template: dict[str, Any], config: StackConfig) -> dict[str, str]:
    values = {}
    for logical_id in resources(template, "AWS::SecretsManager::Secret"):
        if "jwt" in logical_id.lower():
            values[logical_id] = config.jwt_secret
        elif "cursor" in logical_id.lower():
            values[logical_id] = secrets.token_urlsafe(32)
        elif "webhook" in logical_id.lower():  # the fake signs its Standard Webhooks with this one
            values[logical_id] = FAKE_WEBHOOK_SECRET
        elif logical_id == "ProviderApiKeySecret" and config.uses_real_provider:
            values[logical_id] = config.sora_api_key  # type: ignore[assignment]
        else:  # every provider entry the fake provider plays
            values[logical_id] = FAKE_PROVIDER_KEY
    return values


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.template = load_template()
        self.resolver = Resolver(self.template, parameters=_parameters(config))
        self.registry = FunctionRegistry(self.template)
        self.environment: dict[str, str] = {}
        self._moto: Any = None
        self._access: iam.AccessControl | None = None
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="local-stack-loop", daemon=True)
        self._runners: list[web.AppRunner] = []
        self._background: list[Callable[[], None]] = []

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._start_moto()
        self._create_resources()
        self._access = iam.enforce(self.template, self.resolver)
        moto_seam.install(self.registry, conflict_rate=self.config.dynamodb_conflict_rate)
        self._loop_thread.start()
        self._serve(self._http_app(), self.config.http_port)
        self._start_live_updates()
        # Served even with a real relay (SORA_BASE_URL): the other provider entries still point here.
        self._serve(self._provider_app(), self.config.provider_port)

    def stop(self) -> None:
        for stop in self._background:
            stop()
        for runner in self._runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._moto:
            self._moto.stop()
        moto_seam.uninstall()
        iam.stop(self._access)

    # parts ---------------------------------------------------------------------------------------
    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        # The Step Functions engine makes its own AWS calls to localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.config.moto_port)
        self._moto = ThreadedMotoServer(ip_address=HOST, port=self.config.moto_port, verbose=False)
        self._moto.start()
        httpx.post(f"{self.config.moto_url}/moto-api/config", json=moto_seam.MOTO_CONFIG, timeout=10).raise_for_status()

    def _create_resources(self) -> None:
        endpoint = self.config.moto_url
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts anything; never a real credential
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                "POWERTOOLS_TRACE_DISABLED": "true",
                # EMF metric lines would drown the dev log; tests exercise metrics in-process.
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_DEV": "false",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        aws_setup.physical_names(self.template, self.resolver)
        aws_setup.create_tables(self.template, self.resolver, endpoint)
        aws_setup.create_buckets(self.template, self.resolver, endpoint)
        aws_setup.create_queues(self.template, self.resolver, endpoint)
        aws_setup.create_secrets(self.template, self.resolver, endpoint, _secret_values(self.template, self.config))
        aws_setup.create_functions(self.template, endpoint)
        aws_setup.create_state_machines(self.template, self.resolver, endpoint)
        self.environment = function_environment(self.template, self.resolver)
        self.environment["WEBSOCKET_ENDPOINT"] = self.config.connections_url
        # Tests run webhook receivers on this machine: http://127.0.0.1:<port> callbacks, and only those
        # (every other loopback, private or link-local address stays refused; docs/WEBHOOKS.md).
        self.environment["CALLBACK_ALLOW_LOOPBACK_HTTP"] = "true"
        os.environ.update(self.environment)

    def _http_app(self) -> web.Application:
        api = next(iter(resources(self.template, "AWS::Serverless::HttpApi").values()))
        auth = api["Properties"].get("Auth") or {}  # none: the API function verifies tokens itself
        default = auth.get("DefaultAuthorizer")
        authorizer_arn = self.resolver.resolve(auth["Authorizers"][default]["FunctionArn"]) if default else None
        cors = self.resolver.resolve(self.template["Globals"].get("HttpApi", {}).get("CorsConfiguration", {}))
        gateway = HttpGateway(
            self.registry,
            http_routes(self.template),
            authorizer_arn,
            list(cors.get("AllowOrigins") or []),
            console_config={
                "apiUrl": self.config.api_url,
                "wsUrl": self.config.ws_url,
                "token": self.dev_token(),
            },
        )
        return gateway.app()

    def _start_live_updates(self) -> None:
        """The WebSocket API with its @connections endpoint, and a pump per stream event source, which
        stops before the gateways and moto do (stop() runs ``_background`` first)."""
        api = websocket_api(self.template)
        if api is not None:
            stage = str(self.resolver.resolve(api.stage) or "local")
            self._serve(WebSocketGateway(self.registry, api, stage=stage).app(), self.config.ws_port)
        for source in stream_sources(self.template):
            function = self.registry.get(source.function)
            stream_arn = self.resolver.get_att(source.table, "StreamArn")
            written = threading.Event()
            moto_seam.on_dynamodb_write(written.set)
            pump = StreamPump(
                source,
                stream_arn,
                function.invoke,
                endpoint=self.config.moto_url,
                forget=moto_seam.forget_shard_iterators,
                wake=written,
            )
            pump.start()
            self._background.append(pump.stop)

    def _provider_app(self) -> web.Application:
        from local.fake_provider import FakeProviderConfig, create_app

        return create_app(
            FakeProviderConfig(
                video_seconds=self.config.fake_video_seconds,
                failure_rate=self.config.fake_failure_rate,
                api_key=FAKE_PROVIDER_KEY,
                fault=self.config.fake_fault,
                webhooks=self.config.fake_webhooks,
            )
        )

    def _serve(self, app: web.Application, port: int) -> None:
        async def start() -> web.AppRunner:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, HOST, port).start()
            return runner

        try:
            runner = asyncio.run_coroutine_threadsafe(start(), self._loop).result(timeout=30)
        except OSError as error:  # taken since check_ports_free looked
            variable = next(name for name, number in self.config.ports().items() if number == port)
            raise StackConfigError(port_busy(variable, port, error)) from None
        self._runners.append(runner)

    def dev_token(self, user: str = "dev-user") -> str:
        return make_token(user, self.config.jwt_secret)

    def state(self) -> LocalStackState:
        """What `videotasks --local` reads to reach this stack (videotasks_cli.local_state)."""
        return LocalStackState(
            api_url=self.config.api_url,
            ws_url=self.config.ws_url,
            token=self.dev_token(),
            aws_endpoint_url=self.config.moto_url,
            region=os.environ.get("AWS_REGION", "us-east-1"),
            pid=os.getpid(),
            environment=dict(self.environment),
        )

    def banner(self) -> str:
        fake = f"{self.config.fake_provider_url} (fake, {self.config.fake_video_seconds:g}s per video)"
        provider = f"{self.config.provider_url} (relay); others {fake}" if self.config.uses_real_provider else fake
        conflicts: list[str] = []  # shown only when set: a stack that cancels transactions on purpose
        if rate := self.config.dynamodb_conflict_rate:
            conflicts.append(f"  DynamoDB       {rate:g} of transactions cancelled (LOCAL_DYNAMODB_CONFLICT_RATE)")
        return "\n".join(
            [
                "videotasks local stack is ready",
                f"  Console        {self.config.http_url}/",
                f"  HTTP API       {self.config.api_url}   (docs: {self.config.api_url}/docs)",
                f"  WebSocket API  {self.config.ws_url}/?token=<JWT>",
                f"  @connections   {self.config.connections_url}/@connections/{{connectionId}}",
                "  Task stream    " + ", ".join(f"{s.table} -> {s.function}" for s in stream_sources(self.template)),
                f"  Provider       {provider}",
                f"  Webhooks       {self.config.api_url}/webhooks/{{provider}}: the fake's fal and replicate call back"
                + ("" if self.config.fake_webhooks else " (off: FAKE_WEBHOOKS=0)"),
                f"  AWS (moto)     {self.config.moto_url}",
                f"  CORS origins   {', '.join(self.config.browser_origins)}   (more: CORS_ORIGINS)",
                *conflicts,
                "  Dev token (user dev-user; `make token USER=alice` for others):",
                f"  {self.dev_token()}",
            ]
        )
