// The console's wiring: configuration, the create form (the playground), the results (filter, paging,
// posters, previews), a page per task (#/tasks/<videoId>), live updates with a polling fallback, the
// task actions, stats and the language switch. State lives here; views.js draws it.

import { Api, ApiError } from "./api.js";
import { defaultModel, examplesOf, modelDescription, modelLabel, modelSpec, modelsOf, setCatalog, sizeLabel } from "./catalog.js";
import { forgetConfig, isComplete, loadConfig, saveConfig } from "./config.js";
import { clockTime, LANGUAGES, lang, setLang, t, translatePage } from "./i18n.js";
import { LiveUpdates } from "./live.js";
import { byNewest, isTerminal, mergeTask, taskUpdateFromMessage } from "./tasks.js";
import {
  createTaskElement,
  el,
  isBusy,
  mediaElement,
  playInCard,
  renderLiveStatus,
  renderStats,
  renderSummary,
  renderTask,
  renderTaskPage,
  renderUsage,
  setBusy,
  shortPrompt,
  showAlert,
  startPreview,
  stopPreview,
} from "./views.js";

const PAGE_SIZE = 10;
const POLL_INTERVAL_MS = 3_000; // while live updates are offline
const STATS_DEBOUNCE_MS = 400;
// The counters behind /stats follow the tasks through the table's stream, within seconds: after a change,
// read them once more when they have surely caught up.
const STATS_SETTLE_MS = 3000;
const MAX_SINGLE_REFRESHES = 20; // per poll, for active tasks beyond the first page
const MAX_CATCH_UP_PAGES = 10; // new tasks read at once: 100, the rest stay reachable by Refresh
const CATCH_UP_DELAY_MS = 250; // gathers a burst of creations into one read
const TIMES_REFRESH_MS = 30_000; // "2 minutes ago" moves on

const $ = (selector) => document.querySelector(selector);

const dom = {
  alerts: $("#alerts"),
  notices: $("#notices"),
  liveStatus: $("#live-status"),
  language: $("#language"),
  settings: $("#settings"),
  settingsHint: $("#settings-hint"),
  configForm: $("#config-form"),
  tokenToggle: $("#cfg-token-toggle"),
  forget: $("#cfg-forget"),
  createForm: $("#create-form"),
  createSubmit: $("#create-submit"),
  prompt: $("#prompt"),
  examples: $("#examples"),
  model: $("#model"),
  modelDescription: $("#model-description"),
  seconds: $("#seconds"),
  secondsField: $("#seconds-field"),
  size: $("#size"),
  copyCurl: $("#copy-curl"),
  curlPreview: $("#curl-preview"),
  stats: $("#stats"),
  statsRefresh: $("#stats-refresh"),
  usage: $("#usage"),
  usageRefresh: $("#usage-refresh"),
  filter: $("#status-filter"),
  tasksRefresh: $("#tasks-refresh"),
  summary: $("#tasks-summary"),
  list: $("#task-list"),
  loadMore: $("#load-more"),
  template: $("#task-template"),
  side: $("#side"),
  results: $("#results"),
  page: $("#task-page"),
  pageHeading: $("#task-page-heading"),
  pageBody: $("#task-page-body"),
  confirm: $("#confirm-dialog"),
  remix: $("#remix-dialog"),
};

const state = {
  config: { apiUrl: "", wsUrl: "", token: "" },
  api: null,
  live: null,
  liveState: "idle",
  filter: "",
  tasks: new Map(), // videoId -> task
  items: new Map(), // videoId -> <li>
  order: [], // videoIds shown, newest first
  nextCursor: null,
  hasMore: false,
  total: null,
  generation: 0, // bumps when the list is reset, so late replies for an old filter are dropped
  loading: false,
  pollTimer: null,
  polling: false,
  statsTimer: null,
  statsSettleTimer: null,
  statsLoaded: false,
  lastStats: null,
  lastUsage: null,
  refreshTimer: null,
  refreshRunning: false,
  refreshAgain: false, // a task was announced while a catch-up ran
  // the task page
  pageId: null, // videoId of the open task page
  pageTask: null, // a task not in the list (filtered out, beyond the loaded pages)
  pageMedia: null, // { videoId, node, content }
  returnFocus: null, // the control that opened the task page
};

function messageOf(error) {
  return error instanceof ApiError || error instanceof Error ? error.message : String(error);
}

function reportError(error, title) {
  showAlert(dom.alerts, messageOf(error), { title });
  if (!(error instanceof ApiError)) console.warn(title, error); // a bug of ours: keep the stack for developers
}

