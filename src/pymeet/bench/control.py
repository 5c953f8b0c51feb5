"""A minimal raw control client for the bench: TLS 1.3, length-prefixed JSON (§1–§2).

The bench logs in hundreds of participants, so it skips the client library's
reconnection and event machinery: one reader task per connection resolves replies by
id and discards events (`lobby.update`, member events) and tunnelled media. The server
certificate is pinned to the fingerprint the server printed on its ready line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import ssl
import struct
from typing import Any

LENGTH = struct.Struct(">I")
MAX_FRAME = 1_048_576
CLIENT_NAME = "pymeet-bench"


class BenchError(Exception):
    """Something the bench needs failed (a refused request, a lost connection)."""


def client_context() -> ssl.SSLContext:
    """TLS 1.3 only; the certificate is checked by fingerprint after the handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
    return context


class ControlClient:
    """One control connection. `request` returns the ok reply or raises `BenchError`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        self.closed = False

    @classmethod
    async def open(
        cls, host: str, port: int, fingerprint: str | None, *, context: ssl.SSLContext
    ) -> ControlClient:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=context, ssl_handshake_timeout=30
        )
        if fingerprint:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            if hashlib.sha256(der).hexdigest() != fingerprint:
                writer.close()
                raise BenchError("the server's certificate does not match its fingerprint")
        client = cls(reader, writer)
        await client.request("hello", client=CLIENT_NAME, protocol=1)
        return client

    async def request(self, kind: str, /, *, timeout: float = 60.0, **fields: Any) -> Any:
        if self.closed:
            raise BenchError(f"{kind}: the connection is closed")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        payload = json.dumps({"type": kind, "id": request_id, **fields}).encode()
        self._writer.write(LENGTH.pack(len(payload)) + payload)
        try:
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(request_id, None)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise BenchError(f"{kind} refused: {error.get('code')}: {error.get('message')}")
        return reply

    async def close(self) -> None:
        self.closed = True
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 2)
        self._task.cancel()
        await asyncio.wait([self._task])

    async def _read_loop(self) -> None:
        try:
            while True:
                (size,) = LENGTH.unpack(await self._reader.readexactly(LENGTH.size))
                if not 1 <= size <= MAX_FRAME:
                    break
                payload = await self._reader.readexactly(size)
                if payload[:1] == b"\x00":
                    continue  # tunnelled media: not used by the bench
                if b'"reply"' not in payload:
                    continue  # an event: the bench has no use for them
                message = json.loads(payload)
                future = self._waiting.get(message.get("id"))
                if future is not None and not future.done():
                    future.set_result(message)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            self.closed = True
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(BenchError("the control connection closed"))
