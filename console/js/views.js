// Rendering only: DOM in, DOM out. Text goes in through textContent, never innerHTML, since prompts,
// messages and errors come from people and providers.

import { canRemix } from "./catalog.js";
import { elapsed, exactTime, relativeTime, t } from "./i18n.js";
import { isTerminal } from "./tasks.js";

const MAX_ALERTS = 5;
const NOTICE_MS = 6000;

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== ""));
  return node;
}

function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

export function statusLabel(status) {
  return t(`status.${status}`);
}

function typeLabel(task) {
  return t(`type.${task.type === "IMAGE" ? "IMAGE" : "VIDEO"}`);
}

// A prompt short enough for a label or a dialog.
export function shortPrompt(task) {
  const prompt = String(task.prompt || task.videoId || "");
  return prompt.length > 80 ? `${prompt.slice(0, 77)}…` : prompt;
}

// <time>: relative in lists, the exact moment (locale-aware, no seconds) on hover.
function setTime(node, iso) {
  node.textContent = relativeTime(iso);
  node.title = exactTime(iso);
  if (iso) node.setAttribute("datetime", iso);
}

// What a person reads about a failure: the API's own user-facing message (already in the language the
// console asked for), never the provider's raw text, which stays in error.details.
export function plainError(task) {
  if (!task.error) return "";
  return task.error.message || task.error.code || "";
}

// -- alerts ---------------------------------------------------------------------------------------

// An error stays until dismissed (errors are never swallowed); an info notice fades on its own.
export function showAlert(container, message, { kind = "error", title } = {}) {
  const text = title ? `${title}: ${message}` : message;
  for (const existing of container.querySelectorAll(".alert")) {
    if (existing.dataset.text === text) {
      existing.classList.remove("flash");
      void existing.offsetWidth; // restart the highlight on a repeated error
      existing.classList.add("flash");
      return existing;
    }
  }
  const dismiss = el("button", { type: "button", class: "ghost small", "aria-label": t("alerts.dismissLabel") }, t("alerts.dismiss"));
  const alert = el("div", { class: `alert ${kind}`, "data-kind": kind }, el("p", { text }), dismiss);
  alert.dataset.text = text;
  dismiss.addEventListener("click", () => alert.remove());
  container.prepend(alert);
  while (container.children.length > MAX_ALERTS) container.lastElementChild.remove();
  if (kind !== "error") setTimeout(() => alert.remove(), NOTICE_MS);
  return alert;
}

// -- live status ----------------------------------------------------------------------------------

export function renderLiveStatus(node, state, detail = {}) {
  let text = ["idle", "disabled", "connecting", "live", "offline"].includes(state) ? t(`live.${state}`) : state;
  if (state === "offline" && detail.retryInMs) text = t("live.retrying", { text, seconds: Math.ceil(detail.retryInMs / 1000) });
  node.dataset.state = state;
  node.querySelector(".live-text").textContent = text;
}

// -- stats ----------------------------------------------------------------------------------------

function statList(items, attribute) {
  const list = el("dl", { class: "stats" });
  for (const [label, value, key] of items) {
    list.append(el("div", { class: "stat", [attribute]: key }, el("dt", { text: label }), el("dd", { text: String(value) })));
  }
  return list;
}

export function renderStats(container, stats) {
  const by = stats.byStatus || {};
  const rate = typeof stats.successRate === "number" ? `${Math.round(stats.successRate * 100)}%` : "—";
  const average =
    typeof stats.averageGenerationSeconds === "number" ? `${stats.averageGenerationSeconds.toFixed(1)} s` : "—";
  const count = (status) => by[status] ?? stats[status.toLowerCase()] ?? 0;
  const items = [
    [t("stats.total"), stats.total ?? 0, "total"],
    ...["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"].map((status) => [statusLabel(status), count(status), status]),
    [t("stats.rate"), rate, "rate"],
    [t("stats.average"), average, "average"],
    [t("stats.recent"), stats.last24Hours ?? "—", "recent"],
  ];
  container.replaceChildren(statList(items, "data-stat"));
}

