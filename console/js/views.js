// Rendering only: DOM in, DOM out. Text goes in through textContent, never innerHTML, since prompts,
// messages and errors come from people and providers.

import { canRemix } from "./catalog.js";
import { isTerminal } from "./tasks.js";

const STATUS_LABELS = {
  QUEUED: "Queued",
  PROCESSING: "Processing",
  COMPLETED: "Completed",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

const MAX_ALERTS = 5;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
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
  const dismiss = el("button", { type: "button", class: "ghost small", "aria-label": "Dismiss this message" }, "Dismiss");
  const alert = el("div", { class: `alert ${kind}`, "data-kind": kind }, el("p", { text }), dismiss);
  alert.dataset.text = text;
  dismiss.addEventListener("click", () => alert.remove());
  container.prepend(alert);
  while (container.children.length > MAX_ALERTS) container.lastElementChild.remove();
  if (kind !== "error") setTimeout(() => alert.remove(), 6000);
  return alert;
}

// -- live status ----------------------------------------------------------------------------------

export function renderLiveStatus(node, state, detail = {}) {
  const texts = {
    idle: "Not connected",
    disabled: "No WebSocket URL — polling",
    connecting: "Connecting to live updates…",
    live: "Live updates on",
    offline: "Live updates offline, polling",
  };
  let text = texts[state] || state;
  if (state === "offline" && detail.retryInMs) text += ` (retrying in ${Math.ceil(detail.retryInMs / 1000)} s)`;
  node.dataset.state = state;
  node.querySelector(".live-text").textContent = text;
}

// -- stats ----------------------------------------------------------------------------------------

export function renderStats(container, stats) {
  const by = stats.byStatus || {};
  const rate = typeof stats.successRate === "number" ? `${Math.round(stats.successRate * 100)}%` : "—";
  const average =
    typeof stats.averageGenerationSeconds === "number" ? `${stats.averageGenerationSeconds.toFixed(1)} s` : "—";
  const items = [
    ["Total", stats.total ?? 0, "total"],
    ["Queued", by.QUEUED ?? stats.queued ?? 0, "QUEUED"],
    ["Processing", by.PROCESSING ?? stats.processing ?? 0, "PROCESSING"],
    ["Completed", by.COMPLETED ?? stats.completed ?? 0, "COMPLETED"],
    ["Failed", by.FAILED ?? stats.failed ?? 0, "FAILED"],
    ["Cancelled", by.CANCELLED ?? stats.cancelled ?? 0, "CANCELLED"],
    ["Success rate", rate, "rate"],
    ["Avg. generation", average, "average"],
    ["Last 24 h", stats.last24Hours ?? "—", "recent"],
  ];
  const list = el("dl", { class: "stats" });
  for (const [label, value, key] of items) {
    list.append(el("div", { class: "stat", "data-stat": key }, el("dt", { text: label }), el("dd", { text: String(value) })));
  }
  container.replaceChildren(list);
}

// The caller's plan: each limit with what of it is used, and when its window resets (local time).
export function renderUsage(container, usage) {
  const limits = usage.limits || {};
  const used = usage.usage || {};
  const resets = usage.resets || {};
  const at = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "—");
  const items = [
    ["Plan", usage.plan || "—", "plan"],
    ["Generating", `${used.generating ?? 0} / ${limits.maxGenerating ?? "—"}`, "generating"],
    ["Queued", used.queued ?? 0, "queued"],
    ["Creates this minute", `${used.createsThisMinute ?? 0} / ${limits.createsPerMinute ?? "—"}`, "creates"],
    ["Resets", at(resets.createsPerMinute), "creates-reset"],
    ["Video seconds today", `${used.videoSecondsToday ?? 0} / ${limits.videoSecondsPerDay ?? "—"}`, "seconds"],
    ["Resets", at(resets.videoSecondsPerDay), "seconds-reset"],
  ];
  const list = el("dl", { class: "stats" });
  for (const [label, value, key] of items) {
    list.append(el("div", { class: "stat", "data-usage": key }, el("dt", { text: label }), el("dd", { text: String(value) })));
  }
  container.replaceChildren(list);
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
  return `${STATUS_LABELS.QUEUED || "Queued"} · #${task.queuePosition}`;
}

