"""Driving the PyMeet browser client with Playwright and Debian's Chromium (TESTING.md).

- `launch_chromium` starts /usr/bin/chromium headless with a fake camera and microphone
  (never `playwright install`: the machine has no internet).
- `StaticServer` serves the client's static files on 127.0.0.1 for unit tests of its
  pure modules, without a PyMeet server.
- `BrowserUser` is a person using the web app: it finds things by their labels and roles,
  types and clicks, and reads what the page shows.
- `EventLog` keeps what a Python `MeetingClient` (the other person in a meeting) hears;
  `eventually` waits, bounded, for a condition owned by other tasks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import http.server
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    expect,
)

from pymeet.client import MeetingClient
from tests.support.secrets_registry import record_password
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = REPO_ROOT / "src" / "pymeet" / "server" / "web" / "static"
SCREENSHOT_DIR = REPO_ROOT / "artifacts" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
Event = dict[str, Any]


def ms(seconds: float) -> float:
    """A scaled timeout in milliseconds, as Playwright wants it."""
    return timeout(seconds) * 1000


async def launch_chromium(playwright: Playwright, extra_args: Sequence[str] = ()) -> Browser:
    """Debian's Chromium, headless, with a fake camera (320×240) and microphone (beeps)."""
    return await playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], timeout=ms(30))


# -- static files for unit tests ---------------------------------------------------------------

BLANK_PAGE = b"<!doctype html><html lang=en><meta charset=utf-8><title>units</title></html>"


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    """/static/<file> from the client's folder, /blank.html an empty page, nothing else."""

    TYPES: ClassVar[dict[str, str]] = {".js": "text/javascript", ".css": "text/css"}

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        # Module scripts need a JavaScript type, whatever the system's mime.types says.
        return self.TYPES.get(Path(path).suffix, None) or super().guess_type(path)

    def do_GET(self) -> None:
        if self.path == "/blank.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(BLANK_PAGE)))
            self.end_headers()
            self.wfile.write(BLANK_PAGE)
            return
        if not self.path.startswith("/static/"):
            self.send_error(404)
            return
        self.path = self.path[len("/static"):]
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def static_server() -> Iterator[str]:
    """Serve the client's static files on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_StaticHandler, directory=str(STATIC_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-files", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout(5))


# -- a person using the web app -------------------------------------------------------------------


class BrowserUser:
    """One person in one browser page of the PyMeet web app."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.username = ""
        self.problems: list[str] = []
        self.expected_problems: list[str] = []
        page.set_default_timeout(ms(15))
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(
                expected in message.text for expected in self.expected_problems):
            self.problems.append(f"console error: {message.text}")

    def expect_problem(self, text: str) -> None:
        """A console error containing ``text`` is expected from here on (a refused request)."""
        self.expected_problems.append(text)

    async def open(self) -> None:
        """Load the app and wait until it has reached the server."""
        await self.page.goto(f"{self.base_url}/")
        await self.expect_connection("Connected")

    async def expect_connection(self, label: str, seconds: float = 15) -> None:
        await expect(self.page.locator("#connection")).to_contain_text(label, timeout=ms(seconds))

    async def register(self, username: str, email: str, password: str) -> None:
        """Create an account (which also signs in) and wait for the lobby."""
        await self.page.get_by_role("tab", name="Create account").click()
        form = self.page.locator("#register-form")
        await form.get_by_label("Username", exact=True).fill(username)
        await form.get_by_label("Email").fill(email)
        await form.get_by_label("Password", exact=True).fill(password)
        await form.get_by_role("button", name="Create account").click()
        self.username = username
        await self.expect_lobby()

    async def register_new(self, prefix: str = "alice_") -> str:
        """Create a fresh account (`PASSWORD`, an example.org email); returns its name."""
        name = unique(prefix)
        await self.register(name, f"{name}@example.org", PASSWORD)
        return name

    async def login(self, identifier: str, password: str) -> None:
        form = self.page.locator("#login-form")
        await form.get_by_label("Username or email").fill(identifier)
        await form.get_by_label("Password", exact=True).fill(password)
        await form.get_by_role("button", name="Sign in").click()
        await self.expect_lobby()
        self.username = await self.page.locator("#account-name").inner_text()

    async def expect_lobby(self) -> None:
        await expect(self.page.get_by_role("heading", name="Rooms")).to_be_visible()

    async def create_room(self, name: str, password: str | None = None) -> None:
        """Create a room; the app then joins it."""
        form = self.page.locator("#create-room-form")
        await form.get_by_label("Room name").fill(name)
        if password:
            await form.get_by_label("Password").fill(password)
        await form.get_by_role("button", name="Create room").click()
        await self.expect_in_room(name)

    async def expect_in_room(self, name: str) -> None:
        await expect(self.page.locator("#room-title")).to_have_text(name)

    async def room_card(self, name: str) -> Locator:
        return self.page.locator("#room-list li", has=self.page.get_by_text(name, exact=True))

    async def leave_room(self) -> None:
        await self.page.get_by_role("button", name="Leave").click()
        await self.expect_lobby()

    def tile(self, username: str) -> Locator:
        return self.page.locator(f'#video-grid .tile[data-username="{username}"]')

    def person(self, username: str) -> Locator:
        return self.page.locator(f'#people-list li[data-username="{username}"]')

    async def send_chat(self, text: str) -> None:
        """Type into the chat box of the open conversation and press Enter."""
        box = self.page.locator("#chat-input")
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("")

    def message(self, text: str) -> Locator:
        return self.page.locator("#chat-messages .message-text", has_text=text)

    def chat_tab(self, title: str) -> Locator:
        return self.page.locator("#chat-tabs .chat-tab", has_text=title)

    async def open_dm(self, username: str) -> None:
        await self.person(username).get_by_role("button", name=f"Message {username}").click()
        await expect(self.chat_tab(username)).to_have_attribute("aria-selected", "true")

    async def turn_on(self, device: str) -> None:
        """``device`` is "Microphone" or "Camera"."""
        await self.page.get_by_role("button", name=f"{device} off").click()
        await expect(self.page.get_by_role("button", name=f"{device} on")).to_be_visible()

    def file_card(self, name: str) -> Locator:
        """The card of a shared file in the open conversation."""
        return self.page.locator("#chat-messages li.file", has=self.page.locator(
            ".file-name", has_text=name))

    async def participants(self) -> list[str]:
        """The usernames in the room's participant list, top to bottom."""
        names: list[str] = await self.page.locator("#participants-list > li").evaluate_all(
            "items => items.map(item => item.dataset.username)")
        return names

    async def timeline(self) -> list[str]:
        """The open conversation, top to bottom: "message:<text>" or "file:<name>"."""
        rows = self.page.locator("#chat-messages > li:not(.day-divider)")
        items: list[str] = await rows.evaluate_all(
            """items => items.map(item => item.classList.contains('file')
                 ? 'file:' + item.querySelector('.file-name').textContent
                 : 'message:' + item.querySelector('.message-text').textContent)""")
        return items

    async def media_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self.page.evaluate("() => ({...window.pymeet.media.stats})")
        return stats

    async def tile_image(self, username: str) -> np.ndarray[Any, Any]:
        """What the tile's canvas shows, as a BGR image (decoded from a PNG of its pixels)."""
        import cv2

        data_url: str = await self.tile(username).locator("canvas").evaluate(
            "canvas => canvas.toDataURL('image/png')")
        png = base64.b64decode(data_url.split(",", 1)[1])
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None, "the tile's canvas did not export as a PNG"
        return image

    async def screenshot(self, name: str, *, clear_toasts: bool = False) -> Path:
        """Save a screenshot of the whole page under artifacts/screenshots/ (without the
        passing notifications if ``clear_toasts``, so the page itself shows)."""
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        if clear_toasts:
            await self.page.evaluate("() => document.getElementById('toasts').replaceChildren()")
        path = SCREENSHOT_DIR / name
        await self.page.screenshot(path=str(path))
        print(f"screenshot saved: {path}")
        return path


