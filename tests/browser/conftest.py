"""Browser fixtures: Debian's Chromium driven by Playwright, with a fake camera and mic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.support.browser import VIEWPORT, launch_chromium, static_server


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
