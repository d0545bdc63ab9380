"""Every text a user reads, in English and Simplified Chinese, keyed by stable codes; and which one to use.

The reply's ``error.code`` and the keys here are for programs; the texts are for people, and change freely.
Code raises errors with a key and its parameters (``VideoTasksError(key=..., params=...)``,
``PydanticCustomError(key, english, ctx)``) and the edge renders them in the reader's language
(``Accept-Language`` on HTTP; on the WebSocket the handshake's ``Accept-Language`` or ``?lang=``). Field
names, ids and allowed values are parameters: they are never translated.

Which language: ``en`` and ``zh-CN``; ``zh``, ``zh-CN``, ``zh-Hans``, ``zh-SG`` (and any other Simplified tag)
read ``zh-CN``. Traditional tags (``zh-TW``, ``zh-HK``, ``zh-MO``, ``zh-Hant``) also read ``zh-CN`` (a reader
of Traditional Chinese reads Simplified more easily than English), but only when the header names no
language we have outright: ``zh-TW, en;q=0.5`` reads English. Anything else, or nothing, reads ``en``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any, Literal

Lang = Literal["en", "zh-CN"]
LANGS: tuple[Lang, ...] = ("en", "zh-CN")
DEFAULT_LANG: Lang = "en"

# key -> (English, Simplified Chinese). Placeholders are str.format fields, the same in both.
TEXTS: dict[str, tuple[str, str]] = {
    # authentication ------------------------------------------------------------------------------
    "missing_token": ("Missing token", "缺少登录令牌"),
    "token_too_large": ("Token too large", "登录令牌过长"),
    "token_expired": ("Token expired", "登录令牌已过期，请重新登录"),
    "invalid_token": ("Invalid token", "登录令牌无效"),
    "token_no_expiry": (
        "Token has no expiry (exp claim); this deployment requires one",
        "登录令牌没有过期时间（exp），本服务要求令牌带有过期时间",
    ),
    "token_no_subject": ("Token has no userId or sub claim", "登录令牌中缺少 userId 或 sub"),
    # routes and requests -------------------------------------------------------------------------
    "no_route": ("No route {method} {path}", "不存在接口 {method} {path}"),
    "method_not_allowed": ("{method} is not allowed on {path}", "{path} 不支持 {method} 请求"),
    "body_not_json": ("body is not valid JSON: {reason}", "请求体不是有效的 JSON：{reason}"),
    "internal_error": ("Internal error", "服务器内部错误，请稍后重试"),
    "invalid_request": ("invalid request", "请求无效"),
    "start_failed": (
        "The task was recorded but could not be started; it is marked FAILED",
        "任务已创建但未能启动，已标记为失败",
    ),
    "store_busy": ("Too many changes to your tasks at once; retry in a moment", "任务操作过于频繁，请稍后重试"),
    "rate_limited": (
        "Too many tasks created: your plan allows {limit} a minute; try again after {resetsAt}",
        "创建任务过于频繁：您的套餐每分钟最多创建 {limit} 个任务，请在 {resetsAt} 之后重试",
    ),
    "quota_exceeded": (
        "Daily video quota reached: your plan allows {limit} video seconds a day (this request asks for "
        "{requested}); it resets at {resetsAt}",
        "今日视频额度已用完：您的套餐每天最多生成 {limit} 秒视频（本次请求 {requested} 秒），额度将于 {resetsAt} 重置",
    ),
    "batch_item_refused": (
        "{field}: {reason} (item {index} of the batch)",
        "{field}：{reason}（批量中的第 {index} 项）",
    ),
    "video_id_pattern": ("must be video_<uuid4>", "必须是 video_<uuid4> 格式的任务 ID"),
    # tasks ---------------------------------------------------------------------------------------
    "task_not_found": ("Task {videoId} not found", "任务 {videoId} 不存在"),
    "task_not_cancellable": (
        "Task {videoId} is already {status} and cannot be cancelled",
        "任务 {videoId} 已处于 {status} 状态，无法取消",
    ),
    "task_cancel_contended": (
        "Task {videoId} kept changing while it was being cancelled; try again",
        "任务 {videoId} 在取消过程中状态不断变化，请重试",
    ),
    "content_not_ready": (
        "Task {videoId} is {status}; its content is not ready yet (it is once the task is COMPLETED)",
        "任务 {videoId} 当前为 {status} 状态；内容尚未生成，任务完成（COMPLETED）后即可获取",
    ),
    "content_never_cancelled": (
        "Task {videoId} was cancelled; it will never have content",
        "任务 {videoId} 已取消；它不会再有内容",
    ),
    "content_never_failed": (
        "Task {videoId} failed; it will never have content",
        "任务 {videoId} 已失败；它不会再有内容",
    ),
    "content_missing": (
        "Task {videoId} is {status} but has no stored content",
        "任务 {videoId} 为 {status} 状态，但没有保存的内容",
    ),
    # retry, remix and delete (videotasks.domain.lineage) -------------------------------------------
    "task_not_retryable": (
        "Task {videoId} is {status}; only a FAILED or CANCELLED task can be retried",
        "任务 {videoId} 当前为 {status} 状态；只有失败（FAILED）或已取消（CANCELLED）的任务可以重试",
    ),
    "task_not_remixable": (
        "Task {videoId} is {status}; only a COMPLETED video can be remixed",
        "任务 {videoId} 当前为 {status} 状态；只有已完成（COMPLETED）的视频可以二次创作",
    ),
    "model_cannot_remix": (
        "Model {model} cannot remix a video; remix a video made with a model whose capabilities list remix",
        "模型 {model} 不支持视频二次创作；请选择能力中包含 remix 的模型生成的视频",
    ),
    "idempotency_task_deleted": (
        "The task this Idempotency-Key made ({videoId}) has been deleted; send a new key to create another",
        "此 Idempotency-Key 创建的任务（{videoId}）已被删除；如需再次创建，请使用新的 key",
    ),
    "task_not_deletable": (
        "Task {videoId} is still {status}; cancel it first, then delete it",
        "任务 {videoId} 仍处于 {status} 状态；请先取消任务，再删除",
    ),
    "ws_auth_other_user": (
        "The token is not this connection's user's; reconnect with it to switch users",
        "该令牌不属于此连接的用户；如需切换用户，请用该令牌重新连接",
    ),
    # the catalogue of models ---------------------------------------------------------------------
    "model_unavailable": (
        "model '{model}' is not available; choose one of: {allowed}",
        "模型“{model}”不可用，请选择：{allowed}",
    ),
    "model_retired": (
        "model '{model}' is not available ({model} was retired on {retired}); choose one of: {allowed}",
        "模型“{model}”已于 {retired} 下线，请选择：{allowed}",
    ),
    "model_wrong_type": (
        "model '{model}' makes {made} tasks, not {asked}",
        "模型“{model}”只能生成 {made} 任务，不能生成 {asked} 任务",
    ),
    "size_unsupported": (
        "size must be one of {allowed} for model '{model}'",
        "size 必须是以下之一：{allowed}（模型“{model}”）",
    ),
    "seconds_unsupported": (
        "seconds must be one of {allowed} for model '{model}'",
        "seconds 必须是以下之一：{allowed}（模型“{model}”）",
    ),
    "seconds_unsupported_at_size": (
        "seconds must be one of {allowed} for model '{model}' at size {size}",
        "seconds 必须是以下之一：{allowed}（模型“{model}”，尺寸 {size}）",
    ),
    # pydantic's own error types, keyed by their ``type``, with their ``ctx`` --------------------
    "missing": ("Field required", "此字段为必填项"),
    "extra_forbidden": ("Extra inputs are not permitted", "不支持此字段"),
    "string_type": ("Input should be a valid string", "必须是字符串"),
    "string_too_short": ("String should have at least {min_length} characters", "长度不能少于 {min_length} 个字符"),
    "string_too_long": ("String should have at most {max_length} characters", "长度不能超过 {max_length} 个字符"),
    "string_pattern_mismatch": ("String should match pattern '{pattern}'", "格式不正确，应匹配 {pattern}"),
    "int_type": ("Input should be a valid integer", "必须是整数"),
    "int_parsing": ("Input should be a valid integer, unable to parse string as an integer", "必须是整数"),
    "int_from_float": ("Input should be a valid integer, got a number with a fractional part", "必须是整数"),
    "greater_than_equal": ("Input should be greater than or equal to {ge}", "不能小于 {ge}"),
    "less_than_equal": ("Input should be less than or equal to {le}", "不能大于 {le}"),
    "greater_than": ("Input should be greater than {gt}", "必须大于 {gt}"),
    "less_than": ("Input should be less than {lt}", "必须小于 {lt}"),
    "bool_type": ("Input should be a valid boolean", "必须是布尔值"),
    "bool_parsing": ("Input should be a valid boolean, unable to interpret input", "必须是布尔值"),
    "dict_type": ("Input should be a valid dictionary", "必须是 JSON 对象"),
    "model_type": ("Input should be an object", "必须是 JSON 对象"),
    "model_attributes_type": ("Input should be an object", "必须是 JSON 对象"),
    "batch_size": ("must hold 1 to {limit} task bodies", "必须包含 1 到 {limit} 个任务"),
    "list_type": ("Input should be a valid list", "必须是数组"),
    "enum": ("Input should be {expected}", "取值必须是 {expected}"),
    "literal_error": ("Input should be {expected}", "取值必须是 {expected}"),
    "json_invalid": ("Invalid JSON: {error}", "JSON 格式错误：{error}"),
    "json_type": ("JSON input should be string, bytes or bytearray", "必须是 JSON 文本"),
    "url_parsing": ("Input should be a valid URL, {error}", "必须是有效的 URL（{error}）"),
    "url_scheme": ("URL scheme should be {expected_schemes}", "URL 协议必须是 {expected_schemes}"),
    # our request models' own rules (domain/requests.py), keyed like pydantic's ------------------
    "alias_conflict": ("give either '{old}' or '{new}', not both", "'{old}' 和 '{new}' 只能二选一"),
    "aspect_ratio_unknown": ("must be one of {allowed}", "必须是以下之一：{allowed}"),
    "metadata_too_large": ("must be at most {limit} bytes of JSON", "JSON 大小不能超过 {limit} 字节"),
    "metadata_too_deep": ("may nest at most {limit} levels", "嵌套层级不能超过 {limit} 层"),
    "metadata_key_length": ("keys must be 1-{limit} characters", "键名长度必须为 1 到 {limit} 个字符"),
    "metadata_reserved_key": ("is set by the service", "由服务自动设置，不能由客户端指定"),
    "paging_mode_conflict": (
        "use either cursor or page/pageSize, not both (a cursor goes on from nextCursor)",
        "cursor 与 page/pageSize 只能二选一（cursor 取自上一页的 nextCursor）",
    ),
    "page_window_exceeded": (
        "page * pageSize must be at most {limit} (the newest {limit} tasks); use the cursor to go further",
        "page * pageSize 不能超过 {limit}（仅限最新的 {limit} 个任务）；更早的任务请使用 cursor 翻页",
    ),
    "input_reference_scheme": (
        "must be an https:// URL or a base64 data: URL of an image or video; other schemes "
        "(http:, file:, ftp:, s3:…) and relative references are not accepted",
        "必须是 https:// 链接或图片/视频的 base64 data: URL；不接受其他协议（http:、file:、ftp:、s3: 等）和相对地址",
    ),
    "input_reference_credentials": (
        "must be an https:// URL without credentials (user:password@) in it",
        "https:// 链接中不能包含用户名和密码（user:password@）",
    ),
    "input_reference_data_type": (
        "a data: URL must be base64 of one of {allowed} (data:image/png;base64,...)",
        "data: URL 必须是以下类型之一的 base64 数据：{allowed}（如 data:image/png;base64,...）",
    ),
    "input_reference_data_payload": ("the data: URL's payload is not base64", "data: URL 的内容不是有效的 base64"),
    "callback_url_scheme": ("must be an https:// URL", "必须是 https:// 链接"),
    "callback_url_host": ("must name a host on the internet", "必须是互联网上可访问的主机名"),
    "callback_url_credentials": (
        "must not carry credentials (user:password@)",
        "链接中不能包含用户名和密码（user:password@）",
    ),
    "callback_url_address": (
        "must not point at a loopback, private, link-local or otherwise non-public address",
        "不能指向回环、内网、链路本地或其他非公网地址",
    ),
    "callback_url_port": ("has an invalid port", "端口无效"),
    "callback_events_without_url": ("needs a callbackUrl", "需要同时提供 callbackUrl"),
    # the WebSocket protocol ----------------------------------------------------------------------
    "ws_expected": (
        '{problem}; send {{"action": ...}} with one of {actions} (or the old backend\'s {legacy} as "type")',
        '{problem}；请发送 {{"action": ...}}，取值为 {actions} 之一（或旧版的 "type"：{legacy}）',
    ),
    "ws_empty": ("Empty message", "消息为空"),
    "ws_not_json": ("Message is not JSON", "消息不是 JSON"),
    "ws_not_object": ("Message is not a JSON object", "消息不是 JSON 对象"),
    "ws_unknown_action": ("Unknown action {action}", "未知的操作 {action}"),
    "ws_no_action": ("Message has no action", "消息缺少 action"),
    "ws_too_large": ("Message too large (over {limit} characters)", "消息过长（超过 {limit} 个字符）"),
    "ws_payload_not_object": ("{type}: payload must be an object", "{type}：payload 必须是对象"),
    "ws_needs_video_id": (
        "{type} needs payload.videoId (one task per message)",
        "{type} 需要 payload.videoId（每条消息对应一个任务）",
    ),
    "ws_bad_video_id": ("videoId must be our task id, video_<uuid4>", "videoId 必须是 video_<uuid4> 格式的任务 ID"),
    "connection_not_registered": ("This connection is not registered", "此连接未注册，请重新连接"),
    "too_many_subscriptions": (
        "A connection follows at most {limit} tasks one by one",
        "每个连接最多单独订阅 {limit} 个任务",
    ),
    # where a task stands (WebSocket messages' ``message``) ----------------------------------------
    "status_queued": ("Waiting to start the {noun}", "{noun}排队中，即将开始生成"),
    "status_processing": ("Generating the {noun} ({progress}%)", "正在生成{noun}（{progress}%）"),
    "status_completed": ("The {noun} is ready", "{noun}已生成"),
    "status_failed": ("The {noun} failed: {reason}", "{noun}生成失败：{reason}"),
    "status_cancelled": ("The {noun} was cancelled", "{noun}已取消"),
    "noun_video": ("video", "视频"),
    "noun_image": ("image", "图片"),
    # a failed task's ``error.message``, one per ``error.code`` (domain/failures.py) ----------------
    "failure_provider_rejected": ("The provider refused the request", "生成服务拒绝了此请求"),
    "failure_content_policy": (
        "The provider's content policy refused this prompt or its result",
        "提示词或生成结果未通过内容安全审核",
    ),
    "failure_provider_auth_failed": (
        "The provider refused this service's credentials; the operator must check its key",
        "生成服务拒绝了本服务的凭证，请联系管理员检查密钥",
    ),
    "failure_provider_rate_limited": ("The provider kept refusing requests as too many", "生成服务繁忙，请求过多"),
    "failure_provider_unavailable": ("The provider was unavailable", "生成服务暂时不可用"),
    "failure_provider_failed": ("The provider could not generate this result", "生成服务未能生成此结果"),
    "failure_provider_cancelled": ("The provider cancelled the job", "生成服务取消了此任务"),
    "failure_provider_content_gone": ("The provider no longer has the finished media", "生成服务已不再保留生成结果"),
    "failure_provider_job_lost": ("The provider no longer knows the job", "生成服务已找不到此任务"),
    "failure_provider_timeout": ("The provider did not answer in time", "生成服务响应超时"),
    "failure_provider_bad_reply": ("The provider sent a reply we could not read", "生成服务返回了无法识别的结果"),
    "failure_provider_bad_media": (
        "The provider's result is not a video or image we can deliver",
        "生成结果不是可交付的视频或图片",
    ),
    "failure_provider_not_configured": (
        "This model's provider is not configured on this service",
        "本服务未配置此模型的生成服务",
    ),
    "failure_provider_cannot_cancel": ("The provider could not cancel the job", "生成服务无法取消此任务"),
    "failure_invalid_input": (
        "The provider refused the request's options or input",
        "生成服务不接受此请求的参数或输入素材",
    ),
    "failure_timeout": ("The task ran out of time", "任务超时"),
    "failure_queue_timeout": (
        "The task waited in your queue until its time ran out, behind your other tasks",
        "任务在您的队列中排队等待，直到超过时限仍未开始",
    ),
    "failure_execution_aborted": ("The task's workflow was stopped before the task finished", "任务流程在完成前被终止"),
    "failure_internal": ("The task failed because of an internal error", "任务因内部错误失败"),
    "failure_legacy_unfinished": (
        "The task was still running when the service moved to a new system, and it could not be finished",
        "迁移到新系统时此任务仍在进行中，无法继续完成",
    ),
    "failure_other": ("The task failed", "任务失败"),
    # the models (GET /models; videotasks.domain.catalog.model_texts): one description per catalog model ----
    "model_description_veo-3.1-fast": (
        "Google Veo 3.1 Fast: quick video with sound, 4 to 8 seconds, up to 1080p",
        "Google Veo 3.1 Fast：快速生成带声音的视频，4 到 8 秒，最高 1080p",
    ),
    "model_description_veo-3.1": (
        "Google Veo 3.1: the highest-quality Veo video with sound, 4 to 8 seconds, up to 1080p",
        "Google Veo 3.1：画质最好的 Veo 带声音视频，4 到 8 秒，最高 1080p",
    ),
    "model_description_kling-2.1-fal": (
        "Kling 2.1 (through fal): smooth, realistic motion, 5 or 10 seconds",
        "可灵 Kling 2.1（经 fal）：动作流畅逼真，5 秒或 10 秒",
    ),
    "model_description_kling-2.5-turbo-replicate": (
        "Kling 2.5 Turbo (through Replicate): fast, cinematic motion, 5 or 10 seconds",
        "可灵 Kling 2.5 Turbo（经 Replicate）：快速生成，电影感镜头，5 秒或 10 秒",
    ),
    "model_description_sora_video2": (
        "Sora 2 through the relay the old backend used",
        "经旧后端所用中转服务的 Sora 2",
    ),
    "model_description_gpt-image-1": (
        "GPT Image 1: a still image from your prompt",
        "GPT Image 1：根据提示词生成一张图片",
    ),
    "model_description_sora-2": (
        "OpenAI Sora 2: video with sound, good for quick ideas and social clips",
        "OpenAI Sora 2：带声音的视频，适合快速尝试创意和短视频",
    ),
    "model_description_sora-2-pro": (
        "OpenAI Sora 2 Pro: slower, higher-fidelity video for finished work",
        "OpenAI Sora 2 Pro：生成较慢，画面更精细，适合成品",
    ),
    "model_description_other": ("A {type} model", "{type} 模型"),
    # example prompts, per task type (the playground offers them)
    "example_prompt_video_1": (
        "A paper boat drifting down a rainy city street at night, neon reflections, slow tracking shot",
        "夜晚下雨的城市街道上，一只纸船顺水漂流，霓虹倒影，缓慢跟拍镜头",
    ),
    "example_prompt_video_2": (
        "A red fox trotting through fresh snow in a birch forest at sunrise, soft golden light",
        "日出时分的白桦林里，一只红狐在新雪中小跑，柔和的金色光线",
    ),
    "example_prompt_video_3": (
        "Close-up of hands shaping clay on a spinning pottery wheel, shallow depth of field",
        "特写：双手在旋转的陶轮上塑造陶泥，浅景深",
    ),
    "example_prompt_image_1": (
        "A cozy reading nook by a rainy window, watercolor illustration",
        "雨天窗边温馨的阅读角，水彩插画风格",
    ),
    "example_prompt_image_2": (
        "An isometric pixel-art lighthouse on a small island at dusk",
        "黄昏时小岛上的等距像素风灯塔",
    ),
    "example_prompt_image_3": (
        "A studio photo of a ceramic teapot on linen, soft daylight",
        "亚麻布上的陶瓷茶壶，柔和自然光下的棚拍照片",
    ),
}

_FIELDS = string.Formatter()


def placeholders(text: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in _FIELDS.parse(text) if name)


def has(key: str) -> bool:
    return key in TEXTS


def render(key: str, lang: str, params: Mapping[str, Any] | None = None, *, fallback: str | None = None) -> str:
    """The text of ``key`` in ``lang`` (English when ``lang`` is not one of ``LANGS``), its placeholders
    filled from ``params``. An unknown key reads ``fallback`` (an English text from elsewhere, such as a
    validator's message whose translation is not here yet), else the key itself."""
    texts = TEXTS.get(key)
    if texts is None:
        return fallback if fallback is not None else key
    text = texts[1] if lang == "zh-CN" else texts[0]
    try:
        return text.format(**dict(params or {}))
    except (KeyError, IndexError, ValueError):  # a parameter missing: say it in English rather than fail
        return fallback if fallback is not None else texts[0]


_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$|^\*$")
_TRADITIONAL = {"tw", "hk", "mo", "hant"}


def language(tag: str | None) -> tuple[Lang | None, bool]:
    """Which of ``LANGS`` a language tag reads, and whether it is a full match (False for a Traditional
    Chinese tag, which only reads zh-CN when nothing better is asked for). ``(None, False)``: none."""
    if not tag:
        return None, False
    parts = tag.strip().lower().replace("_", "-").split("-")
    if parts[0] == "en":
        return "en", True
    if parts[0] == "zh":
        return "zh-CN", not (_TRADITIONAL & set(parts[1:])) or "hans" in parts[1:]
    return None, False


def negotiate(accept_language: str | None, override: str | None = None) -> Lang:
    """The language to answer in: ``override`` (``?lang=``) when it names one we have, else the best of an
    ``Accept-Language`` header by its q-values, else English."""
    chosen, _ = language(override)
    if chosen is not None:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "")[:512].split(",")):
        tag, _, rest = item.strip().partition(";")
        tag = tag.strip().replace("_", "-")
        if not _TAG.match(tag):
            continue
        quality = 1.0
        match = re.search(r"q\s*=\s*([^;\s]*)", rest)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                continue
        if quality > 0:
            ranked.append((-quality, position, tag))
    weak: Lang | None = None
    for _, _, tag in sorted(ranked):
        lang, full = language(tag)
        if lang is not None and full:
            return lang
        weak = weak or lang
    return weak or DEFAULT_LANG


def as_lang(value: object) -> Lang:
    """A stored or passed-on language (a connection record's, an authorizer context's), checked."""
    return "zh-CN" if value == "zh-CN" else DEFAULT_LANG
