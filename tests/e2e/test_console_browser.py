"""The web console (console/) in a real browser: Debian's Chromium, headless, driven by Playwright.

Each test opens the console the local stack serves at `/`, connects it as a user of its own through the
Connection form (the stack pre-fills URLs and a dev token), and works it as a person would: by labels,
roles and the keyboard. Any console error or uncaught page error fails a test, except the few a test
provokes on purpose and names.

The browser is never downloaded (`playwright install` is not used): `make browser-deps` installs
Debian's `chromium`, a prerequisite of `make test`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, WebSocketRoute, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from local.token import make_token
from tests.fixtures.providers import RELAY_MODEL

if TYPE_CHECKING:
    from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"
LAPTOP = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}
VIDEO_ID = re.compile(r"^video_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
HAVE_METADATA = 1  # HTMLMediaElement.readyState
HAVE_CURRENT_DATA = 2
# Long enough that a progress bar is caught between 0 and 100, live or by polling.
STACK_ENV = {"FAKE_VIDEO_SECONDS": "8"}
# Resolves once the media element has metadata or an error (a wait bounded by wait_for_function).
MEDIA_SETTLED = "([media, ready]) => media.readyState >= ready || media.error !== null"
STUCK_PROMPT = "A lighthouse in a storm that never finishes [fault:stuck]"


def closed_port() -> int:
    """A port nothing listens on (the kernel just handed it out and it was closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed: run `make browser-deps` (it installs Debian's chromium)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@dataclass
class BrowserLog:
    """Console errors and uncaught exceptions of one page."""

    errors: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")

    def unexpected(self, *allowed: str) -> list[str]:
        """Errors whose text matches none of the ``allowed`` regular expressions."""
        return [error for error in self.errors if not any(re.search(pattern, error) for pattern in allowed)]


@dataclass
class Console:
    page: Page
    log: BrowserLog
    stack: RunningStack

    # the page's regions ----------------------------------------------------------------------------
    @property
    def live_status(self) -> Locator:
        return self.page.locator("#live-status")

    @property
    def alerts(self) -> Locator:
        return self.page.get_by_role("alert")

    def card(self, video_id: str) -> Locator:
        return self.page.locator(f'#task-list > li[data-video-id="{video_id}"]')

    def field(self, video_id: str, name: str) -> Locator:
        return self.card(video_id).locator(f'[data-field="{name}"]')

    # what a person does ----------------------------------------------------------------------------
    def connect(self, token: str, *, ws_url: str | None = None) -> None:
        """Open Connection, keep the pre-filled URLs (or set the WebSocket URL), use ``token``, save."""
        page = self.page
        if page.locator("#settings").get_attribute("open") is None:
            page.get_by_text("Connection", exact=True).click()
        expect(page.get_by_label("API URL")).to_have_value(self.stack.api_url)
        if ws_url is not None:
            page.get_by_label("WebSocket URL").fill(ws_url)
        page.get_by_label("Token (JWT)").fill(token)
        page.get_by_role("button", name="Save and connect").click()

    def create(self, prompt: str, *, model: str | None = None, seconds: str | None = None) -> str:
        """Create a task with the form; returns the new card's videoId."""
        before = set(self.video_ids())
        self.page.get_by_label("Prompt").fill(prompt)
        if model is not None:
            self.page.get_by_label("Model").select_option(model)
        if seconds is not None:
            self.page.get_by_label("Seconds").select_option(seconds)
        self.page.get_by_role("button", name="Create task").click()
        return self.wait_for_new_card(before)

    def video_ids(self) -> list[str]:
        return self.page.locator("#task-list > li").evaluate_all("items => items.map(item => item.dataset.videoId)")

    def wait_for_new_card(self, before: set[str]) -> str:
        self.page.wait_for_function(
            "count => document.querySelectorAll('#task-list > li').length > count", arg=len(before), timeout=15_000
        )
        (video_id,) = set(self.video_ids()) - before
        return video_id

    def record_progress(self) -> None:
        """From now on, remember every value each task's progress bar shows (window.__progress)."""
        self.page.evaluate(
            """() => {
              window.__progress = {};
              const record = (bar) => {
                const item = bar.closest("[data-video-id]");
                if (!item) return;
                const seen = (window.__progress[item.dataset.videoId] ||= []);
                const value = Number(bar.getAttribute("aria-valuenow"));
                if (seen[seen.length - 1] !== value) seen.push(value);
              };
              new MutationObserver((changes) => {
                for (const change of changes) {
                  if (change.type === "attributes") record(change.target);
                  for (const node of change.addedNodes) {
                    if (node.querySelectorAll) node.querySelectorAll('[role="progressbar"]').forEach(record);
                  }
                }
              }).observe(document.querySelector("#task-list"), {
                subtree: true, childList: true, attributes: true, attributeFilter: ["aria-valuenow"],
              });
            }"""
        )

    def progress_seen(self, video_id: str) -> list[int]:
        return self.page.evaluate("id => window.__progress[id] || []", video_id)


@pytest.fixture
def console_stack(local_stack_factory: Callable[..., RunningStack]) -> RunningStack:
    return local_stack_factory(**STACK_ENV)


@pytest.fixture
def open_console(browser: Browser, console_stack: RunningStack) -> Iterator[Callable[..., Console]]:
    """``open_console(viewport=LAPTOP)``: the console of ``stack`` in a fresh browser context (its own
    localStorage), loaded and pre-filled."""
    contexts = []

    def open_(viewport: dict[str, int] = LAPTOP) -> Console:
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        log = BrowserLog()
        page.on("console", log.console)
        page.on("pageerror", log.page_error)
        page.goto(f"{console_stack.http_url}/")
        expect(page.get_by_label("API URL")).to_have_value(console_stack.api_url)
        expect(page.get_by_label("WebSocket URL")).to_have_value(console_stack.ws_url)
        return Console(page, log, console_stack)

    yield open_
    for context in contexts:
        context.close()


class SocketRelays:
    """Playwright's WebSocket routing between the page and the real server: every socket the page opens
    is relayed, what the page sends is recorded per socket, and the test can drop the newest one."""

    def __init__(self) -> None:
        self.sent: list[list[dict[str, Any]]] = []
        self._routes: list[tuple[WebSocketRoute, WebSocketRoute]] = []

    def relay(self, route: WebSocketRoute) -> None:
        server = route.connect_to_server()
        sent: list[dict[str, Any]] = []
        self.sent.append(sent)
        self._routes.append((route, server))

        def forward(message: str | bytes) -> None:
            sent.append(json.loads(message))
            server.send(message)

        route.on_message(forward)  # the server's messages still reach the page by themselves

    def drop_last(self) -> int:
        """Close the newest socket on both ends, as a network drop would; returns how many were opened."""
        route, server = self._routes[-1]
        server.close()
        route.close(code=1011, reason="dropped by the test")
        return len(self.sent)


def _pump_until(page: Page, condition: Callable[[], bool], timeout_seconds: float = 10.0) -> None:
    """Wait for a condition on what Playwright's event handlers recorded (they run while the page waits)."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_seconds:g}s")
        page.wait_for_timeout(100)


def _no_horizontal_overflow(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


# -- the tests --------------------------------------------------------------------------------------


def test_console_follows_a_task_to_a_playable_video_and_cancels_another(open_console, console_stack, user_id):
    console = open_console()
    page = console.page
    console.connect(console_stack.token(user_id))
    expect(console.live_status).to_have_attribute("data-state", "live")
    expect(page.locator("#tasks-summary")).to_have_text("No tasks yet — create one.")
    console.record_progress()
    # The form offers what GET /models lists: a model of every provider entry, the default chosen.
    offered = page.get_by_label("Model").locator("option")
    expect(offered).not_to_have_count(0)
    providers = {text.rsplit("(", 1)[-1].rstrip(")") for text in offered.all_inner_texts()}
    assert {"openai", "gemini", "fal", "replicate"} <= providers, providers
    listing = console_stack.http(user_id).get("/models").json()["data"]
    expect(page.get_by_label("Model")).to_have_value(listing["default"])

    # The relay's model reports progress as it goes, which the progress bar must show.
    video_id = console.create("A paper boat drifting down a rainy street", model=RELAY_MODEL, seconds="10")

    card = console.card(video_id)
    expect(card).to_have_attribute("data-status", "COMPLETED", timeout=console_stack.completion_deadline() * 1000)
    seen = console.progress_seen(video_id)
    assert seen == sorted(seen), f"the progress bar went backwards: {seen}"
    assert any(0 < value < 100 for value in seen), f"the progress bar never showed work in progress: {seen}"
    assert seen[-1] == 100
    expect(card.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")

    task = console_stack.http(user_id).get(f"/tasks/{video_id}").json()
    assert VIDEO_ID.match(video_id)
    assert task["externalVideoId"]
    expect(console.field(video_id, "videoId")).to_have_text(video_id)
    expect(console.field(video_id, "videoId")).to_be_visible()
    expect(console.field(video_id, "externalVideoId")).to_have_text(task["externalVideoId"])
    expect(console.field(video_id, "externalVideoId")).to_be_visible()

    card.get_by_role("button", name=f"Play video of {video_id}").click()
    video = card.locator("video")
    expect(video).to_be_visible()
    page.wait_for_function(MEDIA_SETTLED, arg=[video.element_handle(), HAVE_METADATA], timeout=20_000)
    assert video.evaluate("video => video.error && video.error.code") is None
    assert video.evaluate("video => video.readyState") >= HAVE_METADATA
    assert video.evaluate("video => video.duration") > 0

    # The second task by keyboard alone: type the prompt, Tab to the button, Enter; Enter on Cancel.
    before = set(console.video_ids())
    page.get_by_label("Prompt").fill(STUCK_PROMPT)
    page.get_by_label("Prompt").focus()
    for _ in range(6):  # model, seconds, size, priority, copies, Create task
        page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Create task")).to_be_focused()
    page.keyboard.press("Enter")
    stuck_id = console.wait_for_new_card(before)
    expect(console.card(stuck_id)).to_have_attribute("data-status", "PROCESSING", timeout=30_000)
    cancel = console.card(stuck_id).get_by_role("button", name=f"Cancel task {stuck_id}")
    cancel.focus()
    page.keyboard.press("Enter")
    expect(console.card(stuck_id)).to_have_attribute("data-status", "CANCELLED")
    expect(console.field(stuck_id, "status")).to_have_text("Cancelled")
    expect(console.card(stuck_id).get_by_role("article")).to_be_focused()  # the keyboard keeps its place
    assert console_stack.http(user_id).get(f"/tasks/{stuck_id}").json()["status"] == "CANCELLED"

    stats = page.locator("#stats")
    expect(stats.locator('[data-stat="total"] dd')).to_have_text("2")
    expect(stats.locator('[data-stat="COMPLETED"] dd')).to_have_text("1")
    expect(stats.locator('[data-stat="CANCELLED"] dd')).to_have_text("1")

    _save_screenshot(page, video)

    page.set_viewport_size(NARROW)
    assert _no_horizontal_overflow(page), "the console scrolls sideways in a narrow window"
    expect(page.get_by_role("button", name="Create task")).to_be_visible()
    assert console.log.unexpected() == []


def test_console_retries_a_cancelled_task_and_deletes_it_after_a_confirmation(open_console, console_stack, user_id):
    console = open_console()
    page = console.page
    console.connect(console_stack.token(user_id))
    expect(console.live_status).to_have_attribute("data-state", "live")
    video_id = console.create(STUCK_PROMPT, model=RELAY_MODEL)
    card = console.card(video_id)
    expect(card.get_by_role("button", name=f"Retry task {video_id}")).to_be_hidden()
    expect(card.get_by_role("button", name=f"Delete task {video_id}")).to_be_hidden()  # running: cancel first
    card.get_by_role("button", name=f"Cancel task {video_id}").click()
    expect(card).to_have_attribute("data-status", "CANCELLED")

    before = set(console.video_ids())
    card.get_by_role("button", name=f"Retry task {video_id}").click()
    retry_id = console.wait_for_new_card(before)
    assert console_stack.http(user_id).get(f"/tasks/{retry_id}").json()["retryOf"] == video_id
    expect(console.field(retry_id, "prompt")).to_have_text(STUCK_PROMPT)

    page.once("dialog", lambda dialog: dialog.dismiss())  # changing one's mind keeps the task
    card.get_by_role("button", name=f"Delete task {video_id}").click()
    expect(card).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name=f"Delete task {video_id}").click()
    expect(card).to_have_count(0)
    assert console_stack.http(user_id).get(f"/tasks/{video_id}").status_code == 404
    expect(console.card(retry_id)).to_have_count(1)

    # A delete from another client reaches this tab as taskDeleted.
    assert console_stack.http(user_id).post(f"/tasks/{retry_id}/cancel").status_code == 200
    expect(console.card(retry_id)).to_have_attribute("data-status", "CANCELLED")
    assert console_stack.http(user_id).delete(f"/tasks/{retry_id}").status_code == 200
    expect(console.card(retry_id)).to_have_count(0)
    assert console.log.unexpected() == []


def test_console_polls_when_live_updates_are_offline(open_console, console_stack, user_id):
    """With the WebSocket unreachable the console says so, keeps retrying, and follows tasks by polling."""
    console = open_console()
    dead_ws = f"ws://127.0.0.1:{closed_port()}"
    console.connect(console_stack.token(user_id), ws_url=dead_ws)
    expect(console.live_status).to_contain_text("Live updates offline, polling")

    video_id = console.create("A kite over a windy beach")

    expect(console.card(video_id)).to_have_attribute(
        "data-status", "COMPLETED", timeout=console_stack.completion_deadline() * 1000
    )
    expect(console.field(video_id, "externalVideoId")).not_to_have_text("not assigned yet")
    expect(console.live_status).to_contain_text("offline")
    assert console.log.unexpected(rf"WebSocket connection to '{re.escape(dead_ws)}/\?token=") == []
    assert console.log.errors, "the dead WebSocket was never tried"


def test_console_shows_the_api_error_message(open_console, console_stack, user_id):
    console = open_console()
    console.connect(console_stack.token(user_id), ws_url="")

    console.page.get_by_label("Prompt").fill("   ")
    console.page.get_by_role("button", name="Create task").click()
    expect(console.alerts).to_contain_text("Could not create the task: prompt: String should have at least 1 character")

    console.connect(make_token(user_id, "not-the-secret-of-this-local-stack-at-all"), ws_url="")
    expect(console.alerts).to_contain_text("Could not load the tasks: Invalid token")
    assert console.log.unexpected(r"Failed to load resource: the server responded with a status of (400|401)") == []


def test_console_reconnects_and_resubscribes_when_the_socket_drops(open_console, console_stack, user_id):
    console = open_console()
    page = console.page
    relays = SocketRelays()
    page.route_web_socket(re.compile(rf"^{re.escape(console_stack.ws_url)}/"), relays.relay)
    console.connect(console_stack.token(user_id))
    expect(console.live_status).to_have_attribute("data-state", "live")
    video_id = console.create(STUCK_PROMPT)
    expect(console.card(video_id)).to_have_attribute("data-status", "PROCESSING", timeout=30_000)
    assert {"action": "subscribe"} in relays.sent[-1]

    dropped = relays.drop_last()

    expect(console.live_status).not_to_have_attribute("data-state", "live")
    expect(console.live_status).to_have_attribute("data-state", "live", timeout=20_000)
    resubscription = [{"action": "subscribe"}, {"action": "subscribe", "videoId": video_id}]
    _pump_until(page, lambda: len(relays.sent) > dropped and relays.sent[-1][:2] == resubscription)

    # Polling is off while live: the cancel made elsewhere can only arrive over the new socket.
    assert console_stack.http(user_id).post(f"/tasks/{video_id}/cancel").status_code == 200
    expect(console.card(video_id)).to_have_attribute("data-status", "CANCELLED")
    assert console.log.unexpected() == []


def test_console_pages_filters_and_shows_images(open_console, console_stack, user_id, wait_for_terminal):
    with console_stack.http(user_id) as client:
        created = [client.post("/tasks", json={"prompt": f"A tiny icon #{n}", "type": "IMAGE"}) for n in range(11)]
        assert all(answer.status_code == 201 for answer in created), created[0].text
        for answer in created:
            wait_for_terminal(client, answer.json()["videoId"], console_stack.completion_deadline())
    console = open_console()
    page = console.page
    console.connect(console_stack.token(user_id))
    summary = page.locator("#tasks-summary")
    expect(summary).to_have_text("Showing 10 of 11 tasks.")
    page.get_by_role("button", name="Load more").click()
    expect(summary).to_have_text("Showing 11 of 11 tasks.")
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    assert console.video_ids() == [answer.json()["videoId"] for answer in reversed(created)]

    page.get_by_label("Status").select_option("PROCESSING")
    expect(summary).to_have_text("No processing tasks.")
    page.get_by_label("Status").select_option("COMPLETED")
    expect(summary).to_have_text("Showing 10 of 11 completed tasks.")

    newest = created[-1].json()["videoId"]
    console.card(newest).get_by_role("button", name=f"Show image of {newest}").click()
    image = console.card(newest).get_by_role("img")
    expect(image).to_be_visible()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
    expect(page.locator('#stats [data-stat="COMPLETED"] dd')).to_have_text("11")
    assert console.log.unexpected() == []


def test_console_task_rules_keep_progress_and_endings_monotonic(open_console):
    """console/js/tasks.js, in the browser that runs it: late or repeated messages never undo news."""
    page = open_console().page
    outcome = page.evaluate(
        """async () => {
          const { mergeTask, taskUpdateFromMessage } = await import("./js/tasks.js");
          const message = (type, status, progress) => taskUpdateFromMessage(
            { type, timestamp: 0, payload: { videoId: "v", externalVideoId: "x", status, progress } },
          );
          let task = mergeTask(null, { videoId: "v", status: "QUEUED", progress: 0, externalVideoId: null });
          task = mergeTask(task, message("taskProgress", "in_progress", 60));
          const afterProgress = { ...task };
          task = mergeTask(task, message("taskProgress", "in_progress", 40));
          const afterLate = { ...task };
          task = mergeTask(task, message("taskCompleted", "completed", 100));
          task = mergeTask(task, message("taskProgress", "in_progress", 90));
          return {
            afterProgress, afterLate, final: task,
            subscribed: taskUpdateFromMessage({ type: "subscribed", payload: { videoId: null, scope: "all" } }),
            error: taskUpdateFromMessage({ type: "error", payload: { videoId: "v", code: "NOT_FOUND" } }),
          };
        }"""
    )
    assert outcome["afterProgress"]["status"] == "PROCESSING"
    assert outcome["afterProgress"]["externalVideoId"] == "x"
    assert outcome["afterLate"]["progress"] == 60
    assert outcome["final"]["status"] == "COMPLETED"
    assert outcome["final"]["progress"] == 100
    assert outcome["subscribed"] is None
    assert outcome["error"] is None


def _save_screenshot(page: Page, video: Locator) -> None:
    """docs/console.png, for the README: written when missing or with UPDATE_SCREENSHOTS=1, so that a
    test run leaves the committed picture alone."""
    if SCREENSHOT.exists() and not os.environ.get("UPDATE_SCREENSHOTS"):
        return
    # A first frame looks better than a black box; not having one yet is no failure.
    try:
        page.wait_for_function(MEDIA_SETTLED, arg=[video.element_handle(), HAVE_CURRENT_DATA], timeout=5_000)
    except PlaywrightTimeoutError:
        pass
    page.evaluate("() => document.activeElement?.blur()")
    page.evaluate("() => document.querySelector('#notices').replaceChildren()")  # transient toasts
    page.evaluate("() => window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT, animations="disabled")


def test_console_lists_tasks_made_elsewhere_at_once_and_keeps_paging_whole(open_console, console_stack, user_id):
    """Tasks created through the API while the page is open appear while they still run (not once they
    finish), all of them even when they are more than a page, and the count and paging stay right."""
    console = open_console()
    page = console.page
    with console_stack.http(user_id) as client:
        first = client.post("/tasks", json={"prompt": "The first one", "type": "IMAGE"}).json()["videoId"]
        console.connect(console_stack.token(user_id))
        expect(console.live_status).to_have_attribute("data-state", "live")
        expect(console.card(first)).to_have_count(1)
        # More than a page of them, still running for as long as the test looks.
        made = [client.post("/tasks", json={"prompt": f"{STUCK_PROMPT} #{n}"}).json()["videoId"] for n in range(12)]
        for video_id in made:
            expect(console.card(video_id)).to_have_count(1, timeout=10_000)
        summary = page.locator("#tasks-summary")
        expect(summary).to_have_text("13 tasks.")
        assert console.video_ids()[:12] == list(reversed(made)), "the newest first, none missing"
        running = page.locator('#task-list > li:not([data-status="COMPLETED"]):not([data-status="FAILED"])')
        assert running.count() >= 12, "they appeared only once they ended"
        expect(page.get_by_role("button", name="Load more")).to_be_hidden()

        # A fresh page of the same list pages through all of them.
        page.reload()
        expect(summary).to_have_text("Showing 10 of 13 tasks.")
        page.get_by_role("button", name="Load more").click()
        expect(summary).to_have_text("13 tasks.")
        for video_id in made:
            assert client.post(f"/tasks/{video_id}/cancel").status_code == 200
    assert console.log.unexpected() == []
