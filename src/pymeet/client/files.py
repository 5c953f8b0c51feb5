"""File sharing for Python clients (PROTOCOL.md §3.4): streamed upload and download over
HTTP(S) on the server's web port, with the session's bearer token.

Nothing is held whole in memory. A download is written to a temporary file beside its
destination, checked against the file's SHA-256, and only then moved into place.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymeet.client.errors import ClientError

if TYPE_CHECKING:
    import aiohttp

    from pymeet.client.meeting_client import MeetingClient

CHUNK_SIZE = 64 * 1024
Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as a transfer goes."""


class FileTransferError(ClientError):
    """An upload or download failed; ``status`` is the HTTP status and ``error_code`` the
    server's error code, when there were ones."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = code


class FileIntegrityError(FileTransferError):
    """The downloaded bytes do not have the SHA-256 the server announced."""


def web_base(client: MeetingClient) -> tuple[str, Any]:
    """The web port's base URL and the `ssl` argument for aiohttp: over HTTPS the
    certificate must be the one pinned for the control connection (same key pair)."""
    import aiohttp

    web = (client.server_info or {}).get("web")
    if not isinstance(web, dict) or not isinstance(web.get("port"), int):
        raise FileTransferError("this server does not say where its web port is")
    host = client.host if ":" not in client.host else f"[{client.host}]"
    if web.get("tls"):
        fingerprint = client.fingerprint
        if fingerprint is None:
            raise FileTransferError("the server's certificate is not pinned")
        return f"https://{host}:{web['port']}", aiohttp.Fingerprint(bytes.fromhex(fingerprint))
    return f"http://{host}:{web['port']}", None


def _auth(client: MeetingClient) -> dict[str, str]:
    if not client.session_token:
        raise FileTransferError("log in first")
    return {"Authorization": f"Bearer {client.session_token}"}


async def _fail(response: aiohttp.ClientResponse, action: str) -> FileTransferError:
    try:
        error = (await response.json()).get("error", {})
    except Exception:
        error = {}
    message = error.get("message") or response.reason or "failed"
    return FileTransferError(f"{action} failed: {message}", response.status, error.get("code"))


async def upload_file(client: MeetingClient, path: str | Path, *, room: str | None = None,
                      to: str | None = None, name: str | None = None,
                      progress: Progress | None = None) -> dict[str, Any]:
    """Share the file at ``path`` with a room or one user; returns its `FileInfo`."""
    import aiohttp

    if (room is None) == (to is None):
        raise ValueError("give either room or to")
    source = Path(path)
    size = (await asyncio.to_thread(source.stat)).st_size
    base, ssl = web_base(client)
    headers = {**_auth(client), "X-Filename": urllib.parse.quote(name or source.name),
               "Content-Length": str(size), "Content-Type": "application/octet-stream"}
    loop = asyncio.get_running_loop()

    async def body() -> AsyncIterator[bytes]:
        done = 0
        handle = await asyncio.to_thread(source.open, "rb")
        with handle:
            while chunk := await loop.run_in_executor(None, handle.read, CHUNK_SIZE):
                done += len(chunk)
                yield chunk
                if progress is not None:
                    progress(done, size)

    params = {"room": room} if room is not None else {"to": to or ""}
    try:
        async with aiohttp.ClientSession() as http, http.post(
            f"{base}/files", params=params, data=body(), headers=headers, ssl=ssl
        ) as response:
            if response.status != 201:
                raise await _fail(response, "upload")
            info: dict[str, Any] = (await response.json())["file"]
            return info
    except aiohttp.ClientError as exc:
        raise FileTransferError(f"upload failed: {exc}") from None


async def download_file(client: MeetingClient, info: dict[str, Any], destination: str | Path,
                        *, progress: Progress | None = None) -> Path:
    """Fetch a shared file into ``destination`` (a directory takes the file's own name),
    verify its SHA-256, and return the path written. Raises `FileIntegrityError` on a
    mismatch, leaving nothing behind."""
    import aiohttp

    target = Path(destination)
    if await asyncio.to_thread(target.is_dir):
        target = target / Path(str(info["name"])).name
    base, ssl = web_base(client)
    partial = target.with_name(f".{target.name}.part")
    digest = hashlib.sha256()
    loop = asyncio.get_running_loop()
    try:
        async with aiohttp.ClientSession() as http, http.get(
            f"{base}/files/{urllib.parse.quote(str(info['id']))}", headers=_auth(client),
            ssl=ssl,
        ) as response:
            if response.status != 200:
                raise await _fail(response, "download")
            total = response.content_length or int(info.get("size", 0))
            done = 0
            handle = await asyncio.to_thread(partial.open, "wb")
            with handle:
                async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                    digest.update(chunk)
                    await loop.run_in_executor(None, handle.write, chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        if digest.hexdigest() != info.get("sha256"):
            raise FileIntegrityError(
                f"{info['name']} arrived damaged: its SHA-256 does not match", 200, "corrupt")
        os.replace(partial, target)
        return target
    except aiohttp.ClientError as exc:
        raise FileTransferError(f"download failed: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
