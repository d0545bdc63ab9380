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
# Playwright waits 5 s for an expectation by default; on two shared cores with other local stacks busy, a
# list read or a page load can take longer without anything being wrong. Expectations still fail, later.
expect.set_options(timeout=15_000)

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
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "console.png"
GALLERY_SCREENSHOT = ROOT / "docs" / "console-gallery.png"
TASK_SCREENSHOT = ROOT / "docs" / "console-task.png"
# axe-core, the accessibility judge: an npm judge of `make judges-install` (AXE_CORE names another copy).
AXE_CORE = Path(os.environ.get("AXE_CORE") or ROOT / ".judges-npm" / "node_modules" / "axe-core" / "axe.min.js")
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
LOST_PROMPT = "A comet the provider forgets about [fault:vanish]"


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

    def confirm(self, answer: str) -> None:
        """Answer the console's confirmation dialog with the button named ``answer``."""
        dialog = self.page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name=answer, exact=True).click()
        expect(dialog).to_be_hidden()

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
    """``open_console(viewport=LAPTOP, **context_options)``: the console of ``stack`` in a fresh browser
    context (its own localStorage), loaded and pre-filled."""
    contexts = []

    def open_(viewport: dict[str, int] = LAPTOP, **options: Any) -> Console:
        context = browser.new_context(viewport=viewport, **options)  # type: ignore[arg-type]
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
    # The first test of a fresh stack: its WebSocket function's cold start may take a while on busy cores.
    expect(console.live_status).to_have_attribute("data-state", "live", timeout=20_000)
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
    expect(card.get_by_role("progressbar")).to_be_hidden()  # an ended task has no bar left to freeze
    expect(page.get_by_label("Prompt")).to_have_value("")  # cleared once created: no double submit
    # Its poster frame is stored after it completed; taskPoster puts it on the card without a reload.
    expect(card.locator(".thumb img")).to_have_attribute("src", re.compile(r"\.poster\.jpg"), timeout=30_000)

    card.get_by_role("button", name=f"Play video of {video_id}").focus()
    page.keyboard.press("Enter")  # by keyboard
    video = card.locator("video[controls]")
    expect(video).to_be_visible()
    expect(video).to_be_focused()  # the Play button goes away; the keyboard lands on the player
    page.wait_for_function(MEDIA_SETTLED, arg=[video.element_handle(), HAVE_METADATA], timeout=20_000)
    assert video.evaluate("video => video.error && video.error.code") is None
    assert video.evaluate("video => video.readyState") >= HAVE_METADATA
    assert video.evaluate("video => video.duration") > 0

    # Its own page: both ids (with copy buttons) instead of long ids on every card.
    task = console_stack.http(user_id).get(f"/tasks/{video_id}").json()
    assert VIDEO_ID.match(video_id)
    assert task["externalVideoId"]
    expect(console.field(video_id, "prompt")).to_be_visible()
    expect(card.get_by_text(video_id)).to_have_count(0)
    card.get_by_role("link", name=f"Details of task {video_id}").click()
    expect(page).to_have_url(re.compile(rf"#/tasks/{video_id}$"))
    task_page = page.locator("#task-page")
    expect(task_page.get_by_text(video_id, exact=True)).to_be_visible()
    expect(task_page.get_by_text(task["externalVideoId"], exact=True)).to_be_visible()
    expect(task_page.get_by_role("button", name="Copy Task id")).to_be_visible()
    expect(task_page.locator("video")).to_be_visible()
    expect(task_page).to_contain_text("Media link valid until")
    page.go_back()  # back to the list, the keyboard where it left it
    expect(task_page).to_be_hidden()
    expect(card.get_by_role("link", name=f"Details of task {video_id}")).to_be_focused()
    expect(page.locator("#results")).not_to_contain_text("Media link valid until")  # the task page only

    # The second task by keyboard alone: the prompt, Ctrl+Enter; then Enter on Cancel and its confirmation.
    before = set(console.video_ids())
    page.get_by_label("Prompt").focus()
    page.keyboard.type(STUCK_PROMPT)
    page.keyboard.press("Control+Enter")
    stuck_id = console.wait_for_new_card(before)
    expect(page.get_by_label("Prompt")).to_have_value("")
    expect(console.card(stuck_id)).to_have_attribute("data-status", "PROCESSING", timeout=30_000)
    cancel = console.card(stuck_id).get_by_role("button", name=f"Cancel task {stuck_id}")
    cancel.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    page.keyboard.press("Escape")  # changing one's mind: nothing cancelled, focus back on Cancel
    expect(dialog).to_be_hidden()
    expect(cancel).to_be_focused()
    expect(console.card(stuck_id)).to_have_attribute("data-status", "PROCESSING")
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Cancel task", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(console.card(stuck_id)).to_have_attribute("data-status", "CANCELLED")
    expect(console.field(stuck_id, "status")).to_have_text("Cancelled")
    expect(console.card(stuck_id).get_by_role("article")).to_be_focused()  # the keyboard keeps its place
    assert console_stack.http(user_id).get(f"/tasks/{stuck_id}").json()["status"] == "CANCELLED"

    stats = page.locator("#stats")
    expect(stats.locator('[data-stat="total"] dd')).to_have_text("2")
    expect(stats.locator('[data-stat="COMPLETED"] dd')).to_have_text("1")
    expect(stats.locator('[data-stat="CANCELLED"] dd')).to_have_text("1")
    stats_panel = page.locator(".stats-panel")
    stats_panel.scroll_into_view_if_needed()
    clipped = stats_panel.evaluate(
        """panel => [...panel.querySelectorAll("dt, dd")]
          .filter((node) => node.scrollWidth > node.clientWidth + 1).map((node) => node.textContent)"""
    )
    assert clipped == [], f"the Stats panel cuts off {clipped} at 1280x900"
    assert stats_panel.evaluate("panel => panel.scrollWidth <= panel.clientWidth")

    _save_screenshot(page, video)

    page.set_viewport_size(NARROW)
    assert _no_horizontal_overflow(page), "the console scrolls sideways in a narrow window"
    expect(page.get_by_role("button", name="Create task")).to_be_visible()
    assert console.log.unexpected() == []