// The caller's plan: each limit with what of it is used, and when its window resets (local time).
export function renderUsage(container, usage, clock) {
  const limits = usage.limits || {};
  const used = usage.usage || {};
  const resets = usage.resets || {};
  const items = [
    [t("usage.plan"), usage.plan || "—", "plan"],
    [t("usage.generating"), `${used.generating ?? 0} / ${limits.maxGenerating ?? "—"}`, "generating"],
    [t("usage.queued"), used.queued ?? 0, "queued"],
    [t("usage.creates"), `${used.createsThisMinute ?? 0} / ${limits.createsPerMinute ?? "—"}`, "creates"],
    [t("usage.resets"), clock(resets.createsPerMinute), "creates-reset"],
    [t("usage.seconds"), `${used.videoSecondsToday ?? 0} / ${limits.videoSecondsPerDay ?? "—"}`, "seconds"],
    [t("usage.resets"), clock(resets.videoSecondsPerDay), "seconds-reset"],
  ];
  container.replaceChildren(statList(items, "data-usage"));
}

// -- tasks ----------------------------------------------------------------------------------------

export function createTaskElement(template, videoId) {
  const item = template.content.firstElementChild.cloneNode(true);
  item.dataset.videoId = videoId;
  return item;
}

// "Queued · #2" while the task waits behind the owner's running ones (its queuePosition, 1-based, kept live by
// the taskProgress messages); a stale position is never shown once the task has left the queue.
export function queueLabel(task) {
  if (task.status !== "QUEUED" || typeof task.queuePosition !== "number") return null;
  return t("status.queued", { status: statusLabel("QUEUED"), position: task.queuePosition });
}

function mediaLabel(task) {
  return t("task.mediaLabel", { type: typeLabel(task), prompt: shortPrompt(task) });
}

// The card's picture: a finished image as itself, a finished video's poster frame (a neutral
// placeholder until it has one), the type and status otherwise. Redrawn only when what it shows changes,
// so progress messages do not reload images; a playing video is left alone.
function renderThumb(item, task) {
  const thumb = field(item, "thumb");
  if (thumb.dataset.playing) return;
  const completed = task.status === "COMPLETED";
  let key;
  let build;
  if (completed && task.type === "IMAGE" && task.videoUrl) {
    key = `image:${task.videoUrl}`;
    build = () => el("img", { src: task.videoUrl, alt: mediaLabel(task), loading: "lazy", decoding: "async" });
  } else if (completed && task.type !== "IMAGE" && task.posterUrl) {
    key = `poster:${task.posterUrl}`;
    build = () => el("img", { src: task.posterUrl, alt: t("task.poster", { prompt: shortPrompt(task) }), loading: "lazy", decoding: "async" });
  } else {
    const text = completed ? t("task.noPoster") : typeLabel(task);
    key = `placeholder:${text}`;
    build = () => el("span", { class: "placeholder", "aria-hidden": "true" }, el("span", { class: "placeholder-mark" }, task.type === "IMAGE" ? "▣" : "▶"), el("span", { text }));
  }
  // A finished video previews on hover, focus or tap (its fresh presigned URL from the Task).
  if (completed && task.type !== "IMAGE" && task.videoUrl) thumb.dataset.preview = task.videoUrl;
  else delete thumb.dataset.preview;
  if (thumb.dataset.key === key) return;
  thumb.dataset.key = key;
  thumb.replaceChildren(build());
}

export function startPreview(thumb) {
  if (!thumb.dataset.preview || thumb.dataset.playing || thumb.querySelector("video.preview")) return;
  const video = el("video", { class: "preview", src: thumb.dataset.preview, muted: true, loop: true, playsinline: true, "aria-hidden": "true", tabindex: "-1" });
  video.muted = true; // the attribute alone does not mute a video made by script
  video.addEventListener("error", () => video.remove());
  thumb.append(video);
  video.play().catch(() => video.remove());
}

