"""Browser fixtures: Debian's Chromium driven by Playwright, with a fake camera and mic,
and the Python users (`MeetingClient`) who meet the browser's user."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from pymeet.client import MeetingClient
from tests.support.browser import (
    PASSWORD,
    VIEWPORT,
    BrowserUser,
    EventLog,
    PythonUser,
    WebUser,
    launch_chromium,
    ms,
    static_server,
    unique,
)
from tests.support.secrets_registry import record_session_token
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout

# Assertions on the page wait as long as other waits do, scaled (STYLE.md habit 10).
expect.set_options(timeout=ms(10))


@pytest.fixture(scope="session")
def static_url() -> Iterator[str]:
    """The client's static files over HTTP on 127.0.0.1 (no PyMeet server needed)."""
    with static_server() as url:
        yield url


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for one test."""
    async with async_playwright() as playwright:
        chromium = await launch_chromium(playwright)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def unit_page(static_url: str) -> AsyncIterator[Page]:
    """A blank page on the static server, shared by a module's unit tests: they import
    the client's pure modules with `import()` inside `page.evaluate`."""
    async with async_playwright() as playwright:
        chromium = await launch_chromium(playwright)
        try:
            page = await chromium.new_page(viewport=VIEWPORT)
            await page.goto(f"{static_url}/blank.html")
            yield page
        finally:
            await chromium.close()


@pytest.fixture(autouse=True)
def pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The Python client pins certificates into the test's own file, never into $HOME."""
    path = tmp_path / "known_servers.json"
    monkeypatch.setenv("PYMEET_KNOWN_SERVERS", str(path))
    return path


@pytest.fixture
async def python_user() -> AsyncIterator[PythonUser]:
    """Log in fresh Python users; all closed at teardown."""
    clients: list[MeetingClient] = []

    async def make(server: ServerProcess) -> tuple[MeetingClient, EventLog]:
        name = unique("py_")
        async with asyncio.timeout(timeout(20)):
            client = await MeetingClient.connect(server.host, server.port,
                                                 fingerprint=server.fingerprint)
            clients.append(client)
            log = EventLog(client)
            await client.register(name, f"{name}@example.org", PASSWORD)
            await client.login(name, PASSWORD)
        return client, log

    yield make
    for client in clients:
        record_session_token(client.session_token)
        await client.close()


@pytest.fixture
async def web_user(browser: Browser) -> AsyncIterator[WebUser]:
    """Open the web app in a fresh browser context (its own storage and devices)."""
    users: list[BrowserUser] = []

    async def make(server: ServerProcess, *, init_script: str | None = None) -> BrowserUser:
        assert server.web_port, "the server did not report a web= port"
        context = await browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        if init_script:
            await context.add_init_script(init_script)
        page = await context.new_page()
        user = BrowserUser(page, f"http://127.0.0.1:{server.web_port}")
        users.append(user)
        await user.open()
        return user

    yield make
    for user in users:
        with contextlib.suppress(Exception):
            token = await user.page.evaluate("() => window.pymeet.session.sessionToken")
            record_session_token(token)
        with contextlib.suppress(Exception):
            await user.page.context.close()
    problems = [p for user in users for p in user.problems if "WebSocket" not in p]
    assert not problems, problems