def test_console_retries_a_cancelled_task_and_deletes_it_after_a_confirmation(open_console, console_stack, user_id):
    console = open_console()
    console.connect(console_stack.token(user_id))
    expect(console.live_status).to_have_attribute("data-state", "live")
    video_id = console.create(STUCK_PROMPT, model=RELAY_MODEL)
    card = console.card(video_id)
    expect(card.get_by_role("button", name=f"Retry task {video_id}")).to_be_hidden()
    expect(card.get_by_role("button", name=f"Delete task {video_id}")).to_be_hidden()  # running: cancel first
    card.get_by_role("button", name=f"Cancel task {video_id}").click()
    console.confirm("Cancel task")
    expect(card).to_have_attribute("data-status", "CANCELLED")

    before = set(console.video_ids())
    card.get_by_role("button", name=f"Retry task {video_id}").click()
    retry_id = console.wait_for_new_card(before)
    assert console_stack.http(user_id).get(f"/tasks/{retry_id}").json()["retryOf"] == video_id
    expect(console.field(retry_id, "prompt")).to_have_text(STUCK_PROMPT)

    card.get_by_role("button", name=f"Delete task {video_id}").click()
    console.confirm("Keep it")  # changing one's mind keeps the task
    expect(card).to_have_count(1)
    card.get_by_role("button", name=f"Delete task {video_id}").click()
    console.confirm("Delete task")
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
    expect(summary).to_have_text("11 tasks.")
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    assert console.video_ids() == [answer.json()["videoId"] for answer in reversed(created)]

    page.get_by_label("Status").select_option("PROCESSING")
    expect(summary).to_have_text("No processing tasks.")
    page.get_by_label("Status").select_option("COMPLETED")
    expect(summary).to_have_text("Showing 10 of 11 completed tasks.")

    newest = created[-1].json()["videoId"]
    image = console.card(newest).get_by_role("img")  # an image shows as itself
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
          const withPoster = mergeTask(task, taskUpdateFromMessage({
            type: "taskPoster", timestamp: 0,
            payload: { videoId: "v", externalVideoId: "x", result: { videoUrl: "v.mp4", posterUrl: "p2.jpg" } },
          }));
          return {
            afterProgress, afterLate, final: task, withPoster,
            poster: taskUpdateFromMessage(
              { type: "taskCompleted", payload: { videoId: "v", status: "completed", posterUrl: "p.jpg" } },
            ).posterUrl,
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
    assert outcome["poster"] == "p.jpg"
    # The poster arrives after the task finished (taskPoster): it sets the poster, the status stays.
    assert outcome["withPoster"]["status"] == "COMPLETED"
    assert outcome["withPoster"]["posterUrl"] == "p2.jpg"
    assert outcome["withPoster"]["videoUrl"] == "v.mp4"
    assert outcome["subscribed"] is None
    assert outcome["error"] is None


def test_console_cards_show_posters_images_and_a_placeholder_without_either(open_console):
    """console/js/views.js: a finished video's card shows its poster (a neutral placeholder when the
    deployment makes none), a finished image itself; a video with a link previews on hover."""
    page = open_console().page
    cards = page.evaluate(
        """async () => {
          const { createTaskElement, renderTask, startPreview } = await import("./js/views.js");
          const template = document.querySelector("#task-template");
          const now = new Date().toISOString();
          const base = { status: "COMPLETED", progress: 100, prompt: "p", model: "m", createdAt: now };
          const draw = (task) => {
            const item = createTaskElement(template, task.videoId);
            document.querySelector("#task-list").append(item);
            renderTask(item, { ...base, ...task });
            return item;
          };
          const poster = draw({ videoId: "a", type: "VIDEO", posterUrl: "/favicon.svg", videoUrl: "/none.mp4" });
          const bare = draw({ videoId: "b", type: "VIDEO" });
          const image = draw({ videoId: "c", type: "IMAGE", videoUrl: "/favicon.svg" });
          startPreview(poster.querySelector(".thumb"));
          return {
            poster: poster.querySelector(".thumb img")?.getAttribute("src"),
            preview: Boolean(poster.querySelector(".thumb video.preview")),
            bare: bare.querySelector(".thumb img") === null && Boolean(bare.querySelector(".thumb .placeholder")),
            image: image.querySelector(".thumb img")?.getAttribute("src"),
            imageAlt: image.querySelector(".thumb img")?.getAttribute("alt"),
            play: poster.querySelector('[data-action="media"]').hidden === false,
          };
        }"""
    )
    assert cards["poster"] == "/favicon.svg"
    assert cards["preview"], "no preview on hover or tap"
    assert cards["bare"], "a video without a poster shows a neutral placeholder"
    assert cards["image"] == "/favicon.svg" and cards["imageAlt"]
    assert cards["play"]


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
        # More than a page of them in one burst (a batch), still running for as long as the test looks:
        # the console must read past the newest page to list them all.
        batch = client.post("/tasks/batch", json={"tasks": [{"prompt": f"{STUCK_PROMPT} #{n}"} for n in range(12)]})
        assert batch.status_code == 201, batch.text
        made = [task["videoId"] for task in batch.json()["items"]]
        for video_id in made:
            expect(console.card(video_id)).to_have_count(1, timeout=10_000)
        summary = page.locator("#tasks-summary")
        expect(summary).to_have_text("13 tasks.")
        listed = [task["videoId"] for task in client.get("/tasks", params={"limit": 20}).json()["items"]]
        assert console.video_ids() == listed, "the newest first, in the API's order, none missing"
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


# -- accessibility: axe-core judges every state ------------------------------------------------------


def _axe_violations(page: Page) -> list[str]:
    """axe-core's violations (every impact) on the page as it is now, one line each."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE_CORE))
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ["violations"] });
          return result.violations.map((v) =>
            `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
        }"""
    )
    return list(found)


