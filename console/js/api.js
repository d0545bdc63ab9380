// The HTTP API, per docs/API.md. Every failure becomes an ApiError whose message is what a person
// should read: the server's own `message` from the error envelope when there is one, in the console's
// language (Accept-Language).

import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(message, { status = 0, code = "NETWORK", details = null, retryAfter = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter; // seconds, from a 429's Retry-After
  }
}

// A reply's payload: `data` when the envelope has it, the body otherwise (both shapes are served).
function unwrap(body) {
  return body && typeof body === "object" && "data" in body ? body.data : body;
}

function messageOf(body, response) {
  if (body && typeof body === "object") {
    if (typeof body.message === "string" && body.message) return body.message;
    if (body.error && typeof body.error.message === "string") return body.error.message;
  }
  return `${response.status} ${response.statusText || "error"}`.trim();
}

export class Api {
  constructor({ apiUrl, token, language = "en" }) {
    this.base = String(apiUrl || "").replace(/\/+$/, "");
    this.token = token || "";
    this.language = language;
  }

  async request(method, path, { body, query, headers = {} } = {}) {
    if (!this.base) throw new ApiError(t("api.noUrl"), { code: "CONFIG" });
    let url;
    try {
      url = new URL(this.base + path);
    } catch {
      throw new ApiError(t("api.badUrl", { url: this.base }), { code: "CONFIG" });
    }
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    const init = { method, headers: { Accept: "application/json", "Accept-Language": this.language, ...headers } };
    if (this.token) init.headers.Authorization = `Bearer ${this.token.replace(/^Bearer\s+/i, "")}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiError(t("api.unreachable", { origin: url.origin, reason: error.message }));
    }
    let payload = null;
    const text = await response.text();
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = null;
      }
    }
    if (!response.ok) {
      const envelope = payload && payload.error && typeof payload.error === "object" ? payload.error : {};
      let message = messageOf(payload, response);
      // API Gateway's own authorizer refusal carries no envelope, just {"message":"Forbidden"}.
      if (response.status === 401 || response.status === 403) message = t("api.checkToken", { message });
      throw new ApiError(message, {
        status: response.status,
        code: envelope.code || (response.status === 403 ? "FORBIDDEN" : "HTTP_ERROR"),
        details: envelope.details || null,
        retryAfter: Number(response.headers.get("Retry-After")) || null,
      });
    }
    return unwrap(payload);
  }

  createTask(fields) {
    return this.request("POST", "/tasks", { body: fields });
  }

  // 1-20 create bodies in one request: all are created, or none (docs/API.md, batch).
  createBatch(tasks) {
    return this.request("POST", "/tasks/batch", { body: { tasks } });
  }

  usage() {
    return this.request("GET", "/usage");
  }

  listTasks({ status, type, limit, cursor } = {}) {
    return this.request("GET", "/tasks", { query: { status, type, limit, cursor } });
  }

  getTask(videoId) {
    return this.request("GET", `/tasks/${encodeURIComponent(videoId)}`);
  }

  content(videoId) {
    return this.request("GET", `/tasks/${encodeURIComponent(videoId)}/content`);
  }

  cancel(videoId) {
    return this.request("POST", `/tasks/${encodeURIComponent(videoId)}/cancel`);
  }

  // retry, remix and delete: a new task from an ended one, or the ended one gone
  retry(videoId) {
    return this.request("POST", `/tasks/${encodeURIComponent(videoId)}/retry`);
  }

  remix(videoId, prompt) {
    return this.request("POST", `/tasks/${encodeURIComponent(videoId)}/remix`, { body: { prompt } });
  }

  deleteTask(videoId) {
    return this.request("DELETE", `/tasks/${encodeURIComponent(videoId)}`);
  }

  stats() {
    return this.request("GET", "/stats");
  }

  models() {
    return this.request("GET", "/models");
  }
}
