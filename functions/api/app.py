"""HTTP API: every /api/video route. Verify the caller's token, parse, call one domain operation, shape the reply.

The token is verified here, not by a Lambda authorizer on the HTTP API: an authorizer doubles the Lambda
invocations (and cold starts) of every call, and an HTTP API cannot turn its refusals into our 401 error
envelope. ``make bench`` prints what each design costs (bench/cold_start.py).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError as ModelValidationError

from videotasks import wiring
from videotasks.adapters.metrics import metrics
from videotasks.adapters.tracing import tracer
from videotasks.domain import messages, replies
from videotasks.domain.batch import MAX_BATCH_TASKS, BatchCreateRequest
from videotasks.domain.errors import (
    MethodNotAllowedError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
    VideoTasksError,
)
from videotasks.domain.ids import VIDEO_ID_PATTERN
from videotasks.domain.lineage import RemixTaskRequest, RetryTaskRequest
from videotasks.domain.requests import CreateTaskRequest, ListTasksQuery
from videotasks.edge import envelope, language, openapi, public_url
from videotasks.edge.auth import verify_caller
from videotasks.services.tasks import StartFailedError
from videotasks.settings import get_settings

logger = Logger()
app = APIGatewayHttpResolver(enable_validation=True)

VideoIdParam = Annotated[str, Path(pattern=VIDEO_ID_PATTERN, description="Our task id: video_<uuid4>")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description="Replays the same task for 24 h when sent again with the same body",
    ),
]


def _user_id() -> str:
    user_id = app.context.get("user_id")
    if not user_id:
        raise UnauthorizedError(key="missing_token")
    return str(user_id)


def _plan() -> str | None:
    """The caller's token's plan claim (its limits: videotasks.domain.plans); None without one."""
    plan = app.context.get("plan")
    return str(plan) if plan else None


def _lang() -> str:
    """The reader's language for error texts: the request's ``Accept-Language`` (no ``?lang=`` on HTTP:
    every HTTP client can set the header, and a query parameter would be one more on every route)."""
    return language.of_request(app.current_event.raw_event, query=False)


def _authorization(event: dict[str, Any]) -> str | None:
    """The Authorization header. Never a token from the URL, which access logs, proxies and browser history
    keep."""
    return language.header(event, "authorization")


@app.get(
    f"{openapi.BASE_PATH}/health",
    tags=["health"],
    summary="Liveness check (no auth)",
    security=openapi.PUBLIC,
    responses=openapi.responses(replies.HealthReply),
)
def health() -> Response[Any]:
    return envelope.success({"status": "ok", "service": "videotasks"})


@app.get(f"{openapi.BASE_PATH}/openapi.json", include_in_schema=False, security=openapi.PUBLIC)
def openapi_document() -> Response[Any]:
    return Response(200, "application/json", openapi.render(app), compress=True)


@app.get(f"{openapi.BASE_PATH}/docs", include_in_schema=False, compress=True, security=openapi.PUBLIC)
def swagger_ui() -> Response[Any]:
    return Response(200, "text/html", openapi.swagger_page(openapi.render(app)))


@app.post(
    f"{openapi.BASE_PATH}/tasks",
    tags=["tasks"],
    summary="Create a video or image task",
    responses=openapi.responses(replies.TaskReply, 400, 401, 409, 429, created=True),
)
def create_task(
    body: Annotated[CreateTaskRequest, Body(embed=False)], idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    service = wiring.task_service()
    task, created = service.create_once(
        _user_id(), body, idempotency_key, app.lambda_context, webhook_base=_webhook_base(), plan=_plan()
    )
    return envelope.success(service.public(task, _lang()), status_code=201 if created else 200)


@app.post(
    f"{openapi.BASE_PATH}/tasks/batch",
    tags=["tasks"],
    summary=f"Create 1 to {MAX_BATCH_TASKS} tasks at once: all of them, or none",
    responses=openapi.responses(replies.TaskBatchReply, 400, 401, 409, 429, created=True),
)
def create_task_batch(
    body: Annotated[BatchCreateRequest, Body(embed=False)], idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    service = wiring.task_service()
    tasks, created = service.create_batch_once(
        _user_id(), body, idempotency_key, app.lambda_context, webhook_base=_webhook_base(), plan=_plan()
    )
    lang = _lang()
    return envelope.success({"items": [service.public(task, lang) for task in tasks]}, 201 if created else 200)


@app.get(
    f"{openapi.BASE_PATH}/tasks",
    tags=["tasks"],
    summary="List the caller's tasks, newest first",
    responses=openapi.responses(replies.TaskPageReply | replies.NumberedTaskPageReply, 400, 401),
)
def list_tasks(
    status: Annotated[str | None, Query(description="QUEUED, PROCESSING, COMPLETED, FAILED or CANCELLED")] = None,
    type: Annotated[str | None, Query(description="VIDEO or IMAGE")] = None,
    mediaType: Annotated[str | None, Query(description="Old clients: the name of type")] = None,
    limit: Annotated[str | None, Query(description="1-100, default 20")] = None,
    cursor: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
    page: Annotated[str | None, Query(description="Old clients: page number from 1")] = None,
    pageSize: Annotated[str | None, Query(description="Old clients: 1-100")] = None,
) -> Response[Any]:
    query = ListTasksQuery.model_validate(
        {
            "status": status,
            "type": type,
            "mediaType": mediaType,
            "limit": limit,
            "cursor": cursor,
            "page": page,
            "pageSize": pageSize,
        }
    )
    return envelope.success(wiring.task_service().list(_user_id(), query, _lang()))


@app.get(
    f"{openapi.BASE_PATH}/tasks/<videoId>",
    tags=["tasks"],
    summary="One task of the caller",
    responses=openapi.responses(replies.TaskReply, 400, 401, 404),
)
def get_task(videoId: VideoIdParam) -> Response[Any]:
    service = wiring.task_service()
    return envelope.success(service.public(service.get(_user_id(), videoId), _lang()))


@app.get(
    f"{openapi.BASE_PATH}/tasks/<videoId>/content",
    tags=["tasks"],
    summary="A playable URL of the result",
    responses=openapi.responses(replies.TaskContentReply, 400, 401, 404, 409),
)
def get_content(videoId: VideoIdParam) -> Response[Any]:
    return envelope.success(wiring.task_service().content(_user_id(), videoId))


@app.post(
    f"{openapi.BASE_PATH}/tasks/<videoId>/cancel",
    tags=["tasks"],
    summary="Cancel a queued or running task",
    responses=openapi.responses(replies.TaskReply, 400, 401, 404, 409, 429),
)
def cancel_task(videoId: VideoIdParam) -> Response[Any]:
    service = wiring.task_service()
    return envelope.success(service.public(service.cancel(_user_id(), videoId), _lang()))


# retry, remix and delete (videotasks.domain.lineage) ---------------------------------------------------
@app.post(
    f"{openapi.BASE_PATH}/tasks/<videoId>/retry",
    tags=["tasks"],
    summary="A new task with the parameters of a FAILED or CANCELLED one (retryOf)",
    responses=openapi.responses(replies.TaskReply, 400, 401, 404, 409, 429, created=True),
)
def retry_task(
    videoId: VideoIdParam,
    body: Annotated[RetryTaskRequest | None, Body(embed=False)] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[Any]:
    task, created = wiring.task_lineage().retry(
        _user_id(), videoId, idempotency_key, app.lambda_context, body, webhook_base=_webhook_base(), plan=_plan()
    )
    return envelope.success(wiring.task_service().public(task, _lang()), status_code=201 if created else 200)


@app.post(
    f"{openapi.BASE_PATH}/tasks/<videoId>/remix",
    tags=["tasks"],
    summary="A new video remixing a COMPLETED one with a new prompt (remixOf)",
    responses=openapi.responses(replies.TaskReply, 400, 401, 404, 409, 429, created=True),
)
def remix_task(
    videoId: VideoIdParam,
    body: Annotated[RemixTaskRequest, Body(embed=False)],
    idempotency_key: IdempotencyKey = None,
) -> Response[Any]:
    task, created = wiring.task_lineage().remix(
        _user_id(),
        videoId,
        body.prompt,
        idempotency_key,
        app.lambda_context,
        body,
        webhook_base=_webhook_base(),
        plan=_plan(),
    )
    return envelope.success(wiring.task_service().public(task, _lang()), status_code=201 if created else 200)


@app.delete(
    f"{openapi.BASE_PATH}/tasks/<videoId>",
    tags=["tasks"],
    summary="Delete an ended task and its media",
    responses=openapi.responses(replies.TaskDeletedReply, 400, 401, 404, 409, 429),
)
def delete_task(videoId: VideoIdParam) -> Response[Any]:
    task = wiring.task_deletion().delete(_user_id(), videoId)
    return envelope.success({"videoId": task.videoId, "externalVideoId": task.externalTaskId, "deleted": True})


def _webhook_base() -> str | None:
    return public_url.webhook_base(app.current_event.raw_event, get_settings().public_api_url)


@app.get(
    f"{openapi.BASE_PATH}/models",
    tags=["models"],
    summary="The models the caller may request: seconds, sizes, capabilities, a description and example prompts",
    responses=openapi.responses(replies.ModelListReply, 401),
)
def list_models() -> Response[Any]:
    _user_id()
    return envelope.success(wiring.task_service().models(_lang()))


@app.get(
    f"{openapi.BASE_PATH}/stats",
    tags=["stats"],
    summary="The caller's task statistics",
    responses=openapi.responses(replies.TaskStatsReply, 401),
)
def stats() -> Response[Any]:
    return envelope.success(wiring.task_service().stats(_user_id()))


@app.get(
    f"{openapi.BASE_PATH}/usage",
    tags=["stats"],
    summary="The caller's plan, its limits, what of them is used, and when each resets",
    responses=openapi.responses(replies.UsageReply, 401),
)
def usage() -> Response[Any]:
    return envelope.success(wiring.task_service().usage(_user_id(), _plan()))


# outbound webhooks (docs/WEBHOOKS.md) ------------------------------------------------------------------
@app.get(
    f"{openapi.BASE_PATH}/webhook-secret",
    tags=["webhooks"],
    summary="The caller's webhook signing secret (created on first read)",
    responses=openapi.responses(replies.WebhookSecretReply, 401),
)
def webhook_secret() -> Response[Any]:
    return envelope.success(wiring.callback_account().secret(_user_id()))


@app.post(
    f"{openapi.BASE_PATH}/webhook-secret/rotate",
    tags=["webhooks"],
    summary="A new webhook signing secret; the old one keeps signing for the overlap window",
    responses=openapi.responses(replies.WebhookSecretReply, 401),
)
def rotate_webhook_secret() -> Response[Any]:
    return envelope.success(wiring.callback_account().rotate(_user_id()))


@app.get(
    f"{openapi.BASE_PATH}/tasks/<videoId>/deliveries",
    tags=["webhooks"],
    summary="The delivery attempts of a task's webhook events",
    responses=openapi.responses(replies.TaskDeliveriesReply, 400, 401, 404),
)
def task_deliveries(videoId: VideoIdParam) -> Response[Any]:
    return envelope.success(wiring.callback_account().deliveries(_user_id(), videoId))


# errors: one place maps every exception to the envelope ---------------------------------------------
@app.exception_handler(VideoTasksError)
def _domain_error(error: VideoTasksError) -> Response[Any]:
    return envelope.from_error(error, _lang())


@app.exception_handler(RequestValidationError)
def _validation_error(error: RequestValidationError) -> Response[Any]:
    return envelope.validation_failure(error.errors(), _lang())


@app.exception_handler(json.JSONDecodeError)
def _bad_json(error: json.JSONDecodeError) -> Response[Any]:
    reason = f"{error.msg} at position {error.pos}"
    return envelope.from_error(ValidationError(key="body_not_json", params={"reason": reason}), _lang())


@app.exception_handler(UnicodeDecodeError)
def _not_text(error: UnicodeDecodeError) -> Response[Any]:
    # A binary body (API Gateway passes it base64-encoded) decodes to bytes that are no UTF-8 text.
    return envelope.validation_failure([{"type": "json_invalid", "ctx": {"error": "it is not UTF-8 text"}}])


@app.exception_handler(StartFailedError)
def _start_failed(error: StartFailedError) -> Response[Any]:
    return envelope.failure(500, "INTERNAL", messages.render("start_failed", _lang()))


@app.exception_handler(ModelValidationError)
def _model_error(error: ModelValidationError) -> Response[Any]:
    return envelope.validation_failure(error.errors(), _lang())


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[Any]:
    logger.exception("unhandled error")  # the cause stays in the logs; the reply leaks nothing
    return envelope.failure(500, "INTERNAL", messages.render("internal_error", _lang()))


@app.not_found
def _not_found(error: Exception) -> Response[Any]:
    event = app.current_event
    methods = ROUTES.allowed_methods(event.path)
    request = {"method": event.http_method, "path": event.path}
    if methods is None:
        return envelope.from_error(NotFoundError(key="no_route", params=request), _lang())
    if event.http_method not in methods:
        return envelope.from_error(MethodNotAllowedError(key="method_not_allowed", params=request), _lang())
    # The right method on a known shape that no route matched: the id holds characters no video id has.
    failure = {"loc": ("path", "videoId"), "type": "video_id_pattern", "msg": "must be video_<uuid4>"}
    return envelope.validation_failure([failure], _lang())


# Read from the routes above: the checks before and after routing never list routes by hand.
ROUTES = openapi.RouteTable.of(app)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # tasks and presigned URLs
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("routeKey") not in ROUTES.public:
        try:  # per request, so an expired token stops working at once
            caller = verify_caller(_authorization(event), get_settings())
        except UnauthorizedError as refusal:  # every other route, the unknown ones included, stops here
            logger.info("refused", extra={"reason": refusal.message})
            lang = language.of_request(event, query=False)
            return envelope.as_proxy_result(envelope.from_error(refusal, lang))
        app.append_context(user_id=caller.user_id, plan=caller.plan)  # cleared by resolve() once answered
    return app.resolve(envelope.assume_json_body(openapi.without_trailing_slash(event)), context)