def _assert_accessible(page: Page, state: str) -> None:
    violations = _axe_violations(page)
    assert violations == [], f"axe-core, {state}:\n" + "\n".join(violations)


needs_axe = pytest.mark.skipif(
    not AXE_CORE.exists() and not shutil.which("npm"),
    reason="no axe-core and no npm to install it: run `make judges-install` (needs npm)",
)


@pytest.fixture
def axe_core() -> Path:
    if not AXE_CORE.exists():
        pytest.fail(f"axe-core is missing at {AXE_CORE}: run `make judges-install`")
    return AXE_CORE


def _loaded_user(client: Any, wait_for_terminal: Callable[..., dict[str, Any]], deadline: float) -> dict[str, str]:
    """A finished video, a failed one, a long list of images, and one still running (created last)."""
    done = client.post("/tasks", json={"prompt": "A paper lantern rising over a quiet lake at dusk"}).json()["videoId"]
    lost = client.post("/tasks", json={"prompt": LOST_PROMPT}).json()["videoId"]
    images = client.post(
        "/tasks/batch", json={"tasks": [{"prompt": f"A tiny icon #{n}", "type": "IMAGE"} for n in range(10)]}
    )
    assert images.status_code == 201, images.text
    for video_id in (done, lost, *[task["videoId"] for task in images.json()["items"]]):
        wait_for_terminal(client, video_id, deadline)
    running = client.post("/tasks", json={"prompt": STUCK_PROMPT}).json()["videoId"]
    return {"done": done, "lost": lost, "running": running}