function notify(message) {
  showAlert(dom.notices, message, { kind: "info" });
}

// -- language -------------------------------------------------------------------------------------

function setupLanguage() {
  dom.language.replaceChildren(...Object.entries(LANGUAGES).map(([value, name]) => new Option(name, value)));
  dom.language.value = lang();
  dom.language.addEventListener("change", () => {
    setLang(dom.language.value);
    applyLanguage();
    if (state.api) connect(state.config); // the API's messages and the socket's follow the switch
  });
  applyLanguage();
}

function applyLanguage() {
  translatePage();
  dom.language.value = lang();
  renderLiveStatus(dom.liveStatus, state.liveState);
  renderExamples();
  refreshModelOptions();
  for (const [videoId, item] of state.items) renderTask(item, state.tasks.get(videoId));
  renderSummary(dom.summary, summaryState());
  if (state.lastStats) renderStats(dom.stats, state.lastStats);
  if (state.lastUsage) renderUsage(dom.usage, state.lastUsage, clockTime);
  dom.settingsHint.textContent = describeConfig(state.config);
  if (state.pageId) renderPage();
}

function summaryState(extra = {}) {
  return { shown: state.order.length, total: state.total, filter: state.filter, ...extra };
}

// -- configuration --------------------------------------------------------------------------------

function fillConfigForm(values) {
  dom.configForm.elements.apiUrl.value = values.apiUrl;
  dom.configForm.elements.wsUrl.value = values.wsUrl;
  dom.configForm.elements.token.value = values.token;
}

function describeConfig(values) {
  if (!isComplete(values)) return t("settings.notSet");
  try {
    return new URL(values.apiUrl).host;
  } catch {
    return values.apiUrl;
  }
}

function connect(values) {
  state.config = values;
  dom.settingsHint.textContent = describeConfig(values);
  if (state.live) state.live.stop();
  stopPolling();
  resetList();
  if (!isComplete(values)) {
    state.api = null;
    dom.settings.open = true;
    renderLiveStatus(dom.liveStatus, "idle");
    dom.summary.textContent = t("settings.begin");
    return;
  }
  state.api = new Api({ ...values, language: lang() });
  state.live = new LiveUpdates({
    url: values.wsUrl,
    token: values.token,
    language: lang(),
    onMessage: handleLiveMessage,
    onState: handleLiveState,
    onNotice: (message) => showAlert(dom.alerts, message, { title: t("live.title") }),
  });
  state.live.start();
  loadModels();
  loadFirstPage();
  refreshStats();
  if (state.pageId) openPage(state.pageId, { focus: false });
}

function validateConfig(values) {
  const problems = [];
  if (!values.apiUrl) problems.push(t("settings.apiEmpty"));
  else if (!/^https?:\/\//i.test(values.apiUrl)) problems.push(t("settings.apiScheme"));
  if (values.wsUrl && !/^wss?:\/\//i.test(values.wsUrl)) problems.push(t("settings.wsScheme"));
  if (!values.token) problems.push(t("settings.tokenEmpty"));
  return problems;
}

function setupConfigForm() {
  dom.configForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = dom.configForm.elements;
    const values = { apiUrl: form.apiUrl.value.trim(), wsUrl: form.wsUrl.value.trim(), token: form.token.value.trim() };
    const problems = validateConfig(values);
    if (problems.length) {
      showAlert(dom.alerts, `${problems.join("; ")}.`, { title: t("settings.notSaved") });
      return;
    }
    if (!saveConfig(values)) notify(t("settings.noStorage"));
    connect(values);
    dom.settings.open = false;
    dom.settings.querySelector("summary").focus();
    notify(t("settings.connected", { host: describeConfig(values) }));
  });
  dom.tokenToggle.addEventListener("click", () => {
    const input = dom.configForm.elements.token;
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    dom.tokenToggle.textContent = t(show ? "settings.hide" : "settings.show");
    dom.tokenToggle.setAttribute("aria-pressed", String(show));
  });
  dom.forget.addEventListener("click", async () => {
    forgetConfig();
    const { values } = await loadConfig();
    fillConfigForm(values);
    connect(values);
    notify(t("settings.forgotten"));
  });
}

// -- create form: the playground ------------------------------------------------------------------

function fillSelect(select, values, label = String, preferred) {
  const keep = preferred ?? select.value;
  select.replaceChildren(...values.map((value) => new Option(label(value), String(value))));
  if (values.map(String).includes(String(keep))) select.value = String(keep);
}

function currentType() {
  return dom.createForm.elements.type.value || "VIDEO";
}

