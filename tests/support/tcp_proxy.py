"""A small asyncio TCP proxy for tests: a network path that can fail the way real ones do.

It listens on 127.0.0.1 (port 0) and pipes every accepted connection to ``target``,
byte for byte; TLS passes through untouched. Then a test can break the path:

- `blackhole`: from now on nothing passes in either direction, and nothing is closed:
  no FIN, no RST. To the server the client has vanished, as when a laptop sleeps or a
  cable is pulled; only a timeout can notice.
- `reset`: every connection is aborted at once (RST to both ends).

``counters`` says what passed: ``connections``, ``up_bytes`` (client to server) and
``down_bytes``. Use it as ``async with TcpProxy(target) as proxy:``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from types import TracebackType

Address = tuple[str, int]
CHUNK = 65536


class TcpProxy:
    """Client <-> ``target``, with failure switches (see the module docstring)."""

    def __init__(self, target: Address, host: str = "127.0.0.1") -> None:
        self.target = target
        self.host = host
        self.port = 0
        self.counters: Counter[str] = Counter()
        self.blackholed = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> Address:
        return (self.host, self.port)

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def blackhole(self) -> None:
        """Stop forwarding both ways, silently, and keep every socket open."""
        self.blackholed = True

    def reset(self) -> None:
        """Abort every connection (RST both ways)."""
        for writer in self._writers:
            writer.transport.abort()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.counters["connections"] += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers += [client_writer, server_writer]
        pipes = [
            asyncio.create_task(self._pipe(client_reader, server_writer, "up_bytes")),
            asyncio.create_task(self._pipe(server_reader, client_writer, "down_bytes")),
        ]
        self._tasks.update(pipes)
        for pipe in pipes:
            pipe.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: str
    ) -> None:
        try:
            while not self.blackholed:
                data = await reader.read(CHUNK)
                if self.blackholed:
                    break  # swallowed: it was in flight when the cable was pulled
                if not data:  # a clean half-close passes through as one
                    if writer.can_write_eof():
                        writer.write_eof()
                    else:
                        writer.close()
                    return
                self.counters[counter] += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            writer.transport.abort()
            return
        # Blackholed: read nothing more and close nothing. The peer's writes pile up in
        # the kernel buffers until they fill, exactly as on a dead path.
        await asyncio.Event().wait()
