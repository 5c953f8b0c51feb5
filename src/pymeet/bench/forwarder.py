"""The bare forwarder: the yardstick the relay is measured against.

It does the least a relay can do on the same event loop (asyncio on uvloop, the same
socket buffers): read a datagram, look its ssrc up in a fixed room table, and send the
same bytes to every other member. No authentication, no replay window, no rate limit,
no crypto. Whatever the relay does beyond this is what the ratios in the bench table
price.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from multiprocessing.connection import Connection
from typing import Any, cast

from pymeet.bench.ipc import read_commands
from pymeet.server.relay import enlarge_buffers

SSRC = struct.Struct(">I")
Address = tuple[str, int]


class BareForwarder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.table: dict[int, tuple[Address, ...]] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.received = 0
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.received += 1
        targets = self.table.get(SSRC.unpack_from(data, 4)[0]) if len(data) >= 8 else None
        if not targets:
            return
        sendto = self.transport.sendto  # type: ignore[union-attr]
        for target in targets:
            sendto(data, target)
        self.sent += len(targets)

    def error_received(self, exc: Exception) -> None:
        pass


def serve(conn: Connection) -> None:
    """Process entry point: bind, report the port on ``conn``, then obey commands:
    ``("table", {ssrc: [[host, port], ...]})``, ``("stats",)``, ``("stop",)``."""
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    enlarge_buffers(sock)
    forwarder = BareForwarder()
    stop = loop.create_future()

    def command(message: Any) -> None:
        if message[0] == "table":
            forwarder.table = {
                int(ssrc): tuple((host, int(port)) for host, port in targets)
                for ssrc, targets in message[1].items()
            }
            conn.send(("ok",))
        elif message[0] == "stats":
            conn.send(("stats", {"received": forwarder.received, "sent": forwarder.sent}))
        elif not stop.done():
            stop.set_result(None)

    async def main() -> None:
        await loop.create_datagram_endpoint(lambda: forwarder, sock=sock)
        conn.send(("ready", sock.getsockname()[1]))
        read_commands(conn, loop, command, ("stop",))
        await stop
        if forwarder.transport is not None:
            forwarder.transport.close()

    with contextlib.suppress(KeyboardInterrupt):
        loop.run_until_complete(main())
    loop.close()