function refreshModelOptions() {
  const type = currentType();
  const models = modelsOf(type);
  const labels = new Map(models.map((model) => [model.id, modelLabel(model)]));
  const current = labels.has(dom.model.value) ? dom.model.value : defaultModel(type);
  fillSelect(
    dom.model,
    models.map((model) => model.id),
    (id) => labels.get(id),
    current,
  );
  dom.createSubmit.disabled = models.length === 0;
  refreshModelFields();
}

async function loadModels() {
  try {
    setCatalog(await state.api.models());
  } catch (error) {
    setCatalog();
    reportError(error, t("models.failed"));
  }
  dom.model.value = "";
  refreshModelOptions();
}

function refreshModelFields() {
  const spec = modelSpec(currentType(), dom.model.value);
  fillSelect(dom.seconds, spec.seconds, (seconds) => t("create.seconds.value", { seconds }));
  dom.secondsField.hidden = spec.seconds.length === 0;
  dom.seconds.disabled = spec.seconds.length === 0;
  fillSelect(dom.size, spec.sizes, sizeLabel);
  dom.modelDescription.textContent = modelDescription(spec, lang());
  renderExamples();
  renderCurl();
}

// The model's own example prompts when GET /models has them, the console's otherwise.
function renderExamples() {
  const spec = modelSpec(currentType(), dom.model.value);
  const examples = examplesOf(spec, lang());
  const prompts = examples.length ? examples : t("examples");
  const label = dom.examples.querySelector("#examples-label");
  dom.examples.replaceChildren(
    label,
    ...prompts.slice(0, 3).map((prompt) =>
      el("button", { type: "button", class: "chip", "data-example": prompt, "aria-label": t("create.example", { prompt }) }, prompt),
    ),
  );
}

function createBody() {
  const form = dom.createForm.elements;
  const body = { type: currentType(), prompt: form.prompt.value.trim(), model: form.model.value, size: form.size.value };
  if (!dom.seconds.disabled && form.seconds.value) body.seconds = Number(form.seconds.value);
  // Where it waits among your queued tasks once your running ones fill your plan's slots.
  if (form.priority && form.priority.value) body.priority = form.priority.value;
  return body;
}

function copies() {
  return Math.min(20, Math.max(1, Number(dom.createForm.elements.copies.value) || 1));
}

// The exact request Create sends, as a shell command: the token stays a variable, never the real one.
function curlCommand() {
  const count = copies();
  const body = count > 1 ? { tasks: Array(count).fill(createBody()) } : createBody();
  const base = (state.config.apiUrl || "https://…/api/video").replace(/\/+$/, "");
  const quote = (text) => `'${String(text).replaceAll("'", "'\\''")}'`;
  return [
    `curl -X POST ${quote(`${base}/tasks${count > 1 ? "/batch" : ""}`)}`,
    `  -H "Authorization: Bearer $VIDEOTASKS_TOKEN"`,
    `  -H 'Content-Type: application/json'`,
    `  -H ${quote(`Accept-Language: ${lang()}`)}`,
    `  -d ${quote(JSON.stringify(body))}`,
  ].join(" \\\n");
}

function renderCurl() {
  dom.curlPreview.textContent = curlCommand();
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    notify(t("page.copied"));
  } catch {
    // no clipboard permission (an insecure origin, a headless browser): the older way
    const area = el("textarea", { class: "visually-hidden", "aria-hidden": "true", tabindex: "-1" });
    area.value = text;
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    if (done) notify(t("page.copied"));
    else showAlert(dom.alerts, t("page.copyFailed"));
  }
}

async function submitCreate() {
  if (isBusy(dom.createSubmit)) return;
  if (!state.api) {
    showAlert(dom.alerts, t("create.connectFirst"), { title: t("create.failed") });
    dom.settings.open = true;
    return;
  }
  const body = createBody();
  const count = copies();
  setBusy(dom.createSubmit, true, t("create.busy"));
  try {
    const tasks = count > 1 ? (await state.api.createBatch(Array(count).fill(body))).items : [await state.api.createTask(body)];
    let shown = 0;
    for (const task of tasks) {
      if (matchesFilter(task) && !state.tasks.has(task.videoId) && typeof state.total === "number") state.total += 1;
      if (upsertTask(task, { insert: true })) shown += 1;
    }
    // Cleared once made, so a second Enter does not make it twice.
    dom.prompt.value = "";
    renderCurl();
    const made = tasks.length === 1 ? t("create.created", { videoId: tasks[0].videoId }) : t("create.createdMany", { count: tasks.length });
    notify(shown === tasks.length ? `${made}.` : t("create.filtered", { made, count: tasks.length - shown }));
    refreshStatsSoon();
  } catch (error) {
    reportError(error, limitTitle(error) || t("create.failed"));
    refreshStatsSoon();
  } finally {
    setBusy(dom.createSubmit, false);
  }
}

