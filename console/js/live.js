// Live updates over the WebSocket API (docs/FRONTEND_INTEGRATION.md).
//
// Connects with ?token=<JWT>, subscribes to all of the caller's tasks and to each task it is told to
// track (a subscription answers with the task's current state, which fills any gap while offline),
// pings to keep idle connections open, and reconnects by itself with capped, jittered exponential
// backoff. Asks for the console's language (?lang=), so the server's messages match. It reports its
// state — "connecting", "live", "offline" or "disabled" — through onState.

import { t } from "./i18n.js";

const PING_INTERVAL_MS = 60_000; // API Gateway closes idle WebSockets after 10 minutes
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
const STABLE_AFTER_MS = 5_000; // only a connection that stayed up this long resets the backoff
// Following all tasks already delivers every change; a per-task subscription adds its current state
// as an answer (the catch-up after a reconnect). The server allows 100 per connection.
const MAX_TRACKED = 50;

export class LiveUpdates {
  constructor({ url, token, language = "en", onMessage, onState, onNotice }) {
    this.url = url;
    this.language = language;
    this.token = token;
    this.onMessage = onMessage;
    this.onState = onState;
    this.onNotice = onNotice;
    this.tracked = new Set();
    this.socket = null;
    this.state = "idle";
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.openedAt = 0;
    this.stopped = true;
    this.handleOnline = () => this.reconnectNow();
  }

  start() {
    this.stopped = false;
    if (!this.url) {
      this.setState("disabled");
      return;
    }
    window.addEventListener("online", this.handleOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.handleOnline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
      if (socket.readyState <= WebSocket.OPEN) socket.close(1000, "console closed");
    }
    this.setState("idle");
  }

  track(videoId) {
    if (this.tracked.has(videoId) || this.tracked.size >= MAX_TRACKED) return;
    this.tracked.add(videoId);
    this.send({ action: "subscribe", videoId });
  }

  untrack(videoId) {
    if (!this.tracked.delete(videoId)) return;
    this.send({ action: "unsubscribe", videoId });
  }

  // internals ------------------------------------------------------------------------------------

  socketUrl() {
    const url = new URL(this.url);
    url.searchParams.set("token", this.token.replace(/^Bearer\s+/i, ""));
    url.searchParams.set("lang", this.language);
    return url.toString();
  }

  connect() {
    let url;
    try {
      url = this.socketUrl();
    } catch {
      this.onNotice(t("live.badUrl", { url: this.url }), "error");
      this.setState("disabled");
      return;
    }
    this.setState("connecting");
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.openedAt = Date.now();
      this.setState("live");
      this.send({ action: "subscribe" });
      for (const videoId of this.tracked) this.send({ action: "subscribe", videoId });
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ action: "ping" }), PING_INTERVAL_MS);
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not ours to show: a proxy's keep-alive or similar
      }
      this.onMessage(message);
    };
    // A failed handshake fires error then close; close alone decides what happens next.
    socket.onerror = () => {};
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.pingTimer);
      if (this.openedAt && Date.now() - this.openedAt >= STABLE_AFTER_MS) this.attempt = 0;
      this.openedAt = 0;
      if (!this.stopped) this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.setState("offline", { retryInMs: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }
}
