"""The catalogue of user texts: complete in both languages, used by its keys, and the language negotiation."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic import ValidationError as ModelValidationError

from videotasks.domain import messages
from videotasks.domain.errors import NotFoundError
from videotasks.domain.models import TaskStatus
from videotasks.domain.requests import CreateTaskRequest, ListTasksQuery

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*(ROOT / "layers/common/python/videotasks").rglob("*.py"), *(ROOT / "functions").rglob("app.py")]


@pytest.mark.parametrize("key", sorted(messages.TEXTS))
def test_every_text_is_written_in_both_languages_with_the_same_placeholders(key: str) -> None:
    english, chinese = messages.TEXTS[key]
    assert english.strip() and chinese.strip()
    assert messages.placeholders(english) == messages.placeholders(chinese), key
    assert any("\u4e00" <= char <= "\u9fff" for char in chinese), f"{key}: the zh-CN text has no Chinese"


def _keys_in_code() -> set[str]:
    """Every catalogue key the code names literally: ``key="..."`` arguments, ``render("...")`` and
    ``has("...")`` calls, ``ProtocolError(code, "key")``, and the request models' ``field_error(field, "key", …)``
    and ``PydanticCustomError("key", …)``."""
    keys: set[str] = set()
    for source in SOURCES:
        if source.name == "messages.py":
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            literals: list[ast.expr] = [item.value for item in node.keywords if item.arg == "key"]
            if name in ("render", "has") and node.args:
                literals.append(node.args[0])
            if name in ("ProtocolError", "field_error") and len(node.args) > 1:
                literals.append(node.args[1])
            if name == "PydanticCustomError" and node.args:  # its type is the key the edge renders
                literals.append(node.args[0])
            for literal in literals:
                keys.update(_constants(literal))
    return keys


def _constants(node: ast.expr) -> set[str]:
    """The strings an argument can be: ``"a" if ... else "b"`` names both; an f-string is built (the
    families built that way are checked below)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _constants(node.body) | _constants(node.orelse)
    return set()


def test_every_key_the_code_names_is_in_the_catalogue() -> None:
    used = _keys_in_code()
    assert len(used) > 30, "the scan found too few keys: has the way errors are raised changed?"
    assert sorted(used - set(messages.TEXTS)) == []


def test_the_keys_the_code_builds_exist_too() -> None:
    for status in TaskStatus:  # socket_outbound.status_text
        assert messages.has(f"status_{status.value.lower()}")
    for noun in ("video", "image"):
        assert messages.has(f"noun_{noun}")


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh-SG", "zh-CN"),
        ("ZH_cn", "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en;q=0.5, zh-CN;q=0.9", "zh-CN"),
        ("fr-FR, de;q=0.9", "en"),
        ("fr-FR, zh;q=0.3", "zh-CN"),
        ("zh-CN;q=0, en;q=0.1", "en"),
        ("*", "en"),
        # Traditional Chinese reads Simplified when nothing better is asked for, not over an explicit en
        ("zh-TW", "zh-CN"),
        ("zh-Hant-HK", "zh-CN"),
        ("zh-TW, en;q=0.5", "en"),
        ("zh-HK, fr;q=0.8", "zh-CN"),
        ("x" * 2000, "en"),
        ("zh-CN;q=abc", "en"),
    ],
)
def test_accept_language_picks_the_best_language_we_have(header: str | None, lang: str) -> None:
    assert messages.negotiate(header) == lang


def test_an_explicit_language_overrides_the_header_unless_it_names_none_we_have() -> None:
    assert messages.negotiate("en-US", "zh-CN") == "zh-CN"
    assert messages.negotiate("zh-CN", "en") == "en"
    assert messages.negotiate("zh-CN", "klingon") == "zh-CN"
    assert messages.negotiate(None, "") == "en"


def test_render_fills_placeholders_in_the_language_asked_for() -> None:
    params = {"noun": messages.render("noun_video", "zh-CN"), "progress": 42}
    assert messages.render("status_processing", "zh-CN", params) == "正在生成视频（42%）"
    assert messages.render("status_processing", "en", {"noun": "video", "progress": 42}) == "Generating the video (42%)"
    assert messages.render("status_processing", "de", {"noun": "video", "progress": 42}) == "Generating the video (42%)"


def test_an_unknown_key_reads_its_fallback_and_a_missing_parameter_does_not_raise() -> None:
    assert messages.render("a_validator_key_not_translated_yet", "zh-CN", fallback="use either A or B") == (
        "use either A or B"
    )
    assert messages.render("task_not_found", "zh-CN", {}) == "Task {videoId} not found"


def test_an_error_raised_with_a_key_logs_english_and_reads_in_the_readers_language() -> None:
    error = NotFoundError(key="task_not_found", params={"videoId": "video_1"})
    assert error.message == "Task video_1 not found"
    assert error.user_message("zh-CN") == "任务 video_1 不存在"
    assert NotFoundError("bare words").user_message("zh-CN") == "bare words"


class _Nested(BaseModel):
    flag: bool


def _error_types(model: type[BaseModel], data: Any) -> set[str]:
    try:
        model.model_validate(data)
    except ModelValidationError as exc:
        return {str(item["type"]) for item in exc.errors()}
    return set()


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (CreateTaskRequest, {}),
        (CreateTaskRequest, {"prompt": ""}),
        (CreateTaskRequest, {"prompt": "x" * 4001}),
        (CreateTaskRequest, {"prompt": 5}),
        (CreateTaskRequest, {"prompt": "x", "seconds": 0}),
        (CreateTaskRequest, {"prompt": "x", "seconds": 61}),
        (CreateTaskRequest, {"prompt": "x", "seconds": "ten"}),
        (CreateTaskRequest, {"prompt": "x", "seconds": 1.5}),
        (CreateTaskRequest, {"prompt": "x", "type": "AUDIO"}),
        (CreateTaskRequest, {"prompt": "x", "unknown": 1}),
        (CreateTaskRequest, {"prompt": "x", "metadata": []}),
        (CreateTaskRequest, {"prompt": "x", "clientRequestId": "a b"}),
        (CreateTaskRequest, []),
        (ListTasksQuery, {"limit": "many"}),
        (ListTasksQuery, {"limit": "0"}),
        (ListTasksQuery, {"limit": "1000"}),
        (_Nested, {"flag": "maybe"}),
    ],
)
def test_pydantics_error_types_our_models_raise_are_in_the_catalogue(model: type[BaseModel], data: Any) -> None:
    types = _error_types(model, data) - {"value_error", "assertion_error"}  # validators' own words
    assert types, "the input was meant to be refused"
    assert sorted(kind for kind in types if not messages.has(kind)) == []