function setupCreateForm() {
  for (const radio of dom.createForm.elements.type) radio.addEventListener("change", refreshModelOptions);
  dom.model.addEventListener("change", refreshModelFields);
  dom.createForm.addEventListener("input", renderCurl);
  dom.createForm.addEventListener("change", renderCurl);
  refreshModelOptions();
  dom.createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitCreate();
  });
  dom.prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      dom.createForm.requestSubmit(dom.createSubmit);
    }
  });
  dom.examples.addEventListener("click", (event) => {
    const button = event.target.closest("[data-example]");
    if (!button) return;
    dom.prompt.value = button.dataset.example;
    renderCurl();
    dom.prompt.focus();
  });
  dom.copyCurl.addEventListener("click", () => copyText(curlCommand()));
}

// -- the task list --------------------------------------------------------------------------------

function matchesFilter(task) {
  return !state.filter || task.status === state.filter;
}

function resetList() {
  state.generation += 1;
  state.tasks.clear();
  state.items.clear();
  state.order = [];
  state.nextCursor = null;
  state.hasMore = false;
  state.total = null;
  dom.list.replaceChildren();
  dom.loadMore.hidden = true;
  dom.summary.textContent = "";
}

// Merge a task (a Task from HTTP, or a partial update from a message) into the list. `insert` adds it
// when it is not listed yet; otherwise unknown tasks are ignored. Returns whether it is shown.
function upsertTask(update, { insert = false } = {}) {
  if (state.pageId === update.videoId) updatePageTask(update);
  const known = state.tasks.get(update.videoId);
  if (!known && (!insert || !matchesFilter(mergeTask(null, update)))) return false;
  const task = mergeTask(known, update);
  state.tasks.set(task.videoId, task);
  let item = state.items.get(task.videoId);
  if (!item) {
    item = createTaskElement(dom.template, task.videoId);
    state.items.set(task.videoId, item);
    state.order.push(task.videoId);
    state.order.sort((a, b) => byNewest(state.tasks.get(a), state.tasks.get(b)));
    const index = state.order.indexOf(task.videoId);
    const next = state.items.get(state.order[index + 1]);
    dom.list.insertBefore(item, next || null);
  }
  const statusChanged = renderTask(item, task);
  if (isTerminal(task)) state.live?.untrack(task.videoId);
  else state.live?.track(task.videoId);
  if (statusChanged && known) refreshStatsSoon();
  // A video that just finished: its Task carries the poster and a playable link the message lacks.
  const incomplete = !task.videoUrl || (task.type !== "IMAGE" && !task.posterUrl);
  if (statusChanged && known && task.status === "COMPLETED" && incomplete) refreshOne(task.videoId);
  updatePolling();
  renderSummary(dom.summary, summaryState());
  return true;
}

function refreshOne(videoId) {
  state.api?.getTask(videoId).then(upsertTask, () => {});
}

async function loadFirstPage() {
  resetList();
  const generation = state.generation;
  state.loading = true;
  renderSummary(dom.summary, summaryState({ loading: true }));
  try {
    const page = await state.api.listTasks({ status: state.filter, limit: PAGE_SIZE });
    if (generation !== state.generation) return;
    applyPage(page);
  } catch (error) {
    if (generation !== state.generation) return;
    dom.summary.textContent = t("tasks.loadFailedShort");
    reportError(error, t("tasks.loadFailed"));
  } finally {
    if (generation === state.generation) state.loading = false;
  }
}

function applyPage(page) {
  state.total = typeof page.total === "number" ? page.total : state.total;
  state.nextCursor = page.nextCursor || null;
  state.hasMore = Boolean(page.hasMore && page.nextCursor);
  for (const task of page.items || []) upsertTask(task, { insert: true });
  dom.loadMore.hidden = !state.hasMore;
  renderSummary(dom.summary, summaryState());
}

async function loadMore() {
  if (!state.api || !state.nextCursor || isBusy(dom.loadMore)) return;
  const generation = state.generation;
  setBusy(dom.loadMore, true, t("tasks.loadingMore"));
  try {
    const page = await state.api.listTasks({ status: state.filter, limit: PAGE_SIZE, cursor: state.nextCursor });
    if (generation === state.generation) applyPage(page);
  } catch (error) {
    reportError(error, t("tasks.moreFailed"));
  } finally {
    setBusy(dom.loadMore, false);
    dom.loadMore.hidden = !state.hasMore;
  }
}

