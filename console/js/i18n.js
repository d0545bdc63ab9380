// The console's own texts in English and Chinese (zh-CN). The language follows the browser's until the
// person picks one with the switch (remembered in localStorage); the API is asked for the same language
// (Accept-Language, ?lang= on the WebSocket), so its messages match the console's.

const STORAGE_KEY = "videotasks.console.lang.v1";
export const LANGUAGES = { en: "English", "zh-CN": "中文" };

const TEXTS = {
  en: {
    "page.title": "videotasks console",
    "skip": "Skip to results",
    "brand.sub": "console",
    "language": "Language",
    "newTask.jump": "New task",
    "live.idle": "Not connected",
    "live.disabled": "No WebSocket URL — polling",
    "live.connecting": "Connecting to live updates…",
    "live.live": "Live updates on",
    "live.offline": "Live updates offline, polling",
    "live.retrying": "{text} (retrying in {seconds} s)",
    "settings.title": "Connection",
    "settings.notSet": "not set",
    "settings.api": "API URL",
    "settings.ws": "WebSocket URL",
    "settings.token": "Token (JWT)",
    "settings.show": "Show",
    "settings.hide": "Hide",
    "settings.kept": "Kept in this browser only (localStorage).",
    "settings.save": "Save and connect",
    "settings.forget": "Forget saved",
    "settings.begin": "Enter the API URL and a token under Connection to begin.",
    "settings.notSaved": "Connection not saved",
    "settings.apiEmpty": "the API URL is empty",
    "settings.apiScheme": "the API URL must start with http:// or https://",
    "settings.wsScheme": "the WebSocket URL must start with ws:// or wss://",
    "settings.tokenEmpty": "the token is empty",
    "settings.noStorage": "This browser would not store the settings; they last until the page is closed.",
    "settings.connected": "Connected to {host}.",
    "settings.forgotten": "Saved connection settings forgotten.",
    "create.title": "New task",
    "create.type": "Type",
    "create.video": "Video",
    "create.image": "Image",
    "create.prompt": "Prompt",
    "create.placeholder": "A paper boat drifting down a rainy street",
    "create.shortcut": "Ctrl+Enter (⌘+Enter) creates it.",
    "create.model": "Model",
    "create.seconds": "Seconds",
    "create.size": "Size",
    "create.priority": "Priority",
    "create.high": "High",
    "create.normal": "Normal",
    "create.low": "Low",
    "create.copies": "Copies",
    "create.copiesHint": "More than one creates them in one batch: all of them, or none",
    "create.submit": "Create task",
    "create.busy": "Creating…",
    "create.examples": "Examples",
    "create.example": "Use example: {prompt}",
    "create.curl": "Copy as curl",
    "create.request": "The request it sends",
    "create.failed": "Could not create the task",
    "create.connectFirst": "Set the API URL and token under Connection first.",
    "create.created": "Task {videoId} created",
    "create.createdMany": "{count} tasks created",
    "create.filtered": "{made}; the status filter hides {count}.",
    "create.seconds.value": "{seconds} s",
    "examples": [
      "A paper boat drifting down a rainy street, close-up, soft light",
      "A red fox trotting through fresh snow at dawn",
      "Time-lapse of clouds rolling over a mountain village",
    ],
    "models.failed": "Could not load the models",
    "size.portrait": "portrait",
    "size.landscape": "landscape",
    "size.tallPortrait": "tall portrait",
    "size.wideLandscape": "wide landscape",
    "size.square": "square",
    "size.auto": "chosen by the model",
    "stats.title": "Stats",
    "stats.refresh": "Refresh",
    "stats.none": "No stats yet.",
    "stats.total": "Total",
    "stats.rate": "Success rate",
    "stats.average": "Avg. generation",
    "stats.recent": "Last 24 h",
    "stats.failed": "Could not load the stats",
    "usage.title": "Usage",
    "usage.none": "No usage yet.",
    "usage.plan": "Plan",
    "usage.generating": "Generating",
    "usage.queued": "Queued",
    "usage.creates": "Creates this minute",
    "usage.resets": "Resets",
    "usage.seconds": "Video seconds today",
    "usage.failed": "Could not load the usage",
    "tasks.title": "Results",
    "tasks.filter": "Status",
    "tasks.all": "All",
    "tasks.refresh": "Refresh",
    "tasks.loadMore": "Load more",
    "tasks.loading": "Loading tasks…",
    "tasks.loadingMore": "Loading…",
    "tasks.empty": "No tasks yet — create one.",
    "tasks.emptyFiltered": "No {status} tasks.",
    "tasks.count": "{count} tasks.",
    "tasks.countOne": "1 task.",
    "tasks.countFiltered": "{count} {status} tasks.",
    "tasks.countFilteredOne": "1 {status} task.",
    "tasks.showing": "Showing {shown} of {total} tasks.",
    "tasks.showingFiltered": "Showing {shown} of {total} {status} tasks.",
    "tasks.loadFailed": "Could not load the tasks",
    "tasks.loadFailedShort": "The tasks could not be loaded.",
    "tasks.moreFailed": "Could not load more tasks",
    "tasks.refreshFailed": "Could not refresh the tasks",
    "status.QUEUED": "Queued",
    "status.PROCESSING": "Processing",
    "status.COMPLETED": "Completed",
    "status.FAILED": "Failed",
    "status.CANCELLED": "Cancelled",
    "status.queued": "{status} · #{position}",
    "type.VIDEO": "Video",
    "type.IMAGE": "Image",
    "task.label": "{type} task: {prompt}",
    "task.progress": "Progress of {videoId}",
    "task.progressText": "{progress}% — {status}",
    "task.open": "Details",
    "task.openLabel": "Details of task {videoId}",
    "task.play": "Play video",
    "task.playLabel": "Play video of {videoId}",
    "task.poster": "Poster of the video for “{prompt}”",
    "task.noPoster": "No poster yet",
    "task.mediaLabel": "{type} for “{prompt}”",
    "task.cancel": "Cancel",
    "task.cancelLabel": "Cancel task {videoId}",
    "task.cancelling": "Cancelling…",
    "task.retry": "Retry",
    "task.retryLabel": "Retry task {videoId}",
    "task.retrying": "Retrying…",
    "task.remix": "Remix",
    "task.remixLabel": "Remix video of task {videoId}",
    "task.remixing": "Remixing…",
    "task.delete": "Delete",
    "task.deleteLabel": "Delete task {videoId}",
    "task.deleting": "Deleting…",
    "task.loadingMedia": "Loading…",
    "task.failedPlain": "It failed: {message}",
    "confirm.cancelTitle": "Cancel this task?",
    "confirm.cancelText": "“{prompt}” stops and cannot be resumed; you can retry it later.",
    "confirm.cancelYes": "Cancel task",
    "confirm.deleteTitle": "Delete this task?",
    "confirm.deleteText": "“{prompt}” and its media are deleted. This cannot be undone.",
    "confirm.deleteYes": "Delete task",
    "confirm.keep": "Keep it",
    "remix.title": "Remix this video",
    "remix.prompt": "Describe the new version",
    "remix.submit": "Remix",
    "remix.cancel": "Close",
    "done.cancelled": "Task cancelled.",
    "done.deleted": "Task deleted.",
    "done.retry": "Retry created.",
    "done.remix": "Remix created.",
    "done.hidden": "{what} The status filter hides it.",
    "fail.cancel": "Could not cancel the task",
    "fail.retry": "Could not retry the task",
    "fail.remix": "Could not remix the video",
    "fail.delete": "Could not delete the task",
    "fail.media": "Could not load the media",
    "fail.mediaExpired": "The media could not be loaded; its link may have expired. Try again.",
    "fail.start": "The console failed to start",
    "page.back": "All results",
    "page.loading": "Loading the task…",
    "page.missing": "This task does not exist, or it is not yours.",
    "page.prompt": "Prompt",
    "page.status": "Status",
    "page.model": "Model",
    "page.size": "Size",
    "page.seconds": "Seconds",
    "page.queued": "Queued",
    "page.started": "Started",
    "page.finished": "Finished",
    "page.elapsed": "Elapsed",
    "page.position": "Place in your queue",
    "page.videoId": "Task id",
    "page.externalId": "Provider job id",
    "page.notAssigned": "not assigned yet",
    "page.copy": "Copy",
    "page.copyLabel": "Copy {what}",
    "page.copied": "Copied.",
    "page.copyFailed": "Could not copy; select the text and copy it yourself.",
    "page.download": "Download",
    "page.copyLink": "Copy link",
    "page.linkValid": "Media link valid until {time}",
    "page.error": "What went wrong",
    "page.errorCode": "Code for support: {code}",
    "page.retryOf": "A retry of {videoId}",
    "page.remixOf": "A remix of {videoId}",
    "elapsed.seconds": "{n} s",
    "elapsed.minutes": "{m} min {s} s",
    "busy": "Busy — try again {when}",
    "busy.in": "in {seconds} s",
    "busy.moment": "in a moment",
    "limit.quota": "Daily video quota reached — resets at {when}",
    "limit.minute": "Too many tasks this minute — try again at {when}",
    "alerts.dismiss": "Dismiss",
    "alerts.dismissLabel": "Dismiss this message",
    "live.title": "Live updates",
    "live.refused": "the server refused a request",
    "live.badUrl": "The WebSocket URL “{url}” is not valid; live updates are off.",
    "api.noUrl": "No API URL is set: open Connection and enter one.",
    "api.badUrl": "The API URL “{url}” is not a valid URL.",
    "api.unreachable":
      "Could not reach the API at {origin} ({reason}). Check the API URL, that the stack is running, and that its CORS settings allow this page's origin.",
    "api.checkToken": "{message} — check the token.",
  },
  "zh-CN": {
    "page.title": "videotasks 控制台",
    "skip": "跳到结果",
    "brand.sub": "控制台",
    "language": "语言",
    "newTask.jump": "新建任务",
    "live.idle": "未连接",
    "live.disabled": "未设置 WebSocket 地址——轮询中",
    "live.connecting": "正在连接实时更新…",
    "live.live": "实时更新已开启",
    "live.offline": "实时更新离线，轮询中",
    "live.retrying": "{text}（{seconds} 秒后重试）",
    "settings.title": "连接",
    "settings.notSet": "未设置",
    "settings.api": "API 地址",
    "settings.ws": "WebSocket 地址",
    "settings.token": "令牌（JWT）",
    "settings.show": "显示",
    "settings.hide": "隐藏",
    "settings.kept": "只保存在此浏览器中（localStorage）。",
    "settings.save": "保存并连接",
    "settings.forget": "清除已保存的设置",
    "settings.begin": "请先在“连接”中填写 API 地址和令牌。",
    "settings.notSaved": "连接未保存",
    "settings.apiEmpty": "API 地址为空",
    "settings.apiScheme": "API 地址必须以 http:// 或 https:// 开头",
    "settings.wsScheme": "WebSocket 地址必须以 ws:// 或 wss:// 开头",
    "settings.tokenEmpty": "令牌为空",
    "settings.noStorage": "此浏览器无法保存设置；关闭页面后设置将失效。",
    "settings.connected": "已连接到 {host}。",
    "settings.forgotten": "已清除保存的连接设置。",
    "create.title": "新建任务",
    "create.type": "类型",
    "create.video": "视频",
    "create.image": "图片",
    "create.prompt": "提示词",
    "create.placeholder": "一只纸船顺着雨中的街道漂流",
    "create.shortcut": "按 Ctrl+Enter（⌘+Enter）即可创建。",
    "create.model": "模型",
    "create.seconds": "秒数",
    "create.size": "尺寸",
    "create.priority": "优先级",
    "create.high": "高",
    "create.normal": "普通",
    "create.low": "低",
    "create.copies": "份数",
    "create.copiesHint": "多于一份时作为一个批次创建：要么全部创建，要么都不创建",
    "create.submit": "创建任务",
    "create.busy": "正在创建…",
    "create.examples": "示例",
    "create.example": "使用示例：{prompt}",
    "create.curl": "复制为 curl",
    "create.request": "将要发送的请求",
    "create.failed": "无法创建任务",
    "create.connectFirst": "请先在“连接”中设置 API 地址和令牌。",
    "create.created": "任务 {videoId} 已创建",
    "create.createdMany": "已创建 {count} 个任务",
    "create.filtered": "{made}；状态筛选隐藏了 {count} 个。",
    "create.seconds.value": "{seconds} 秒",
    "examples": ["雨中的街道上漂流的纸船，特写，柔和的光线", "黎明时分一只红狐狸在新雪中小跑", "云层翻过山村的延时摄影"],
    "models.failed": "无法加载模型列表",
    "size.portrait": "竖屏",
    "size.landscape": "横屏",
    "size.tallPortrait": "高竖屏",
    "size.wideLandscape": "宽横屏",
    "size.square": "方形",
    "size.auto": "由模型决定",
    "stats.title": "统计",
    "stats.refresh": "刷新",
    "stats.none": "暂无统计。",
    "stats.total": "总数",
    "stats.rate": "成功率",
    "stats.average": "平均生成时间",
    "stats.recent": "最近 24 小时",
    "stats.failed": "无法加载统计",
    "usage.title": "用量",
    "usage.none": "暂无用量。",
    "usage.plan": "套餐",
    "usage.generating": "生成中",
    "usage.queued": "排队中",
    "usage.creates": "本分钟创建数",
    "usage.resets": "重置时间",
    "usage.seconds": "今日视频秒数",
    "usage.failed": "无法加载用量",
    "tasks.title": "结果",
    "tasks.filter": "状态",
    "tasks.all": "全部",
    "tasks.refresh": "刷新",
    "tasks.loadMore": "加载更多",
    "tasks.loading": "正在加载任务…",
    "tasks.loadingMore": "正在加载…",
    "tasks.empty": "还没有任务——新建一个吧。",
    "tasks.emptyFiltered": "没有{status}的任务。",
    "tasks.count": "共 {count} 个任务。",
    "tasks.countOne": "共 1 个任务。",
    "tasks.countFiltered": "共 {count} 个{status}的任务。",
    "tasks.countFilteredOne": "共 1 个{status}的任务。",
    "tasks.showing": "显示 {shown} / {total} 个任务。",
    "tasks.showingFiltered": "显示 {shown} / {total} 个{status}的任务。",
    "tasks.loadFailed": "无法加载任务",
    "tasks.loadFailedShort": "任务加载失败。",
    "tasks.moreFailed": "无法加载更多任务",
    "tasks.refreshFailed": "无法刷新任务",
    "status.QUEUED": "排队中",
    "status.PROCESSING": "处理中",
    "status.COMPLETED": "已完成",
    "status.FAILED": "失败",
    "status.CANCELLED": "已取消",
    "status.queued": "{status} · 第 {position} 位",
    "type.VIDEO": "视频",
    "type.IMAGE": "图片",
    "task.label": "{type}任务：{prompt}",
    "task.progress": "{videoId} 的进度",
    "task.progressText": "{progress}% — {status}",
    "task.open": "详情",
    "task.openLabel": "任务 {videoId} 的详情",
    "task.play": "播放视频",
    "task.playLabel": "播放 {videoId} 的视频",
    "task.poster": "“{prompt}”视频的封面",
    "task.noPoster": "暂无封面",
    "task.mediaLabel": "“{prompt}”的{type}",
    "task.cancel": "取消",
    "task.cancelLabel": "取消任务 {videoId}",
    "task.cancelling": "正在取消…",
    "task.retry": "重试",
    "task.retryLabel": "重试任务 {videoId}",
    "task.retrying": "正在重试…",
    "task.remix": "改编",
    "task.remixLabel": "改编任务 {videoId} 的视频",
    "task.remixing": "正在改编…",
    "task.delete": "删除",
    "task.deleteLabel": "删除任务 {videoId}",
    "task.deleting": "正在删除…",
    "task.loadingMedia": "正在加载…",
    "task.failedPlain": "失败：{message}",
    "confirm.cancelTitle": "取消此任务？",
    "confirm.cancelText": "“{prompt}”将停止且无法继续；之后可以重试。",
    "confirm.cancelYes": "取消任务",
    "confirm.deleteTitle": "删除此任务？",
    "confirm.deleteText": "“{prompt}”及其媒体将被删除，且无法恢复。",
    "confirm.deleteYes": "删除任务",
    "confirm.keep": "保留",
    "remix.title": "改编此视频",
    "remix.prompt": "描述新的版本",
    "remix.submit": "改编",
    "remix.cancel": "关闭",
    "done.cancelled": "任务已取消。",
    "done.deleted": "任务已删除。",
    "done.retry": "已创建重试任务。",
    "done.remix": "已创建改编任务。",
    "done.hidden": "{what}状态筛选隐藏了它。",
    "fail.cancel": "无法取消任务",
    "fail.retry": "无法重试任务",
    "fail.remix": "无法改编视频",
    "fail.delete": "无法删除任务",
    "fail.media": "无法加载媒体",
    "fail.mediaExpired": "媒体加载失败，链接可能已过期，请重试。",
    "fail.start": "控制台启动失败",
    "page.back": "全部结果",
    "page.loading": "正在加载任务…",
    "page.missing": "此任务不存在，或不属于你。",
    "page.prompt": "提示词",
    "page.status": "状态",
    "page.model": "模型",
    "page.size": "尺寸",
    "page.seconds": "秒数",
    "page.queued": "排队于",
    "page.started": "开始于",
    "page.finished": "结束于",
    "page.elapsed": "耗时",
    "page.position": "在你的队列中的位置",
    "page.videoId": "任务 ID",
    "page.externalId": "服务商任务 ID",
    "page.notAssigned": "尚未分配",
    "page.copy": "复制",
    "page.copyLabel": "复制{what}",
    "page.copied": "已复制。",
    "page.copyFailed": "无法复制，请选中文字后自行复制。",
    "page.download": "下载",
    "page.copyLink": "复制链接",
    "page.linkValid": "媒体链接有效期至 {time}",
    "page.error": "出了什么问题",
    "page.errorCode": "支持代码：{code}",
    "page.retryOf": "{videoId} 的重试",
    "page.remixOf": "{videoId} 的改编",
    "elapsed.seconds": "{n} 秒",
    "elapsed.minutes": "{m} 分 {s} 秒",
    "busy": "服务繁忙——请{when}再试",
    "busy.in": "{seconds} 秒后",
    "busy.moment": "稍后",
    "limit.quota": "已达每日视频配额——将于 {when} 重置",
    "limit.minute": "本分钟创建的任务过多——请于 {when} 再试",
    "alerts.dismiss": "关闭",
    "alerts.dismissLabel": "关闭此消息",
    "live.title": "实时更新",
    "live.refused": "服务器拒绝了请求",
    "live.badUrl": "WebSocket 地址“{url}”无效；实时更新已关闭。",
    "api.noUrl": "未设置 API 地址：请打开“连接”并填写。",
    "api.badUrl": "API 地址“{url}”不是有效的网址。",
    "api.unreachable": "无法连接到 {origin} 的 API（{reason}）。请检查 API 地址、服务是否在运行，以及其 CORS 设置是否允许此页面的来源。",
    "api.checkToken": "{message}——请检查令牌。",
  },
};