@needs_axe
def test_console_has_no_accessibility_violations_in_any_state(
    open_console, console_stack, user_id, wait_for_terminal, axe_core
):
    """axe-core finds nothing in every state: empty, a long list with running, failed and finished tasks,
    a video playing, the task pages, zh-CN, the dark scheme and a phone; failed tasks read plainly and
    retry by keyboard."""
    console = open_console()
    page = console.page
    console.connect(console_stack.token(f"{user_id}-empty"))
    expect(page.locator("#tasks-summary")).to_have_text("No tasks yet — create one.")
    _assert_accessible(page, "empty")

    with console_stack.http(user_id) as client:
        ids = _loaded_user(client, wait_for_terminal, console_stack.completion_deadline())
        lost_error = client.get(f"/tasks/{ids['lost']}").json()["error"]
    console.connect(console_stack.token(user_id))
    expect(console.card(ids["running"])).to_have_attribute("data-status", "PROCESSING", timeout=30_000)
    expect(page.locator("#tasks-summary")).to_have_text("Showing 10 of 13 tasks.")
    page.get_by_role("button", name="Load more").click()
    expect(page.locator("#tasks-summary")).to_have_text("13 tasks.")
    _assert_accessible(page, "a long list, in progress, failed and completed")
    _save_picture(page, GALLERY_SCREENSHOT)

    # The failure in plain words (the API's message), not the provider's raw text; no bar left frozen.
    lost_card = console.card(ids["lost"])
    expect(lost_card).to_have_attribute("data-status", "FAILED")
    expect(console.field(ids["lost"], "error")).to_have_text(lost_error["message"])
    expect(lost_card.get_by_role("progressbar")).to_be_hidden()

    done_card = console.card(ids["done"])
    done_card.get_by_role("button", name=f"Play video of {ids['done']}").click()
    expect(done_card.locator("video[controls]")).to_be_visible()
    _assert_accessible(page, "a video open")

    page.goto(f"{console_stack.http_url}/#/tasks/{ids['done']}")
    expect(page.locator("#task-page video")).to_be_visible()
    _assert_accessible(page, "the task page of a finished video")
    _save_picture(page, TASK_SCREENSHOT)

    # Keyboard only: the failed task's page, its Retry.
    page.goto(f"{console_stack.http_url}/#/tasks/{ids['lost']}")
    task_page = page.locator("#task-page")
    expect(task_page.locator(".task-error")).to_have_text(lost_error["message"])
    expect(task_page).to_contain_text(f"Code for support: {lost_error['code']}")
    _assert_accessible(page, "the task page of a failed task")
    retry = task_page.get_by_role("button", name=f"Retry task {ids['lost']}")
    retry.focus()
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(rf"#/tasks/{ids['lost']}$"))
    expect(page.locator("#task-page-heading")).to_contain_text(LOST_PROMPT[:40])

    # Keyboard only: the status filter.
    page.goto(f"{console_stack.http_url}/#/")
    page.get_by_label("Status").focus()
    page.keyboard.press("ArrowDown")  # All → Queued
    page.keyboard.press("ArrowDown")  # → Processing
    expect(page.locator("#tasks-summary")).to_contain_text("processing task")
    expect(console.card(ids["running"])).to_have_count(1)

    # Both languages: the switch, remembered; the API answers in the same language.
    page.get_by_label("Status").select_option("FAILED")
    expect(console.card(ids["lost"])).to_have_attribute("data-status", "FAILED")
    page.get_by_label("Language").select_option("zh-CN")
    expect(page.locator("#tasks-heading")).to_have_text("结果")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(console.card(ids["lost"])).to_have_attribute("data-status", "FAILED")
    with console_stack.http(user_id) as client:
        zh_error = client.get(f"/tasks/{ids['lost']}", headers={"Accept-Language": "zh-CN"}).json()["error"]
    expect(console.field(ids["lost"], "error")).to_have_text(zh_error["message"])
    _assert_accessible(page, "zh-CN")
    page.reload()
    expect(page.locator("#tasks-heading")).to_have_text("结果")
    page.get_by_label("语言").select_option("en")
    expect(page.locator("#tasks-heading")).to_have_text("Results")
    assert console.log.unexpected() == []

    dark = open_console(color_scheme="dark")
    dark.connect(console_stack.token(user_id))
    expect(dark.card(ids["running"])).to_have_count(1)
    _assert_accessible(dark.page, "dark scheme")

    phone = open_console(NARROW, is_mobile=True, has_touch=True)
    phone.connect(console_stack.token(user_id))
    expect(phone.card(ids["running"])).to_have_count(1)
    _assert_accessible(phone.page, "phone size")
    assert _no_horizontal_overflow(phone.page), "the console scrolls sideways on a phone"
    results_top = phone.page.locator("#results").bounding_box()["y"]
    form_top = phone.page.locator("#create-form").bounding_box()["y"]
    assert results_top < form_top, "on a phone the newest results come before the create form"
    phone.page.get_by_role("link", name="New task").click()
    expect(phone.page.get_by_label("Prompt")).to_be_focused()
    assert phone.log.unexpected() == []
    with console_stack.http(user_id) as client:
        client.post(f"/tasks/{ids['running']}/cancel")