// Tasks made elsewhere (another tab, the API, the CLI) join the list at once. Walks the pages from the
// newest until it meets a task already listed, so a burst of new tasks leaves no gap between them and
// the pages loaded before; the cursor of those pages stays valid (it points past the oldest one shown).
async function refreshFirstPage() {
  const generation = state.generation;
  const known = new Set(state.order);
  const oldest = state.order.length ? state.tasks.get(state.order[state.order.length - 1]) : null;
  let cursor;
  for (let pages = 0; pages < MAX_CATCH_UP_PAGES; pages += 1) {
    const page = await state.api.listTasks({ status: state.filter, limit: PAGE_SIZE, cursor });
    if (generation !== state.generation) return;
    if (typeof page.total === "number") state.total = page.total;
    let reachedKnown = false;
    for (const task of page.items || []) {
      if (known.has(task.videoId)) reachedKnown = true;
      const beyondLoaded = oldest && state.hasMore && byNewest(task, oldest) > 0;
      if (beyondLoaded) reachedKnown = true; // older than what is loaded: Load more brings it
      else upsertTask(task, { insert: true });
    }
    if (!oldest && pages === 0) {
      // Nothing was listed before: this page is the list's first page, paging included.
      state.nextCursor = page.nextCursor || null;
      state.hasMore = Boolean(page.hasMore && page.nextCursor);
      dom.loadMore.hidden = !state.hasMore;
      break;
    }
    if (reachedKnown || !page.hasMore || !page.nextCursor) break;
    cursor = page.nextCursor;
  }
  renderSummary(dom.summary, summaryState());
}

// Throttled, not debounced: a stream of progress messages must not keep pushing the refresh back
// (it used to run only once every task had gone quiet, i.e. finished). One run picks up every task
// announced before it starts; one announced during a run gets a run of its own afterwards.
function refreshFirstPageSoon() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(async () => {
    state.refreshRunning = true;
    try {
      if (state.api && !state.loading) await refreshFirstPage();
    } catch (error) {
      reportError(error, t("tasks.refreshFailed"));
    } finally {
      state.refreshRunning = false;
      state.refreshTimer = null;
      if (state.refreshAgain) {
        state.refreshAgain = false;
        refreshFirstPageSoon();
      }
    }
  }, CATCH_UP_DELAY_MS);
}

function announceUnknownTask() {
  if (state.refreshRunning) state.refreshAgain = true;
  refreshFirstPageSoon();
}

// -- live updates and the polling fallback -------------------------------------------------------

function handleLiveMessage(message) {
  if (message && message.type === "taskDeleted") {
    removeTask(message.payload?.videoId); // deleted here or in another tab
    return;
  }
  const update = taskUpdateFromMessage(message);
  if (update) {
    if (!upsertTask(update) && !state.tasks.has(update.videoId)) announceUnknownTask();
    return;
  }
  if (message && message.type === "error") {
    const payload = message.payload || {};
    const text = payload.message || message.message || t("live.refused");
    // A task we asked about that the server does not know for us: stop asking after reconnects.
    if (payload.videoId) state.live?.untrack(payload.videoId);
    showAlert(dom.alerts, String(text), { title: t("live.title") });
  }
}

function handleLiveState(liveState, detail) {
  const wasLive = state.liveState === "live";
  state.liveState = liveState;
  renderLiveStatus(dom.liveStatus, liveState, detail);
  // Back online: what changed while we were away arrives with the re-subscriptions, but tasks created
  // elsewhere in the meantime only show up in the list, so read it once.
  if (liveState === "live" && !wasLive && state.api && !state.loading && state.order.length) {
    refreshFirstPage().catch((error) => reportError(error, t("tasks.refreshFailed")));
    refreshStatsSoon();
  }
  updatePolling();
}

function hasActiveTasks() {
  return state.order.some((videoId) => !isTerminal(state.tasks.get(videoId)));
}

function updatePolling() {
  const needed = Boolean(state.api) && state.liveState !== "live" && state.liveState !== "idle";
  if (needed && !state.pollTimer) state.pollTimer = setInterval(poll, POLL_INTERVAL_MS);
  if (!needed) stopPolling();
}

function stopPolling() {
  clearInterval(state.pollTimer);
  state.pollTimer = null;
}