export function stopPreview(thumb) {
  thumb.querySelector("video.preview")?.remove();
}

function setAction(item, action, { visible, label, text }) {
  const node = item.querySelector(`[data-action="${action}"]`);
  node.hidden = !visible;
  node.textContent = text;
  node.setAttribute("aria-label", label);
  return node;
}

export function renderTask(item, task) {
  const previous = item.dataset.status;
  item.dataset.status = task.status;
  item.dataset.type = task.type || "VIDEO";
  const article = item.querySelector("article");
  article.setAttribute("aria-label", t("task.label", { type: typeLabel(task), prompt: shortPrompt(task) }));
  renderThumb(item, task);

  const badge = field(item, "status");
  badge.textContent = queueLabel(task) || statusLabel(task.status);
  badge.dataset.status = task.status;
  field(item, "type").textContent = typeLabel(task);
  field(item, "model").textContent = [task.model, task.seconds ? t("create.seconds.value", { seconds: task.seconds }) : null, task.size]
    .filter(Boolean)
    .join(" · ");
  setTime(field(item, "createdAt"), task.createdAt);
  field(item, "prompt").textContent = task.prompt || "";

  // The bar only while the task runs: an ended one says how it ended instead of a frozen bar.
  const progress = Math.max(0, Math.min(100, Math.round(task.progress || 0)));
  const bar = item.querySelector('[role="progressbar"]');
  bar.setAttribute("aria-valuenow", String(progress));
  bar.setAttribute("aria-valuetext", t("task.progressText", { progress, status: statusLabel(task.status) }));
  bar.setAttribute("aria-label", t("task.progress", { videoId: task.videoId }));
  bar.querySelector(".progress-fill").style.width = `${progress}%`;
  field(item, "progress").textContent = `${progress}%`;
  field(item, "progress-row").hidden = isTerminal(task);

  field(item, "message").textContent = isTerminal(task) ? "" : task.message || "";
  const error = field(item, "error");
  error.hidden = !(task.error && task.status === "FAILED");
  error.textContent = error.hidden ? "" : plainError(task);

  const cancel = item.querySelector('[data-action="cancel"]');
  if (isTerminal(task) && cancel === document.activeElement) article.focus(); // keep the keyboard's place
  renderActions(item, task);
  return previous !== task.status;
}

// The actions a task allows: cancel while it runs; retry (FAILED, CANCELLED), remix (a COMPLETED video
// whose model can remix) and delete (any ended task); play a finished video; its own page always.
function renderActions(item, task) {
  const videoId = task.videoId;
  const thumb = field(item, "thumb");
  setAction(item, "media", {
    visible: task.status === "COMPLETED" && task.type !== "IMAGE" && !thumb.dataset.playing,
    label: t("task.playLabel", { videoId }),
    text: t("task.play"),
  });
  const open = setAction(item, "open", { visible: true, label: t("task.openLabel", { videoId }), text: t("task.open") });
  open.href = `#/tasks/${encodeURIComponent(videoId)}`;
  setAction(item, "cancel", { visible: !isTerminal(task), label: t("task.cancelLabel", { videoId }), text: t("task.cancel") });
  for (const [action, visible] of Object.entries(lineage(task))) {
    setAction(item, action, { visible, label: t(`task.${action}Label`, { videoId }), text: t(`task.${action}`) });
  }
}

function lineage(task) {
  return {
    retry: task.status === "FAILED" || task.status === "CANCELLED",
    remix: task.status === "COMPLETED" && task.type !== "IMAGE" && canRemix(task.model),
    delete: isTerminal(task),
  };
}

// aria-disabled rather than disabled: a disabled button drops keyboard focus to the page's start.
export function setBusy(button, busy, busyText) {
  if (busy) {
    button.dataset.label = button.textContent;
    button.textContent = busyText;
    button.setAttribute("aria-disabled", "true");
    button.setAttribute("aria-busy", "true");
  } else {
    if (button.dataset.label) button.textContent = button.dataset.label;
    button.removeAttribute("aria-disabled");
    button.removeAttribute("aria-busy");
  }
}

