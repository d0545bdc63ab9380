// The console's wiring: configuration, the create form, the task list (filter, paging), live updates
// with a polling fallback, cancel, media and stats. State lives here; views.js draws it.

import { Api, ApiError } from "./api.js";
import { defaultModel, modelLabel, modelSpec, modelsOf, setCatalog, sizeLabel } from "./catalog.js";
import { forgetConfig, isComplete, loadConfig, saveConfig } from "./config.js";
import { LiveUpdates } from "./live.js";
import { byNewest, isTerminal, mergeTask, taskUpdateFromMessage } from "./tasks.js";
import {
  createTaskElement,
  isBusy,
  renderLiveStatus,
  renderMedia,
  renderStats,
  renderUsage,
  renderSummary,
  renderTask,
  setBusy,
  showAlert,
} from "./views.js";

const PAGE_SIZE = 10;
const POLL_INTERVAL_MS = 3_000; // while live updates are offline
const STATS_DEBOUNCE_MS = 400;
const MAX_SINGLE_REFRESHES = 20; // per poll, for active tasks beyond the first page
const MAX_CATCH_UP_PAGES = 10; // new tasks read at once: 100, the rest stay reachable by Refresh
const CATCH_UP_DELAY_MS = 250; // gathers a burst of creations into one read

const $ = (selector) => document.querySelector(selector);

const dom = {
  alerts: $("#alerts"),
  notices: $("#notices"),
  liveStatus: $("#live-status"),
  settings: $("#settings"),
  settingsHint: $("#settings-hint"),
  configForm: $("#config-form"),
  tokenToggle: $("#cfg-token-toggle"),
  forget: $("#cfg-forget"),
  createForm: $("#create-form"),
  createSubmit: $("#create-submit"),
  model: $("#model"),
  seconds: $("#seconds"),
  secondsField: $("#seconds-field"),
  size: $("#size"),
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
  statsLoaded: false,
  refreshTimer: null,
  refreshRunning: false,
  refreshAgain: false, // a task was announced while a catch-up ran
};

function reportError(error, title) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  showAlert(dom.alerts, message, { title });
  if (!(error instanceof ApiError)) console.warn(title, error); // a bug of ours: keep the stack for developers
}

function notify(message) {
  showAlert(dom.notices, message, { kind: "info" });
}

// -- configuration --------------------------------------------------------------------------------

function fillConfigForm(values) {
  dom.configForm.elements.apiUrl.value = values.apiUrl;
  dom.configForm.elements.wsUrl.value = values.wsUrl;
  dom.configForm.elements.token.value = values.token;
}

function describeConfig(values) {
  if (!isComplete(values)) return "not set";
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
    dom.summary.textContent = "Enter the API URL and a token under Connection to begin.";
    return;
  }
  state.api = new Api(values);
  state.live = new LiveUpdates({
    url: values.wsUrl,
    token: values.token,
    onMessage: handleLiveMessage,
    onState: handleLiveState,
    onNotice: (message) => showAlert(dom.alerts, message, { title: "Live updates" }),
  });
  state.live.start();
  loadModels();
  loadFirstPage();
  refreshStats();
}