async function poll() {
  if (state.polling || !state.api || state.loading || document.hidden) return;
  state.polling = true;
  try {
    await refreshFirstPage();
    const firstPage = new Set(state.order.slice(0, PAGE_SIZE));
    const stale = state.order
      .filter((videoId) => !firstPage.has(videoId) && !isTerminal(state.tasks.get(videoId)))
      .slice(0, MAX_SINGLE_REFRESHES);
    if (state.pageId && !state.tasks.has(state.pageId) && state.pageTask && !isTerminal(state.pageTask)) stale.push(state.pageId);
    await Promise.all(stale.map(async (videoId) => upsertTask(await state.api.getTask(videoId))));
    if (hasActiveTasks() || !state.statsLoaded) await refreshStats();
  } catch (error) {
    reportError(error, t("tasks.refreshFailed"));
  } finally {
    state.polling = false;
  }
}

// -- dialogs --------------------------------------------------------------------------------------

// An accessible yes/no (a modal <dialog>: focus inside, Escape keeps the task); focus returns to the
// control that asked.
function confirmAction({ title, text, yes }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    dom.confirm.querySelector("#confirm-title").textContent = title;
    dom.confirm.querySelector("#confirm-text").textContent = text;
    dom.confirm.querySelector("#confirm-yes").textContent = yes;
    dom.confirm.returnValue = "";
    dom.confirm.addEventListener(
      "close",
      () => {
        if (opener && opener.isConnected) opener.focus();
        resolve(dom.confirm.returnValue === "yes");
      },
      { once: true },
    );
    dom.confirm.showModal();
    dom.confirm.querySelector("#confirm-keep").focus();
  });
}

function askRemixPrompt(task) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const input = dom.remix.querySelector("#remix-prompt");
    input.value = task.prompt || "";
    dom.remix.returnValue = "";
    dom.remix.addEventListener(
      "close",
      () => {
        if (opener && opener.isConnected) opener.focus();
        const prompt = input.value.trim();
        resolve(dom.remix.returnValue === "remix" && prompt ? prompt : null);
      },
      { once: true },
    );
    dom.remix.showModal();
    input.focus();
    input.select();
  });
}

// -- per-task actions -----------------------------------------------------------------------------

function taskOf(videoId) {
  return state.tasks.get(videoId) || (state.pageTask?.videoId === videoId ? state.pageTask : { videoId });
}

async function cancelTask(videoId, button) {
  const ok = await confirmAction({
    title: t("confirm.cancelTitle"),
    text: t("confirm.cancelText", { prompt: shortPrompt(taskOf(videoId)) }),
    yes: t("confirm.cancelYes"),
  });
  if (!ok) return;
  setBusy(button, true, t("task.cancelling"));
  try {
    upsertTask(await state.api.cancel(videoId));
    notify(t("done.cancelled"));
  } catch (error) {
    reportError(error, t("fail.cancel"));
    refreshOne(videoId); // show what it became instead
  } finally {
    setBusy(button, false);
  }
}

// A new task from an ended one (retry, remix): it joins the list like a created one.
function addDerivedTask(task, what) {
  if (matchesFilter(task) && !state.tasks.has(task.videoId) && typeof state.total === "number") state.total += 1;
  const shown = upsertTask(task, { insert: true });
  notify(shown ? what : t("done.hidden", { what }));
  refreshStatsSoon();
  return task;
}

async function retryTask(videoId, button) {
  setBusy(button, true, t("task.retrying"));
  try {
    return addDerivedTask(await state.api.retry(videoId), t("done.retry"));
  } catch (error) {
    reportError(error, t("fail.retry"));
    return null;
  } finally {
    setBusy(button, false);
  }
}

async function remixTask(videoId, button) {
  const prompt = await askRemixPrompt(taskOf(videoId));
  if (!prompt) return null;
  setBusy(button, true, t("task.remixing"));
  try {
    return addDerivedTask(await state.api.remix(videoId, prompt), t("done.remix"));
  } catch (error) {
    reportError(error, t("fail.remix"));
    return null;
  } finally {
    setBusy(button, false);
  }
}

async function deleteTask(videoId, button) {
  const ok = await confirmAction({
    title: t("confirm.deleteTitle"),
    text: t("confirm.deleteText", { prompt: shortPrompt(taskOf(videoId)) }),
    yes: t("confirm.deleteYes"),
  });
  if (!ok) return false;
  setBusy(button, true, t("task.deleting"));
  try {
    await state.api.deleteTask(videoId);
    removeTask(videoId);
    notify(t("done.deleted"));
    return true;
  } catch (error) {
    setBusy(button, false);
    reportError(error, t("fail.delete"));
    state.api.getTask(videoId).then(upsertTask, () => removeTask(videoId)); // gone already: drop it too
    return false;
  }
}