function pick(wanted) {
  const tag = String(wanted || "").toLowerCase();
  if (tag.startsWith("zh")) return "zh-CN";
  if (tag.startsWith("en")) return "en";
  return null;
}

function initialLanguage() {
  try {
    const saved = pick(localStorage.getItem(STORAGE_KEY));
    if (saved) return saved;
  } catch {
    // storage disabled: follow the browser
  }
  for (const tag of navigator.languages || [navigator.language]) {
    const found = pick(tag);
    if (found) return found;
  }
  return "en";
}

let current = initialLanguage();

export function lang() {
  return current;
}

export function setLang(value, { remember = true } = {}) {
  current = pick(value) || "en";
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, current);
    } catch {
      // kept for this page only
    }
  }
  return current;
}

// The text of `key` in the current language ({name} filled from `params`); English when missing.
export function t(key, params = {}) {
  const text = TEXTS[current][key] ?? TEXTS.en[key] ?? key;
  if (typeof text !== "string") return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// Static texts of the page: data-i18n="key" (text) and data-i18n-attr="attr:key,attr:key".
export function translatePage(root = document) {
  document.documentElement.lang = current;
  document.title = t("page.title");
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(",")) {
      const [attribute, key] = pair.split(":");
      node.setAttribute(attribute.trim(), t(key.trim()));
    }
  }
}

// "3 minutes ago", in the current language; the exact moment (no seconds) is `exactTime`.
export function relativeTime(iso, now = Date.now()) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return "";
  const seconds = Math.round((date.getTime() - now) / 1000);
  const format = new Intl.RelativeTimeFormat(current, { numeric: "auto" });
  const units = [
    ["year", 31_536_000],
    ["month", 2_592_000],
    ["week", 604_800],
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(0, "second");
}

export function exactTime(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(current, { dateStyle: "medium", timeStyle: "short" });
}

export function clockTime(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return "—";
  return date.toLocaleTimeString(current, { hour: "2-digit", minute: "2-digit" });
}

export function elapsed(fromIso, toIso) {
  const from = new Date(fromIso).getTime();
  const to = new Date(toIso).getTime();
  if (Number.isNaN(from) || Number.isNaN(to)) return "—";
  const total = Math.max(0, Math.round((to - from) / 1000));
  return total < 60 ? t("elapsed.seconds", { n: total }) : t("elapsed.minutes", { m: Math.floor(total / 60), s: total % 60 });
}