function validateConfig(values) {
  const problems = [];
  if (!values.apiUrl) problems.push("the API URL is empty");
  else if (!/^https?:\/\//i.test(values.apiUrl)) problems.push("the API URL must start with http:// or https://");
  if (values.wsUrl && !/^wss?:\/\//i.test(values.wsUrl)) problems.push("the WebSocket URL must start with ws:// or wss://");
  if (!values.token) problems.push("the token is empty");
  return problems;
}

function setupConfigForm() {
  dom.configForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = dom.configForm.elements;
    const values = { apiUrl: form.apiUrl.value.trim(), wsUrl: form.wsUrl.value.trim(), token: form.token.value.trim() };
    const problems = validateConfig(values);
    if (problems.length) {
      showAlert(dom.alerts, `${problems.join("; ")}.`, { title: "Connection not saved" });
      return;
    }
    if (!saveConfig(values)) notify("This browser would not store the settings; they last until the page is closed.");
    connect(values);
    dom.settings.open = false;
    dom.settings.querySelector("summary").focus();
    notify(`Connected to ${describeConfig(values)}.`);
  });
  dom.tokenToggle.addEventListener("click", () => {
    const input = dom.configForm.elements.token;
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    dom.tokenToggle.textContent = show ? "Hide" : "Show";
    dom.tokenToggle.setAttribute("aria-pressed", String(show));
  });
  dom.forget.addEventListener("click", async () => {
    forgetConfig();
    const { values } = await loadConfig();
    fillConfigForm(values);
    connect(values);
    notify("Saved connection settings forgotten.");
  });
}

// -- create form ----------------------------------------------------------------------------------

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
    reportError(error, "Could not load the models");
  }
  dom.model.value = "";
  refreshModelOptions();
}

function refreshModelFields() {
  const spec = modelSpec(currentType(), dom.model.value);
  fillSelect(dom.seconds, spec.seconds, (seconds) => `${seconds} s`);
  dom.secondsField.hidden = spec.seconds.length === 0;
  dom.seconds.disabled = spec.seconds.length === 0;
  fillSelect(dom.size, spec.sizes, sizeLabel);
}

function setupCreateForm() {
  for (const radio of dom.createForm.elements.type) radio.addEventListener("change", refreshModelOptions);
  dom.model.addEventListener("change", refreshModelFields);
  refreshModelOptions();
  dom.createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (isBusy(dom.createSubmit)) return;
    if (!state.api) {
      showAlert(dom.alerts, "Set the API URL and token under Connection first.", { title: "Could not create the task" });
      dom.settings.open = true;
      return;
    }
    const form = dom.createForm.elements;
    const body = { type: currentType(), prompt: form.prompt.value.trim(), model: form.model.value, size: form.size.value };
    if (!dom.seconds.disabled && form.seconds.value) body.seconds = Number(form.seconds.value);
    const copies = Math.min(20, Math.max(1, Number(form.copies.value) || 1));
    // Where it waits among your queued tasks once your running ones fill your plan's slots.
    if (form.priority && form.priority.value) body.priority = form.priority.value;
    setBusy(dom.createSubmit, true, "Creating…");
    try {
      const tasks = copies > 1 ? (await state.api.createBatch(Array(copies).fill(body))).items : [await state.api.createTask(body)];
      let shown = 0;
      for (const task of tasks) {
        if (matchesFilter(task) && typeof state.total === "number") state.total += 1;
        if (upsertTask(task, { insert: true })) shown += 1;
      }
      const made = tasks.length === 1 ? `Task ${tasks[0].videoId} created` : `${tasks.length} tasks created`;
      notify(shown === tasks.length ? `${made}.` : `${made}; the status filter hides ${tasks.length - shown}.`);
      refreshStatsSoon();
    } catch (error) {
      reportError(error, limitTitle(error) || "Could not create the task");
      refreshStatsSoon();
    } finally {
      setBusy(dom.createSubmit, false);
    }
  });
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
  updatePolling();
  renderSummary(dom.summary, { shown: state.order.length, total: state.total, filter: state.filter });
  return true;
}

