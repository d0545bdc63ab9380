// Task state rules the console relies on, as pure functions (docs/ARCHITECTURE.md): a task only moves
// forward, a finished task never changes again, and progress never goes down — whatever order the
// HTTP replies and WebSocket messages arrive in.

import { STATUS_WORDS, TERMINAL_STATUSES } from "./wire.js";

const TERMINAL = new Set(TERMINAL_STATUSES);

// How far along its lifecycle a task is: it never moves back to a lower rank.
const RANK = { QUEUED: 0, PROCESSING: 1, ...Object.fromEntries(TERMINAL_STATUSES.map((status) => [status, 2])) };

const FROM_MESSAGE_TYPE = {
  taskProgress: null,
  taskCompleted: "COMPLETED",
  taskFailed: "FAILED",
  taskCancelled: "CANCELLED",
  // A finished video's poster frame, stored a few seconds after its taskCompleted: no status, just
  // `result.posterUrl` (and a fresher `result.videoUrl`).
  taskPoster: null,
};

// A status from either side (the HTTP API's enum, the WebSocket's lowercase word), or null.
export function normaliseStatus(value) {
  if (!value) return null;
  const word = String(value).trim().toLowerCase();
  return Object.hasOwn(STATUS_WORDS, word) ? STATUS_WORDS[word] : null;
}

export function isTerminal(task) {
  return TERMINAL.has(task.status);
}

function normaliseError(error) {
  if (!error) return null;
  if (typeof error === "string") return { code: null, message: error };
  return { code: error.code || null, message: error.message || JSON.stringify(error) };
}

// A WebSocket message ({type, timestamp, payload}) as a partial task, or null when it is not about a task.
export function taskUpdateFromMessage(message) {
  if (!message || !(message.type in FROM_MESSAGE_TYPE)) return null; // subscribed, pong, error, …
  const payload = message.payload;
  if (!payload || typeof payload !== "object" || !payload.videoId) return null;
  const status = normaliseStatus(payload.status) || FROM_MESSAGE_TYPE[message.type] || null;
  const update = {
    videoId: payload.videoId,
    status,
    progress: typeof payload.progress === "number" ? payload.progress : undefined,
    externalVideoId: payload.externalVideoId || payload.externalTaskId || undefined,
    message: payload.message || undefined,
    error: payload.error ? normaliseError(payload.error) : undefined,
    videoUrl: payload.result && payload.result.videoUrl ? payload.result.videoUrl : undefined,
    // A finished video's poster frame, on the payload or beside the media in its result.
    posterUrl: payload.posterUrl || payload.result?.posterUrl || undefined,
    updatedAt: payload.updatedAt || undefined,
    queuePosition: typeof payload.queuePosition === "number" ? payload.queuePosition : undefined,
  };
  if (update.externalVideoId) update.externalTaskId = update.externalVideoId;
  return update;
}

// `current` updated with `update` (a Task from HTTP or a partial one from a message). Missing or null
// fields in `update` keep what is known; a stale update (an earlier status, a terminal task) changes nothing.
export function mergeTask(current, update) {
  const incoming = { ...update };
  if (incoming.status) incoming.status = normaliseStatus(incoming.status);
  if ("error" in incoming) incoming.error = normaliseError(incoming.error);
  if (!current) {
    return { progress: 0, ...stripEmpty(incoming), status: incoming.status || "QUEUED" };
  }
  if (incoming.status && incoming.status !== current.status) {
    if (isTerminal(current) || RANK[incoming.status] < RANK[current.status]) {
      return current;
    }
  }
  const merged = { ...current, ...stripEmpty(incoming) };
  merged.progress = Math.max(current.progress || 0, typeof incoming.progress === "number" ? incoming.progress : 0);
  if (merged.status === "COMPLETED") merged.progress = 100;
  merged.progress = Math.min(100, Math.max(0, Math.round(merged.progress)));
  return merged;
}

function stripEmpty(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined && value !== null));
}

// Newest first, as GET /tasks lists them.
export function byNewest(a, b) {
  return String(b.createdAt || "").localeCompare(String(a.createdAt || "")) || String(b.videoId).localeCompare(a.videoId);
}
