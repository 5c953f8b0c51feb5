"""The aiohttp application on the web port: static browser client and `/ws`."""

from __future__ import annotations

import ssl
from pathlib import Path

from aiohttp import web

from pymeet.server.web.files import FileService
from pymeet.server.web.gateway import WebGateway

STATIC_DIR = Path(__file__).parent / "static"

# The client is entirely same-origin: nothing loads from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "connect-src 'self' ws: wss:; worker-src 'self' blob:; style-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}


@web.middleware
async def security_headers(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
    return response


async def index(request: web.Request) -> web.StreamResponse:
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        raise web.HTTPNotFound(text="the browser client is not installed")
    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})


def make_app(gateway: WebGateway, files: FileService) -> web.Application:
    app = web.Application(middlewares=[security_headers], client_max_size=1024 * 1024)
    app.router.add_get("/", index)
    app.router.add_get("/ws", gateway.handle)
    app.router.add_post("/files", files.upload)
    app.router.add_get("/files/{file_id}", files.download)
    if STATIC_DIR.is_dir():
        app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
    return app


async def start_web(
    gateway: WebGateway,
    files: FileService,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
) -> tuple[web.AppRunner, tuple[str, int]]:
    """Start serving; returns the runner (to clean up) and the bound address."""
    runner = web.AppRunner(make_app(gateway, files), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, backlog=256)
    await site.start()
    address = runner.addresses[0]
    return runner, (str(address[0]), int(address[1]))
