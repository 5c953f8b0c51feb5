"""The control channel (PROTOCOL.md §1–§3): TLS 1.3 connections, framing, and one
session per connection. Requests of one connection are served one at a time, in order;
a slow or hostile connection only ever delays itself."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import time
from asyncio import sslproto
from collections.abc import Callable

from pymeet.protocol.errors import FrameTooLarge, ProtocolError
from pymeet.protocol.framing import LENGTH_PREFIX, FrameDecoder, encode_media_frame
from pymeet.protocol.messages import MsgType, event, reply_error
from pymeet.server.config import ServerConfig
from pymeet.server.dispatch import MAX_CONSECUTIVE_GARBAGE, handle_payload
from pymeet.server.rate_limit import TokenBucket
from pymeet.server.read_deadline import ReadDeadline
from pymeet.server.service import MeetingService
from pymeet.server.sessions import Session

log = logging.getLogger(__name__)

READ_SIZE = 65536
CLOSE_GRACE = 2.0

MediaHandler = Callable[[Session, bytes], None]


class ControlConnection:
    """One TLS connection and its session. Implements the sessions.Transport protocol."""

    def __init__(
        self,
        server: ControlServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
        address: str,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.closing = False
        config = server.config
        self.session = Session(
            transport=self,
            number=number,
            address=address,
            requests=TokenBucket(config.request_rate, config.request_burst, time.monotonic()),
        )

    # -- Transport ---------------------------------------------------------------------

    media_sink = None  # media to a TLS client is sealed, over UDP or the tunnel

    def send_payload(self, payload: bytes) -> None:
        self._write(LENGTH_PREFIX.pack(len(payload)) + payload)

    def send_media(self, packet: bytes) -> None:
        self._write(encode_media_frame(packet))

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self.writer.close()

    def _write(self, data: bytes) -> None:
        if self.closing:
            return
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > self.server.config.max_output_buffer:
            # The peer does not read: drop it rather than let it hold server memory.
            log.warning("%s is not reading its messages; closing it", self.session.label)
            self.closing = True
            self.writer.transport.abort()

    # -- reading -----------------------------------------------------------------------

    async def _read(self, deadline: ReadDeadline) -> bytes:
        async with asyncio.timeout(deadline.remaining(asyncio.get_running_loop().time())):
            return await self.reader.read(READ_SIZE)

    async def run(self) -> None:
        session = self.session
        decoder = FrameDecoder()
        garbage = 0
        deadline = ReadDeadline(session, self.server.config, asyncio.get_running_loop().time())
        try:
            while not self.closing:
                try:
                    data = await self._read(deadline)
                except TimeoutError:
                    log.info("%s timed out (%s)", session.label, deadline.reason())
                    break
                if not data:
                    break
                decoder.receive_data(data)
                while not self.closing:
                    try:
                        payload = decoder.next_frame()
                    except FrameTooLarge as exc:
                        session.send(reply_error(None, exc))
                        log.info("%s sent an oversize frame", session.label)
                        return
                    except ProtocolError as exc:
                        session.send(reply_error(None, exc))
                        garbage += 1
                    else:
                        if payload is None:
                            break
                        if payload[0] == 0:
                            self.server.media_in(session, payload[1:])
                            continue
                        well_formed = await handle_payload(self.server.service, session, payload)
                        garbage = 0 if well_formed else garbage + 1
                    if garbage >= MAX_CONSECUTIVE_GARBAGE:
                        log.info("%s keeps sending garbage; closing it", session.label)
                        return
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            log.debug("%s connection error: %s", session.label, exc.__class__.__name__)
        finally:
            self.server.service.end_session(
                session,
                session.closing_reason or ("shutdown" if self.server.stopping else "disconnected"),
            )
            self.close()
            # Queued output (a last reply, session.closed) gets a grace period to drain;
            # a peer that never reads it does not keep the connection alive.
            asyncio.get_running_loop().call_later(CLOSE_GRACE, self.writer.transport.abort)


class ControlServer:
    """Accepts TCP connections, upgrades them to TLS 1.3, and runs one session each."""

    def __init__(
        self, config: ServerConfig, service: MeetingService, ssl_context: ssl.SSLContext
    ) -> None:
        self.config = config
        self.service = service
        self.ssl_context = ssl_context
        self.connections: set[ControlConnection] = set()
        self.stopping = False
        self.media_in: MediaHandler = lambda session, packet: None
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> tuple[str, int]:
        # TLS wraps the socket from its first byte (upgrading a plain stream later
        # races: a ClientHello read before the upgrade would be lost). The TLS layer is
        # CPython's own SSLProtocol over the loop's TCP transport, whatever the loop:
        # uvloop's built-in TLS keeps ~12 KB per connection served (measured here over
        # 1,400 connections; MagicStack/uvloop#565), CPython's keeps none.
        loop = asyncio.get_running_loop()

        def tls_stream() -> asyncio.BaseProtocol:
            reader = asyncio.StreamReader(limit=READ_SIZE)
            streams = asyncio.StreamReaderProtocol(reader, self._accept)
            return sslproto.SSLProtocol(
                loop, streams, self.ssl_context, None, server_side=True,
                ssl_handshake_timeout=self.config.handshake_timeout,
            )

        self._server = await loop.create_server(
            tls_stream, self.config.host, self.config.port, backlog=512
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        number = next(self._numbers)
        if self.stopping or self.service.open_connections() >= self.config.max_connections:
            log.warning(
                "refusing connection #%d from %s: %d connections open",
                number,
                peer[0],
                self.service.open_connections(),
            )
            writer.transport.abort()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = ControlConnection(self, reader, writer, number, str(peer[0]))
        self.connections.add(connection)
        log.debug("connection #%d from %s", number, peer[0])
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)

    async def stop(self) -> None:
        """Tell every session the server is going away, then close everything."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        closing = event(MsgType.SESSION_CLOSED, reason="shutdown")
        for connection in list(self.connections):
            connection.session.closing_reason = "shutdown"
            connection.session.send(closing)
            connection.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=CLOSE_GRACE)
        # Peers that do not answer the TLS close in time are cut off.
        for connection in list(self.connections):
            connection.writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=CLOSE_GRACE)