export function renderTask(item, task) {
  const previous = item.dataset.status;
  item.dataset.status = task.status;
  item.dataset.type = task.type || "VIDEO";
  const article = item.querySelector("article");
  article.setAttribute("aria-label", `${task.type === "IMAGE" ? "Image" : "Video"} task ${task.videoId}`);

  const badge = field(item, "status");
  badge.textContent = queueLabel(task) || STATUS_LABELS[task.status] || task.status;
  badge.dataset.status = task.status;
  field(item, "type").textContent = task.type === "IMAGE" ? "Image" : "Video";
  const details = [task.model, task.seconds ? `${task.seconds} s` : null, task.size].filter(Boolean).join(" · ");
  field(item, "model").textContent = details;
  const time = field(item, "createdAt");
  time.textContent = formatTime(task.createdAt);
  if (task.createdAt) time.setAttribute("datetime", task.createdAt);
  field(item, "prompt").textContent = task.prompt || "";
  field(item, "videoId").textContent = task.videoId;
  const external = task.externalVideoId || task.externalTaskId;
  const externalNode = field(item, "externalVideoId");
  externalNode.textContent = external || "not assigned yet";
  externalNode.classList.toggle("pending", !external);

  const progress = Math.max(0, Math.min(100, Math.round(task.progress || 0)));
  const bar = item.querySelector('[role="progressbar"]');
  bar.setAttribute("aria-valuenow", String(progress));
  bar.setAttribute("aria-valuetext", `${progress}% — ${STATUS_LABELS[task.status] || task.status}`);
  bar.setAttribute("aria-label", `Progress of ${task.videoId}`);
  bar.querySelector(".progress-fill").style.width = `${progress}%`;
  field(item, "progress").textContent = `${progress}%`;

  // A failed task's message repeats its error, which is shown on its own line below.
  field(item, "message").textContent = task.error && task.status === "FAILED" ? "" : task.message || "";
  const error = field(item, "error");
  error.hidden = !task.error;
  error.textContent = task.error ? `${task.error.code ? `${task.error.code}: ` : ""}${task.error.message}` : "";

  const cancel = item.querySelector('[data-action="cancel"]');
  const cancellable = !isTerminal(task);
  if (!cancellable && cancel === document.activeElement) article.focus(); // keep the keyboard's place
  cancel.hidden = !cancellable;
  cancel.setAttribute("aria-label", `Cancel task ${task.videoId}`);

  renderLineageActions(item, task);

  const media = item.querySelector('[data-action="media"]');
  const hasMedia = field(item, "media").childElementCount > 0;
  media.hidden = task.status !== "COMPLETED" || hasMedia;
  media.textContent = task.type === "IMAGE" ? "Show image" : "Play video";
  media.setAttribute("aria-label", `${media.textContent} of ${task.videoId}`);
  return previous !== task.status;
}

// Retry (FAILED, CANCELLED), Remix (a COMPLETED video whose model can remix) and Delete (any ended task).
function renderLineageActions(item, task) {
  const shown = {
    retry: task.status === "FAILED" || task.status === "CANCELLED",
    remix: task.status === "COMPLETED" && task.type !== "IMAGE" && canRemix(task.model),
    delete: isTerminal(task),
  };
  const names = { retry: "Retry task", remix: "Remix video of task", delete: "Delete task" };
  for (const [action, visible] of Object.entries(shown)) {
    const button = item.querySelector(`[data-action="${action}"]`);
    button.hidden = !visible;
    button.setAttribute("aria-label", `${names[action]} ${task.videoId}`);
  }
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
export function renderMedia(item, task, content, onError) {
  const container = field(item, "media");
  const label = `${task.type === "IMAGE" ? "Image" : "Video"} for “${task.prompt || task.videoId}”`;
  let node;
  if (task.type === "IMAGE" || String(content.contentType || "").startsWith("image/")) {
    node = el("img", { src: content.url, alt: label, loading: "lazy", decoding: "async" });
  } else {
    node = el("video", { src: content.url, controls: "", preload: "metadata", playsinline: "", "aria-label": label });
  }
  node.addEventListener("error", () => {
    container.replaceChildren();
    item.querySelector('[data-action="media"]').hidden = false;
    onError(`The ${task.type === "IMAGE" ? "image" : "video"} of ${task.videoId} could not be loaded; its link may have expired. Try again.`);
  });
  const expires = content.expiresAt ? el("p", { class: "muted small", text: `Link valid until ${formatTime(content.expiresAt)}` }) : "";
  container.replaceChildren(node, expires);
  item.querySelector('[data-action="media"]').hidden = true;
  return node;
}

export function renderSummary(node, { shown, total, filter, loading }) {
  if (loading && !shown) {
    node.textContent = "Loading tasks…";
    return;
  }
  if (!shown) {
    node.textContent = filter ? `No ${STATUS_LABELS[filter].toLowerCase()} tasks.` : "No tasks yet — create one.";
    return;
  }
  const kind = filter ? `${STATUS_LABELS[filter].toLowerCase()} ` : "";
  const noun = (count) => `${count} ${kind}task${count === 1 ? "" : "s"}`;
  // "3 tasks" when all are shown; "Showing 10 of 59 tasks" while Load more has the rest.
  node.textContent = typeof total === "number" && total > shown ? `Showing ${shown} of ${noun(total)}.` : `${noun(shown)}.`;
}