// Forget a deleted task: its card, its place in the list and the count.
function removeTask(videoId) {
  if (videoId && state.pageId === videoId) {
    state.pageTask = null;
    location.hash = "#/";
  }
  if (!videoId || !state.tasks.has(videoId)) return;
  const item = state.items.get(videoId);
  if (item && item.contains(document.activeElement)) dom.list.closest("section").querySelector("h2").focus(); // keep the keyboard on the list
  item?.remove();
  state.tasks.delete(videoId);
  state.items.delete(videoId);
  state.order = state.order.filter((id) => id !== videoId);
  state.live?.untrack(videoId);
  if (typeof state.total === "number" && state.total > 0) state.total -= 1;
  renderSummary(dom.summary, summaryState());
  refreshStatsSoon();
}

async function playVideo(videoId, button) {
  const task = state.tasks.get(videoId);
  setBusy(button, true, t("task.loadingMedia"));
  try {
    const content = await state.api.content(videoId);
    setBusy(button, false);
    playInCard(state.items.get(videoId), task, content, (message) => showAlert(dom.alerts, message, { title: t("fail.media") }));
  } catch (error) {
    setBusy(button, false);
    reportError(error, t("fail.media"));
  }
}

function setupTaskList() {
  dom.list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const thumb = event.target.closest(".thumb");
    if (thumb && !button && thumb.dataset.preview) {
      // A tap on a phone (no hover): the preview plays, a second tap stops it.
      if (thumb.querySelector("video.preview")) stopPreview(thumb);
      else startPreview(thumb);
      return;
    }
    if (!button || !state.api || isBusy(button)) return;
    const videoId = button.closest("[data-video-id]").dataset.videoId;
    const actions = { cancel: cancelTask, media: playVideo, retry: retryTask, remix: remixTask, delete: deleteTask };
    actions[button.dataset.action]?.(videoId, button);
  });
  dom.list.addEventListener("mouseover", (event) => {
    const thumb = event.target.closest(".thumb");
    if (thumb) startPreview(thumb);
  });
  dom.list.addEventListener("mouseout", (event) => {
    const thumb = event.target.closest(".thumb");
    if (thumb && !thumb.contains(event.relatedTarget)) stopPreview(thumb);
  });
  dom.filter.addEventListener("change", () => {
    state.filter = dom.filter.value;
    if (state.api) loadFirstPage();
  });
  dom.tasksRefresh.addEventListener("click", () => {
    if (state.api) loadFirstPage();
  });
  dom.loadMore.addEventListener("click", loadMore);
  setInterval(() => {
    for (const [videoId, item] of state.items) renderTask(item, state.tasks.get(videoId));
  }, TIMES_REFRESH_MS);
}

// -- the task page (#/tasks/<videoId>) --------------------------------------------------------------

function pageTask() {
  return state.tasks.get(state.pageId) || state.pageTask;
}

function updatePageTask(update) {
  const current = pageTask();
  if (!current && !update.prompt) return;
  state.pageTask = mergeTask(current, update);
  // The list's copy is merged in upsertTask; draw once that is done.
  queueMicrotask(renderPage);
}

function renderPage() {
  const task = pageTask();
  if (!state.pageId || !task) return;
  dom.pageHeading.textContent = `${t(`type.${task.type === "IMAGE" ? "IMAGE" : "VIDEO"}`)} · ${shortPrompt(task)}`;
  const media = state.pageMedia?.videoId === task.videoId ? state.pageMedia : null;
  if (task.status === "COMPLETED" && !media && state.api) loadPageMedia(task);
  renderTaskPage(dom.pageBody, task, { media: media?.node, content: media?.content });
}

async function loadPageMedia(task) {
  state.pageMedia = { videoId: task.videoId, node: null, content: null, loading: true };
  try {
    const content = await state.api.content(task.videoId);
    if (state.pageId !== task.videoId) return;
    const node = mediaElement(task, content, (message) => showAlert(dom.alerts, message, { title: t("fail.media") }));
    state.pageMedia = { videoId: task.videoId, node, content };
    renderPage();
  } catch (error) {
    reportError(error, t("fail.media"));
  }
}