# -- the other people: Python clients -----------------------------------------------------------

PASSWORD = "correct horse battery"
# The end-of-run check (tests/conftest.py) makes sure no server logged it.
record_password(PASSWORD)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def eventually(condition: Callable[[], Any], seconds: float, what: str) -> None:
    """Wait until ``condition()`` is true, polling; fail with ``what`` otherwise."""
    import pytest

    try:
        async with asyncio.timeout(timeout(seconds)):
            while not condition():  # noqa: ASYNC110 - polling state owned by other tasks
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


class EventLog:
    """Every event a `MeetingClient` receives, kept for the test to wait on."""

    def __init__(self, client: MeetingClient) -> None:
        self.events: list[Event] = []
        client.on("*", self.events.append)

    def find(self, kind: str, predicate: Callable[[Event], bool] = lambda e: True) -> Event | None:
        return next((e for e in self.events if e["type"] == kind and predicate(e)), None)

    async def wait_for(self, kind: str, predicate: Callable[[Event], bool] = lambda e: True,
                       seconds: float = 10) -> Event:
        await eventually(lambda: self.find(kind, predicate), seconds, f"a {kind} event")
        event = self.find(kind, predicate)
        assert event is not None
        return event


PythonUser = Callable[[ServerProcess], Awaitable[tuple[MeetingClient, EventLog]]]
"""The `python_user` fixture: a fresh registered and logged-in `MeetingClient`."""
WebUser = Callable[..., Awaitable[BrowserUser]]
"""The `web_user` fixture: the web app open in a fresh browser context."""
