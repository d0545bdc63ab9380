"""Error texts in the reader's language (``Accept-Language``), English by default; codes and fields unchanged."""

from __future__ import annotations

import pytest

from tests.integration.api_harness import BASE, MISSING_VIDEO_ID, Api

pytest_plugins = ["tests.integration.api_fixtures"]

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def test_a_404_reads_chinese_when_asked_and_english_by_default(api: Api) -> None:
    chinese = api.call("GET", f"{BASE}/tasks/{MISSING_VIDEO_ID}", headers=ZH)
    english = api.call("GET", f"{BASE}/tasks/{MISSING_VIDEO_ID}")

    assert chinese.error(404, "NOT_FOUND")["message"] == f"任务 {MISSING_VIDEO_ID} 不存在"
    assert chinese.body["message"] == chinese.body["error"]["message"]
    assert english.error(404, "NOT_FOUND")["message"] == f"Task {MISSING_VIDEO_ID} not found"


def test_a_validation_error_names_the_field_untranslated_with_the_reason_in_chinese(api: Api) -> None:
    reply = api.call("POST", f"{BASE}/tasks", body={"prompt": "x", "seconds": 0}, headers=ZH)

    reply.error(400, "VALIDATION_ERROR")
    assert reply.body["message"] == "seconds: 不能小于 1"
    assert reply.body["error"]["details"][0] == {"field": "seconds", "message": "不能小于 1"}


def test_a_missing_body_field_and_an_unknown_one_read_chinese(api: Api) -> None:
    reply = api.call("POST", f"{BASE}/tasks", body={"colour": "red"}, headers={"accept-language": "zh"})

    reply.error(400, "VALIDATION_ERROR")
    assert {(item["field"], item["message"]) for item in reply.body["error"]["details"]} >= {
        ("prompt", "此字段为必填项"),
        ("colour", "不支持此字段"),
    }


def test_a_refused_token_reads_chinese_before_any_route_runs(api: Api) -> None:
    reply = api.as_user(None).call("GET", f"{BASE}/tasks", headers=ZH)

    assert reply.error(401, "UNAUTHORIZED")["message"] == "缺少登录令牌"


def test_an_unknown_route_and_a_wrong_method_read_chinese(api: Api) -> None:
    missing = api.call("GET", f"{BASE}/nowhere", headers=ZH)
    wrong = api.call("DELETE", f"{BASE}/tasks", headers=ZH)

    assert missing.error(404, "NOT_FOUND")["message"] == f"不存在接口 GET {BASE}/nowhere"
    assert wrong.error(405, "METHOD_NOT_ALLOWED")["message"] == f"{BASE}/tasks 不支持 DELETE 请求"


def test_a_catalogue_refusal_reads_chinese_and_keeps_its_allowed_values(api: Api) -> None:
    reply = api.call("POST", f"{BASE}/tasks", body={"prompt": "x", "model": "no-such-model"}, headers=ZH)

    error = reply.error(400, "VALIDATION_ERROR")
    assert error["message"].startswith("模型“no-such-model”不可用，请选择：")
    assert error["details"][0]["field"] == "model"


def test_a_failed_tasks_error_reads_chinese_and_keeps_the_providers_words_in_details(api: Api, steps) -> None:
    video_id = api.create_id()
    steps.fail(video_id)

    chinese = api.call("GET", f"{BASE}/tasks/{video_id}", headers=ZH).data["error"]
    english = api.get(video_id).data["error"]
    listed = api.call("GET", f"{BASE}/tasks", headers=ZH).data["items"][0]["error"]

    assert chinese["message"] == listed["message"] == "提示词或生成结果未通过内容安全审核"
    assert english["message"] == "The provider's content policy refused this prompt or its result"
    assert chinese["code"] == english["code"] == "CONTENT_POLICY"
    assert chinese["details"] == {"providerCode": "moderation_blocked", "providerMessage": "The prompt was refused"}


@pytest.mark.parametrize("header", ["fr-FR", "", "zh-TW, en;q=0.5"])
def test_a_language_we_do_not_have_reads_english(api: Api, header: str) -> None:
    reply = api.call("GET", f"{BASE}/tasks/{MISSING_VIDEO_ID}", headers={"Accept-Language": header})

    assert reply.error(404, "NOT_FOUND")["message"] == f"Task {MISSING_VIDEO_ID} not found"
