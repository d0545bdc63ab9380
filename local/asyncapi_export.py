"""Writes the WebSocket API's AsyncAPI 3 document to docs/asyncapi.yaml (`make asyncapi`); a test fails on drift.

Every payload schema comes from the message models (``videotasks.domain.socket_inbound.CLIENT_FRAMES``,
``videotasks.domain.socket_outbound.SERVER_MESSAGES``), the same models every message we send is built
through; every server example is built by the same functions the WebSocket and broadcaster functions call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from local.config import StackConfig
from videotasks.domain import messages
from videotasks.domain import socket_outbound as outbound
from videotasks.domain.models import Task, TaskError, TaskStatus
from videotasks.domain.socket_inbound import (
    CLIENT_FRAMES,
    KNOWN_ACTIONS,
    Action,
    ClientFrame,
    ProtocolError,
    parse_frame,
)

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT_PATH = ROOT / "docs" / "asyncapi.yaml"
CHANNEL = "live"
_REF = "#/components/schemas/{model}"

# Which server messages answer each client action (the message routes are two-way: one reply each).
_TASK_ANSWERS = (*outbound.TASK_MESSAGES.values(), outbound.Error)
REPLIES: dict[Action, tuple[type[outbound.ServerMessage], ...]] = {
    Action.SUBSCRIBE: (*_TASK_ANSWERS, outbound.Subscribed),
    Action.UNSUBSCRIBE: (outbound.Unsubscribed, outbound.Error),
    Action.PING: (outbound.Pong, outbound.Error),
    Action.AUTH: (outbound.Authenticated, outbound.Error),
}

_STAMP_MS = 1_763_027_892_000
_VIDEO_ID = "video_e7a620c7-2829-40d8-bbfb-77891f4621cc"
_EXTERNAL_ID = "video_4df24bdc4f664e02a6086ce4a12f154a"
_SIGNED_URL = "https://videotasks-media.s3.amazonaws.com/media/video_e7a620c7.mp4?X-Amz-Signature=…"
_SIGNED_POSTER_URL = "https://videotasks-media.s3.amazonaws.com/media/video_e7a620c7.mp4.poster.jpg?X-Amz-Signature=…"


def _task(status: TaskStatus, **fields: Any) -> Task:
    return Task(
        videoId=_VIDEO_ID,
        userId="user-123",
        prompt="a paper boat in the rain",
        model="sora-2",
        status=status,
        externalTaskId=None if status is TaskStatus.QUEUED else _EXTERNAL_ID,
        createdAt="2026-11-25T16:08:02.114Z",
        updatedAt="2026-11-25T16:09:14.208Z",
        **fields,
    )


def _refusal(frame: str, *, timestamp_ms: int) -> dict[str, Any]:
    """The error the WebSocket function answers ``frame`` with, worded as it is."""
    try:
        parse_frame("$default", frame)
    except ProtocolError as refused:
        known = KNOWN_ACTIONS if refused.name_actions else None
        return outbound.error(refused.code, refused.message, timestamp_ms=timestamp_ms, known_actions=known)
    raise AssertionError(f"{frame} is accepted")


def _server_examples() -> dict[type[outbound.ServerMessage], list[dict[str, Any]]]:
    """Examples made by the builders themselves, so an example is exactly what a client receives."""
    stamp = {"timestamp_ms": _STAMP_MS}
    failure = TaskError(code="PROVIDER_ERROR", message="The provider could not generate this video")
    return {
        outbound.TaskProgress: [
            outbound.task_message(_task(TaskStatus.QUEUED), video_url=None, **stamp),
            outbound.task_message(_task(TaskStatus.PROCESSING, progress=65), video_url=None, **stamp),
        ],
        outbound.TaskCompleted: [
            outbound.task_message(_task(TaskStatus.COMPLETED, progress=100), video_url=_SIGNED_URL, **stamp)
        ],
        outbound.TaskFailed: [outbound.task_message(_task(TaskStatus.FAILED, error=failure), video_url=None, **stamp)],
        outbound.TaskCancelled: [outbound.task_message(_task(TaskStatus.CANCELLED), video_url=None, **stamp)],
        outbound.TaskDeleted: [outbound.task_deleted(_task(TaskStatus.COMPLETED, progress=100), **stamp)],
        outbound.TaskPoster: [
            outbound.task_poster(
                _task(TaskStatus.COMPLETED, progress=100), video_url=_SIGNED_URL, poster_url=_SIGNED_POSTER_URL, **stamp
            )
        ],
        outbound.Subscribed: [outbound.subscribed(None, **stamp)],
        outbound.Unsubscribed: [outbound.unsubscribed(_VIDEO_ID, **stamp), outbound.unsubscribed(None, **stamp)],
        outbound.Pong: [outbound.pong(**stamp)],
        outbound.Error: [
            outbound.error("NOT_FOUND", f"Task {_VIDEO_ID} not found", video_id=_VIDEO_ID, **stamp),
            _refusal('{"action": "dance"}', **stamp),
        ],
        outbound.Authenticated: [outbound.authenticated("user-123", **stamp)],
    }


def _message_key(model: type[BaseModel]) -> str:
    """The message's name in the document: the wire ``type`` of a server message, else the model's name."""
    kind = getattr(model, "KIND", None)
    name = model.__name__.removesuffix("Frame")
    return str(kind.value) if kind is not None else name[0].lower() + name[1:]


def _summary(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _schemas() -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    models: list[type[BaseModel]] = [*CLIENT_FRAMES, *outbound.SERVER_MESSAGES, outbound.GatewayFault]
    refs, definitions = models_json_schema([(model, "validation") for model in models], ref_template=_REF)
    by_model = {model: refs[(model, "validation")] for model in models}
    return by_model, dict(definitions.get("$defs", {}))


def _client_message(model: type[ClientFrame], payload: dict[str, Any]) -> dict[str, Any]:
    route = "its own route" if model.ROUTE != "$default" else "the `$default` route (the old backend's form)"
    return {
        "name": model.__name__,
        "title": model.__name__,
        "summary": _summary(model),
        "description": f"Arrives on {route}.",
        "payload": payload,
        "examples": [{"payload": example} for example in model.EXAMPLES],
    }


def _server_message(model: type[BaseModel], payload: dict[str, Any], examples: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"name": _message_key(model), "title": model.__name__, "summary": _summary(model)}
    message["payload"] = payload
    if examples:
        message["examples"] = [{"payload": example} for example in examples]
    return message


def _servers() -> dict[str, Any]:
    security = [{"$ref": "#/components/securitySchemes/token"}]
    return {
        "local": {
            "host": StackConfig().ws_url.removeprefix("ws://"),
            "protocol": "ws",
            "description": "The offline stack (`make dev`), which behaves as API Gateway does.",
            "security": security,
        },
        "deployed": {
            "host": "{apiId}.execute-api.{region}.amazonaws.com",
            "pathname": "/{stage}",
            "protocol": "wss",
            "description": "API Gateway; the stack's `WebSocketUrl` output is the whole address.",
            "variables": {
                "apiId": {"description": "The WebSocket API's id (the `WebSocketUrl` output)"},
                "region": {"default": "us-east-1", "description": "The stack's AWS region"},
                "stage": {"enum": ["dev", "prod"], "default": "dev", "description": "The template's `Stage`"},
            },
            "security": security,
        },
    }


_CONNECT = (
    "Open the socket with the user's JWT as `?token=` (browsers cannot set headers on a WebSocket handshake; a "
    "`Bearer ` prefix is accepted). The `$connect` authorizer checks it once, before the connection opens: no "
    "`token` is refused with HTTP 401 (API Gateway's identity source is the query string, so an `Authorization` "
    "header alone does not do), a bad or expired one with 403 (a browser sees `error`, then `close` with code "
    "1006). The connection's user is fixed there; an open connection outlives the token's expiry.\n\n"
    "Every client message is answered by exactly one reply on the same socket; task messages are also pushed, "
    "unasked, for every task the connection follows. A fault of ours is answered by API Gateway itself with "
    "`gatewayFault`."
)


def current_document() -> dict[str, Any]:
    schemas, definitions = _schemas()
    examples = _server_examples()
    client = {_message_key(model): _client_message(model, schemas[model]) for model in CLIENT_FRAMES}
    server = {
        _message_key(model): _server_message(model, schemas[model], examples.get(model, []))
        for model in (*outbound.SERVER_MESSAGES, outbound.GatewayFault)
    }
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}

    def message_refs(keys: list[str]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{CHANNEL}/messages/{key}"} for key in keys]

    operations: dict[str, Any] = {}
    for model in CLIENT_FRAMES:
        key = _message_key(model)
        operations[f"send{key[0].upper()}{key[1:]}"] = {
            "action": "send",
            "channel": channel_ref,
            "summary": _summary(model),
            "messages": message_refs([key]),
            "reply": {
                "channel": channel_ref,
                "messages": message_refs(
                    [_message_key(reply) for reply in (*REPLIES[model.ACTION], outbound.GatewayFault)]
                ),
            },
        }
    for key, message in server.items():
        operations[f"receive{key[0].upper()}{key[1:]}"] = {
            "action": "receive",
            "channel": channel_ref,
            "summary": message["summary"],
            "messages": message_refs([key]),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "videotasks live updates",
            "version": "1.0.0",
            "description": (
                "Task updates over a WebSocket, and the client messages that choose which tasks a connection "
                "follows. See docs/FRONTEND_INTEGRATION.md. Generated by `make asyncapi` from the message models."
            ),
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": {
            CHANNEL: {
                "address": "/",
                "title": "The live-updates socket",
                "description": _CONNECT,
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in [*client, *server]},
                "bindings": {
                    "ws": {
                        "bindingVersion": "0.1.0",
                        "query": {
                            "type": "object",
                            "required": ["token"],
                            "properties": {
                                "token": {"type": "string", "description": "The user's JWT"},
                                "lang": {
                                    "type": "string",
                                    "enum": list(messages.LANGS),
                                    "description": "The language of the connection's `message` texts; without "
                                    "it, the handshake's `Accept-Language` decides (default `en`)",
                                },
                            },
                        },
                        "headers": {
                            "type": "object",
                            "properties": {
                                "Accept-Language": {
                                    "type": "string",
                                    "description": "Chooses the connection's language when `lang` is absent "
                                    "(`zh`, `zh-CN`, `zh-Hans` read zh-CN); browsers send it by themselves",
                                }
                            },
                        },
                    }
                },
            }
        },
        "operations": operations,
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "The user's JWT, checked once at the handshake (401 without it, 403 when refused).",
                }
            },
            "messages": {**client, **server},
            "schemas": definitions,
        },
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors for repeated values, multi-line text as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def _markdown(node: Any) -> Any:
    """Docstrings quote code RST-style (double backticks); the document's readers render Markdown."""
    if isinstance(node, dict):
        return {key: _markdown(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_markdown(value) for value in node]
    return node.replace("``", "`") if isinstance(node, str) else node


def render(document: dict[str, Any]) -> str:
    header = "# Generated by `make asyncapi` (python -m local.asyncapi_export); do not edit by hand.\n"
    body = yaml.dump(_markdown(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return header + body


def main() -> None:
    DOCUMENT_PATH.write_text(render(current_document()), encoding="utf-8")
    print(f"wrote {DOCUMENT_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