export function isBusy(button) {
  return button.getAttribute("aria-busy") === "true";
}

// The finished media from its content URL. No crossorigin attribute: the bucket need not send CORS
// headers for plain playback, and asking for CORS would make such a bucket's media fail to load.
export function mediaElement(task, content, onError) {
  let node;
  if (task.type === "IMAGE" || String(content.contentType || "").startsWith("image/")) {
    node = el("img", { src: content.url, alt: mediaLabel(task), decoding: "async" });
  } else {
    node = el("video", { src: content.url, controls: true, preload: "metadata", playsinline: true, tabindex: "0", poster: task.posterUrl || null, "aria-label": mediaLabel(task) });
  }
  node.addEventListener("error", () => onError(t("fail.mediaExpired")));
  return node;
}

// The card's video played in place of its poster; the keyboard moves to the player (the Play button
// it came from goes away), so focus never drops to the page's start.
export function playInCard(item, task, content, onError) {
  const thumb = field(item, "thumb");
  stopPreview(thumb);
  const node = mediaElement(task, content, (message) => {
    delete thumb.dataset.playing;
    delete thumb.dataset.key;
    renderTask(item, task);
    onError(message);
  });
  thumb.dataset.playing = "1";
  thumb.replaceChildren(node);
  renderActions(item, task);
  node.focus();
  return node;
}

export function renderSummary(node, { shown, total, filter, loading }) {
  if (loading && !shown) {
    node.textContent = t("tasks.loading");
    return;
  }
  const status = filter ? statusLabel(filter).toLowerCase() : "";
  if (!shown) {
    node.textContent = filter ? t("tasks.emptyFiltered", { status }) : t("tasks.empty");
    return;
  }
  // "3 tasks" when all are shown; "Showing 10 of 59 tasks" while Load more has the rest.
  if (typeof total === "number" && total > shown) {
    node.textContent = t(filter ? "tasks.showingFiltered" : "tasks.showing", { shown, total, status });
    return;
  }
  const one = shown === 1 ? "One" : "";
  node.textContent = t(filter ? `tasks.countFiltered${one}` : `tasks.count${one}`, { count: shown, status });
}

// -- the task page --------------------------------------------------------------------------------

function copyRow(label, value, what) {
  const code = el("code", { text: value || t("page.notAssigned"), class: value ? "" : "pending" });
  const button = value
    ? el("button", { type: "button", class: "ghost small", "data-copy": value, "aria-label": t("page.copyLabel", { what }) }, t("page.copy"))
    : null;
  return el("div", { class: "fact id-fact" }, el("dt", { text: label }), el("dd", {}, code, button));
}

function fact(label, value, { title, key } = {}) {
  return el("div", { class: "fact", "data-fact": key }, el("dt", { text: label }), el("dd", { text: value ?? "—", title }));
}

function timeFact(label, iso, key) {
  if (!iso) return fact(label, "—", { key });
  const dd = el("dd", {}, el("time", { datetime: iso, text: exactTime(iso), title: relativeTime(iso) }));
  return el("div", { class: "fact", "data-fact": key }, el("dt", { text: label }), dd);
}