async function loadFirstPage() {
  resetList();
  const generation = state.generation;
  state.loading = true;
  renderSummary(dom.summary, { shown: 0, filter: state.filter, loading: true });
  try {
    const page = await state.api.listTasks({ status: state.filter, limit: PAGE_SIZE });
    if (generation !== state.generation) return;
    applyPage(page);
  } catch (error) {
    if (generation !== state.generation) return;
    dom.summary.textContent = "The tasks could not be loaded.";
    reportError(error, "Could not load the tasks");
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
  renderSummary(dom.summary, { shown: state.order.length, total: state.total, filter: state.filter });
}

async function loadMore() {
  if (!state.api || !state.nextCursor || isBusy(dom.loadMore)) return;
  const generation = state.generation;
  setBusy(dom.loadMore, true, "Loading…");
  try {
    const page = await state.api.listTasks({ status: state.filter, limit: PAGE_SIZE, cursor: state.nextCursor });
    if (generation === state.generation) applyPage(page);
  } catch (error) {
    reportError(error, "Could not load more tasks");
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
  renderSummary(dom.summary, { shown: state.order.length, total: state.total, filter: state.filter });
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
      reportError(error, "Could not refresh the tasks");
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
    const text = payload.message || message.message || "the server refused a request";
    // A task we asked about that the server does not know for us: stop asking after reconnects.
    if (payload.videoId) state.live?.untrack(payload.videoId);
    showAlert(dom.alerts, String(text), { title: "Live updates" });
  }
}

function handleLiveState(liveState, detail) {
  const wasLive = state.liveState === "live";
  state.liveState = liveState;
  renderLiveStatus(dom.liveStatus, liveState, detail);
  // Back online: what changed while we were away arrives with the re-subscriptions, but tasks created
  // elsewhere in the meantime only show up in the list, so read it once.
  if (liveState === "live" && !wasLive && state.api && !state.loading && state.order.length) {
    refreshFirstPage().catch((error) => reportError(error, "Could not refresh the tasks"));
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
    await Promise.all(stale.map(async (videoId) => upsertTask(await state.api.getTask(videoId))));
    if (hasActiveTasks() || !state.statsLoaded) await refreshStats();
  } catch (error) {
    reportError(error, "Could not refresh the tasks");
  } finally {
    state.polling = false;
  }
}

// -- per-task actions -----------------------------------------------------------------------------

async function cancelTask(videoId, button) {
  setBusy(button, true, "Cancelling…");
  try {
    upsertTask(await state.api.cancel(videoId));
    notify(`Task ${videoId} cancelled.`);
  } catch (error) {
    reportError(error, `Could not cancel ${videoId}`);
    state.api.getTask(videoId).then(upsertTask, () => {}); // show what it became instead
  } finally {
    setBusy(button, false);
  }
}

// A new task from an ended one (retry, remix): it joins the list like a created one.
function addDerivedTask(task, what) {
  if (matchesFilter(task) && typeof state.total === "number") state.total += 1;
  const shown = upsertTask(task, { insert: true });
  notify(`${what} ${task.videoId} created${shown ? "" : "; the status filter hides it"}.`);
  refreshStatsSoon();
}

async function retryTask(videoId, button) {
  setBusy(button, true, "Retrying…");
  try {
    addDerivedTask(await state.api.retry(videoId), `Retry of ${videoId}:`);
  } catch (error) {
    reportError(error, `Could not retry ${videoId}`);
  } finally {
    setBusy(button, false);
  }
}

async function remixTask(videoId, button) {
  const prompt = window.prompt(`A new prompt to remix ${videoId} with:`, state.tasks.get(videoId)?.prompt || "");
  if (prompt === null || !prompt.trim()) return;
  setBusy(button, true, "Remixing…");
  try {
    addDerivedTask(await state.api.remix(videoId, prompt.trim()), `Remix of ${videoId}:`);
  } catch (error) {
    reportError(error, `Could not remix ${videoId}`);
  } finally {
    setBusy(button, false);
  }
}

async function deleteTask(videoId, button) {
  if (!window.confirm(`Delete task ${videoId} and its media? This cannot be undone.`)) return;
  setBusy(button, true, "Deleting…");
  try {
    await state.api.deleteTask(videoId);
    removeTask(videoId);
    notify(`Task ${videoId} deleted.`);
  } catch (error) {
    setBusy(button, false);
    reportError(error, `Could not delete ${videoId}`);
    state.api.getTask(videoId).then(upsertTask, () => removeTask(videoId)); // gone already: drop it too
  }
}

// Forget a deleted task: its card, its place in the list and the count.
function removeTask(videoId) {
  if (!videoId || !state.tasks.has(videoId)) return;
  const item = state.items.get(videoId);
  if (item && item.contains(document.activeElement)) dom.list.focus?.(); // keep the keyboard on the list
  item?.remove();
  state.tasks.delete(videoId);
  state.items.delete(videoId);
  state.order = state.order.filter((id) => id !== videoId);
  state.live?.untrack(videoId);
  if (typeof state.total === "number" && state.total > 0) state.total -= 1;
  renderSummary(dom.summary, { shown: state.order.length, total: state.total, filter: state.filter });
  refreshStatsSoon();
}

async function showMedia(videoId, button) {
  const task = state.tasks.get(videoId);
  setBusy(button, true, "Loading…");
  try {
    const content = await state.api.content(videoId);
    renderMedia(state.items.get(videoId), task, content, (message) => showAlert(dom.alerts, message));
  } catch (error) {
    reportError(error, `Could not load the media of ${videoId}`);
  } finally {
    setBusy(button, false);
  }
}

function setupTaskList() {
  dom.list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !state.api || isBusy(button)) return;
    const videoId = button.closest("[data-video-id]").dataset.videoId;
    if (button.dataset.action === "cancel") cancelTask(videoId, button);
    if (button.dataset.action === "media") showMedia(videoId, button);
    if (button.dataset.action === "retry") retryTask(videoId, button);
    if (button.dataset.action === "remix") remixTask(videoId, button);
    if (button.dataset.action === "delete") deleteTask(videoId, button);
  });
  dom.filter.addEventListener("change", () => {
    state.filter = dom.filter.value;
    if (state.api) loadFirstPage();
  });
  dom.tasksRefresh.addEventListener("click", () => {
    if (state.api) loadFirstPage();
  });
  dom.loadMore.addEventListener("click", loadMore);
}