def test_console_playground_offers_examples_and_copies_the_request_as_curl(open_console, console_stack, user_id):
    console = open_console(permissions=["clipboard-read", "clipboard-write"])
    page = console.page
    console.connect(console_stack.token(user_id), ws_url="")
    listing = console_stack.http(user_id).get("/models").json()["data"]
    expect(page.get_by_label("Model")).to_have_value(listing["default"])
    example = page.locator("#examples button").first
    prompt = example.inner_text()
    example.click()
    expect(page.get_by_label("Prompt")).to_have_value(prompt)
    expect(page.get_by_label("Prompt")).to_be_focused()
    page.get_by_label("Copies").fill("2")
    page.get_by_role("button", name="Copy as curl").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.locator("#curl-preview").text_content()
    assert '-H "Authorization: Bearer $VIDEOTASKS_TOKEN"' in copied
    assert console_stack.token(user_id) not in copied, "the real token never leaves the page"
    assert f"'{console_stack.api_url}/tasks/batch'" in copied
    body = json.loads(copied.rsplit("-d '", 1)[1].rstrip("'"))
    assert body["tasks"][0]["prompt"] == prompt and len(body["tasks"]) == 2
    assert body["tasks"][0]["model"] == listing["default"]
    assert console.log.unexpected() == []


def _save_picture(page: Page, path: Path) -> None:
    """A docs picture, written when missing or with UPDATE_SCREENSHOTS=1 (a test run leaves it alone)."""
    if path.exists() and not os.environ.get("UPDATE_SCREENSHOTS"):
        return
    page.evaluate("() => document.activeElement?.blur()")
    page.evaluate("() => document.querySelector('#notices').replaceChildren()")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)  # posters and first frames
    page.screenshot(path=path, animations="disabled")
