"""HTTP API: every /api/video route. Parse, call one domain operation, shape the reply."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from videotasks import http, wiring
from videotasks.errors import NotFoundError, UnauthorizedError, ValidationError, VideoTasksError
from videotasks.ids import VIDEO_ID_PATTERN, is_video_id
from videotasks.schemas import CreateTaskRequest
from videotasks.service import StartFailedError

logger = Logger()
app = APIGatewayHttpResolver(enable_validation=True)
VideoIdParam = Annotated[str, Path(pattern=VIDEO_ID_PATTERN, description="Our task id, video_<uuid4>")]


def _user_id() -> str:
    user_id = (app.current_event.request_context.authorizer.get_lambda or {}).get("userId")
    if not user_id:
        raise UnauthorizedError("Missing token")
    return str(user_id)


@app.get("/api/video/health")
def health() -> Response[Any]:
    return http.success({"status": "ok", "service": "videotasks"})


@app.post("/api/video/tasks")
def create_task(body: Annotated[CreateTaskRequest, Body(embed=False)]) -> Response[Any]:
    service = wiring.task_service()
    task = service.create(_user_id(), body)
    return http.success(service.public(task), status_code=201)


@app.get("/api/video/tasks/<videoId>")
def get_task(videoId: VideoIdParam) -> Response[Any]:  # noqa: N803 - the route's documented name
    service = wiring.task_service()
    return http.success(service.public(service.get(_user_id(), videoId)))


@app.exception_handler(VideoTasksError)
def _domain_error(error: VideoTasksError) -> Response[Any]:
    return http.from_error(error)


@app.exception_handler(RequestValidationError)
def _validation_error(error: RequestValidationError) -> Response[Any]:
    details = [
        {"field": ".".join(str(part) for part in item.get("loc", ())[1:]) or "body", "message": item.get("msg", "")}
        for item in error.errors()
    ]
    first = details[0] if details else {"field": "body", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return http.failure(400, ValidationError.code, message, details)


@app.exception_handler(StartFailedError)
def _start_failed(error: StartFailedError) -> Response[Any]:
    return http.failure(500, "INTERNAL", "The task was recorded but could not be started; it is marked FAILED")


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[Any]:
    logger.exception("unhandled error")  # the cause stays in the logs; the reply leaks nothing
    return http.failure(500, "INTERNAL", "Internal error")


@app.not_found
def _not_found(error: Exception) -> Response[Any]:
    return http.from_error(NotFoundError(f"No route {app.current_event.http_method} {app.current_event.path}"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refusal = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda", {}).get("authError")
    if refusal:  # every authorised route, the unknown ones included, stops here
        return http.as_proxy_result(http.from_error(UnauthorizedError(refusal)))
    return app.resolve(event, context)


__all__ = ["app", "is_video_id", "lambda_handler"]