// -- stats ----------------------------------------------------------------------------------------

async function refreshStats() {
  if (!state.api) return;
  try {
    renderStats(dom.stats, await state.api.stats());
    state.statsLoaded = true;
  } catch (error) {
    reportError(error, "Could not load the stats");
  }
  await refreshUsage();
}

async function refreshUsage() {
  if (!state.api) return;
  try {
    renderUsage(dom.usage, await state.api.usage());
  } catch (error) {
    reportError(error, "Could not load the usage");
  }
}

// A plan's limit reached (429): the title says which, and when it resets in the reader's time; the
// server's message below it says the same in words.
function limitTitle(error) {
  if (!(error instanceof ApiError) || error.status !== 429) return null;
  const detail = Array.isArray(error.details) ? error.details[0] || {} : {};
  const when = detail.resetsAt
    ? new Date(detail.resetsAt).toLocaleTimeString()
    : error.retryAfter
      ? `in ${error.retryAfter} s`
      : "in a moment";
  if (error.code === "QUOTA_EXCEEDED") return `Daily video quota reached — resets at ${when}`;
  if (detail.field === "createsPerMinute") return `Too many tasks this minute — try again at ${when}`;
  return `Busy — try again ${error.retryAfter ? `in ${error.retryAfter} s` : "in a moment"}`;
}

function refreshStatsSoon() {
  clearTimeout(state.statsTimer);
  state.statsTimer = setTimeout(refreshStats, STATS_DEBOUNCE_MS);
}

// -- start ----------------------------------------------------------------------------------------

async function start() {
  setupConfigForm();
  setupCreateForm();
  setupTaskList();
  dom.statsRefresh.addEventListener("click", refreshStats);
  dom.usageRefresh.addEventListener("click", refreshUsage);
  const { values } = await loadConfig();
  fillConfigForm(values);
  connect(values);
}

start().catch((error) => reportError(error, "The console failed to start"));