// Everything about one task. `media` is the element already playing (kept across redraws so live
// updates do not restart it); `content` the media link, whose expiry shows here only.
export function renderTaskPage(body, task, { media, content } = {}) {
  const started = task.startedAt || null;
  const finished = isTerminal(task) ? task.completedAt || task.finishedAt || task.updatedAt : null;
  const facts = el(
    "dl",
    { class: "facts" },
    fact(t("page.status"), queueLabel(task) || statusLabel(task.status), { key: "status" }),
    fact(t("page.model"), task.model, { key: "model" }),
    fact(t("page.size"), task.size, { key: "size" }),
    task.type !== "IMAGE" ? fact(t("page.seconds"), task.seconds ? t("create.seconds.value", { seconds: task.seconds }) : "—", { key: "seconds" }) : null,
    timeFact(t("page.queued"), task.createdAt, "queued"),
    timeFact(t("page.started"), started, "started"),
    timeFact(t("page.finished"), finished, "finished"),
    fact(t("page.elapsed"), elapsed(started || task.createdAt, finished || new Date().toISOString()), { key: "elapsed" }),
    task.status === "QUEUED" && typeof task.queuePosition === "number" ? fact(t("page.position"), `#${task.queuePosition}`, { key: "position" }) : null,
    copyRow(t("page.videoId"), task.videoId, t("page.videoId")),
    copyRow(t("page.externalId"), task.externalVideoId || task.externalTaskId, t("page.externalId")),
  );
  const failure =
    task.status === "FAILED" && task.error
      ? el(
          "div",
          { class: "task-error-box" },
          el("h3", { text: t("page.error") }),
          el("p", { class: "task-error", text: plainError(task) }),
          task.error.code ? el("p", { class: "muted small", text: t("page.errorCode", { code: task.error.code }) }) : null,
        )
      : null;
  const progress = !isTerminal(task)
    ? el(
        "div",
        { class: "progress-row" },
        el(
          "div",
          {
            class: "progress",
            role: "progressbar",
            "aria-valuemin": "0",
            "aria-valuemax": "100",
            "aria-valuenow": String(task.progress || 0),
            "aria-label": t("task.progress", { videoId: task.videoId }),
          },
          el("div", { class: "progress-fill", style: `width: ${task.progress || 0}%` }),
        ),
        el("span", { class: "progress-text", "aria-hidden": "true", text: `${task.progress || 0}%` }),
      )
    : null;
  const shown = lineage(task);
  const actions = el(
    "div",
    { class: "task-actions page-actions" },
    content ? el("a", { class: "button secondary small", href: content.url, download: "", "data-page-action": "download" }, t("page.download")) : null,
    el("button", { type: "button", class: "secondary small", "data-page-action": "copy-link" }, t("page.copyLink")),
    !isTerminal(task) ? el("button", { type: "button", class: "danger small", "data-page-action": "cancel", "aria-label": t("task.cancelLabel", { videoId: task.videoId }) }, t("task.cancel")) : null,
    shown.retry ? el("button", { type: "button", class: "secondary small", "data-page-action": "retry", "aria-label": t("task.retryLabel", { videoId: task.videoId }) }, t("task.retry")) : null,
    shown.remix ? el("button", { type: "button", class: "secondary small", "data-page-action": "remix", "aria-label": t("task.remixLabel", { videoId: task.videoId }) }, t("task.remix")) : null,
    shown.delete ? el("button", { type: "button", class: "danger small", "data-page-action": "delete", "aria-label": t("task.deleteLabel", { videoId: task.videoId }) }, t("task.delete")) : null,
  );
  const lineageNote =
    task.retryOf || task.remixOf
      ? el("p", { class: "muted" }, task.retryOf ? t("page.retryOf", { videoId: task.retryOf }) : t("page.remixOf", { videoId: task.remixOf }))
      : null;
  const expiry = content?.expiresAt ? el("p", { class: "muted small", text: t("page.linkValid", { time: exactTime(content.expiresAt) }) }) : null;
  body.dataset.status = task.status;
  body.replaceChildren(
    el("div", { class: "page-media" }, media || el("div", { class: "thumb large" }, el("span", { class: "placeholder", "aria-hidden": "true" }, el("span", { class: "placeholder-mark" }, task.type === "IMAGE" ? "▣" : "▶"), el("span", { text: statusLabel(task.status) })))),
    el("div", { class: "page-info" }, el("h3", { text: t("page.prompt") }), el("p", { class: "task-prompt", text: task.prompt || "" }), lineageNote, progress, failure, facts, expiry, actions),
  );
}