async function openPage(videoId, { focus = true } = {}) {
  state.pageId = videoId;
  state.pageTask = state.tasks.get(videoId) || null;
  state.pageMedia = null;
  dom.page.hidden = false;
  dom.side.hidden = true;
  dom.results.hidden = true;
  dom.pageHeading.textContent = t("page.loading");
  dom.pageBody.replaceChildren();
  if (focus) dom.pageHeading.focus();
  if (state.pageTask) renderPage();
  if (!state.api) return;
  try {
    const task = await state.api.getTask(videoId);
    if (state.pageId !== videoId) return;
    upsertTask(task);
    state.pageTask = mergeTask(state.pageTask, task);
    if (!isTerminal(task)) state.live?.track(videoId);
    renderPage();
  } catch (error) {
    if (state.pageId !== videoId) return;
    dom.pageHeading.textContent = t("page.missing");
    reportError(error, t("page.missing"));
  }
}

function closePage() {
  const was = state.pageId;
  state.pageId = null;
  state.pageTask = null;
  state.pageMedia = null;
  dom.page.hidden = true;
  dom.side.hidden = false;
  dom.results.hidden = false;
  dom.pageBody.replaceChildren();
  // Back to where the person left the list: the card's Details link, else the list's heading.
  const link = was && state.items.get(was)?.querySelector('[data-action="open"]');
  if (link) link.focus();
  else if (was) dom.list.closest("section").querySelector("h2").focus();
}

function route() {
  const match = /^#\/tasks\/([^/?#]+)$/.exec(location.hash);
  if (match) openPage(decodeURIComponent(match[1]));
  else if (state.pageId) closePage();
}

function setupTaskPage() {
  window.addEventListener("hashchange", route);
  dom.pageBody.addEventListener("click", async (event) => {
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      copyText(copy.dataset.copy);
      return;
    }
    const button = event.target.closest("button[data-page-action]");
    const task = pageTask();
    if (!button || !task || !state.api || isBusy(button)) return;
    const action = button.dataset.pageAction;
    if (action === "copy-link") copyText(location.href);
    if (action === "cancel") cancelTask(task.videoId, button);
    if (action === "delete") deleteTask(task.videoId, button);
    if (action === "retry" || action === "remix") {
      const made = await (action === "retry" ? retryTask : remixTask)(task.videoId, button);
      if (made) location.hash = `#/tasks/${encodeURIComponent(made.videoId)}`;
    }
  });
}

// -- stats ----------------------------------------------------------------------------------------

async function refreshStats() {
  if (!state.api) return;
  try {
    state.lastStats = await state.api.stats();
    renderStats(dom.stats, state.lastStats);
    state.statsLoaded = true;
  } catch (error) {
    reportError(error, t("stats.failed"));
  }
  await refreshUsage();
}

async function refreshUsage() {
  if (!state.api) return;
  try {
    state.lastUsage = await state.api.usage();
    renderUsage(dom.usage, state.lastUsage, clockTime);
  } catch (error) {
    reportError(error, t("usage.failed"));
  }
}

// A plan's limit reached (429): the title says which, and when it resets in the reader's time; the
// server's message below it says the same in words.
function limitTitle(error) {
  if (!(error instanceof ApiError) || error.status !== 429) return null;
  const detail = Array.isArray(error.details) ? error.details[0] || {} : {};
  const later = error.retryAfter ? t("busy.in", { seconds: error.retryAfter }) : t("busy.moment");
  const when = detail.resetsAt ? clockTime(detail.resetsAt) : later;
  if (error.code === "QUOTA_EXCEEDED") return t("limit.quota", { when });
  if (detail.field === "createsPerMinute") return t("limit.minute", { when });
  return t("busy", { when: later });
}

function refreshStatsSoon() {
  clearTimeout(state.statsTimer);
  clearTimeout(state.statsSettleTimer);
  state.statsTimer = setTimeout(refreshStats, STATS_DEBOUNCE_MS);
  state.statsSettleTimer = setTimeout(refreshStats, STATS_SETTLE_MS);
}

// -- start ----------------------------------------------------------------------------------------

// On a phone the create form sits below the results: the topbar's link brings it, focused, in one tap.
function setupJump() {
  $("#new-task-jump").addEventListener("click", (event) => {
    event.preventDefault();
    if (state.pageId) location.hash = "#/";
    dom.prompt.scrollIntoView({ block: "center" });
    dom.prompt.focus();
  });
}

async function start() {
  setupLanguage();
  setupConfigForm();
  setupCreateForm();
  setupTaskList();
  setupTaskPage();
  setupJump();
  dom.statsRefresh.addEventListener("click", refreshStats);
  dom.usageRefresh.addEventListener("click", refreshUsage);
  const { values } = await loadConfig();
  fillConfigForm(values);
  connect(values);
  route();
}

start().catch((error) => reportError(error, t("fail.start")));
