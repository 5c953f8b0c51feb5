"""WebSocket sessions (PROTOCOL.md §5): first-class sessions whose JSON travels as text
messages and whose media travels unsealed as binary messages (docs/PROTOCOL.md).

Each connection has one writer task and three queues, served in priority order: JSON
(never dropped; too much unread closes the connection, as for TLS clients), audio
(bounded to one second, oldest dropped first) and video (only the newest frame per
sender waits). A slow browser therefore loses video before audio, and never holds up
the relay or anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
import time
from collections import deque

from aiohttp import WSMsgType, web

from pymeet.protocol.framing import MAX_FRAME_SIZE
from pymeet.protocol.messages import MsgType, event
from pymeet.server.config import ServerConfig
from pymeet.server.dispatch import MAX_CONSECUTIVE_GARBAGE, handle_payload
from pymeet.server.rate_limit import TokenBucket
from pymeet.server.read_deadline import ReadDeadline
from pymeet.server.relay import MediaRelay
from pymeet.server.service import MeetingService
from pymeet.server.sessions import Session

log = logging.getLogger(__name__)

WEB_MEDIA_HEADER = struct.Struct(">BIII")  # kind, ssrc, timestamp, seq or frame_id
AUDIO_QUEUE_FRAMES = 50  # one second of 20 ms frames


class WebSocketConnection:
    """One browser connection and its session. A sessions.Transport and a WebMediaSink."""

    def __init__(
        self, gateway: WebGateway, ws: web.WebSocketResponse, number: int, address: str
    ) -> None:
        self.gateway = gateway
        self.ws = ws
        self.closing = False
        self._json: deque[str] = deque()
        self._json_bytes = 0
        self._audio: deque[bytes] = deque()
        self._video: dict[int, bytes] = {}
        self._wake = asyncio.Event()
        self.audio_dropped = 0
        self.video_dropped = 0
        config = gateway.config
        self.session = Session(
            transport=self,
            number=number,
            address=address,
            requests=TokenBucket(config.request_rate, config.request_burst, time.monotonic()),
        )

    # -- Transport ---------------------------------------------------------------------

    @property
    def media_sink(self) -> WebSocketConnection:
        return self

    def send_payload(self, payload: bytes) -> None:
        if self.closing:
            return
        text = payload.decode("utf-8")
        self._json.append(text)
        self._json_bytes += len(payload)
        if self._json_bytes > self.gateway.config.max_output_buffer:
            log.warning("%s is not reading its messages; closing it", self.session.label)
            self.close()
            return
        self._wake.set()

    def send_media(self, packet: bytes) -> None:
        """Sealed media is for TLS clients; a browser's media goes through `audio`/`video`."""

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self._wake.set()

    # -- WebMediaSink --------------------------------------------------------------------

    def audio(self, ssrc: int, timestamp: int, seq: int, pcm: bytes) -> None:
        if self.closing:
            return
        if len(self._audio) >= AUDIO_QUEUE_FRAMES:
            self._audio.popleft()
            self.audio_dropped += 1
        self._audio.append(WEB_MEDIA_HEADER.pack(3, ssrc, timestamp, seq) + pcm)
        self._wake.set()

    def video(self, ssrc: int, timestamp: int, frame_id: int, jpeg: bytes) -> None:
        if self.closing:
            return
        if ssrc in self._video:
            self.video_dropped += 1
        self._video[ssrc] = WEB_MEDIA_HEADER.pack(4, ssrc, timestamp, frame_id) + jpeg
        self._wake.set()

    # -- the writer ------------------------------------------------------------------------

    async def write_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while not self.closing:
                    if self._json:
                        text = self._json.popleft()
                        self._json_bytes -= len(text.encode("utf-8"))
                        await ws.send_str(text)
                    elif self._audio:
                        await ws.send_bytes(self._audio.popleft())
                    elif self._video:
                        ssrc = next(iter(self._video))
                        await ws.send_bytes(self._video.pop(ssrc))
                    else:
                        break
                if self.closing:
                    while self._json:  # a session.closed or a last reply still goes out
                        await ws.send_str(self._json.popleft())
                    return
        except (ConnectionError, RuntimeError) as exc:
            log.debug("%s write failed: %s", self.session.label, exc.__class__.__name__)
        finally:
            self.closing = True
            with contextlib.suppress(Exception):
                await ws.close()

    # -- the reader ------------------------------------------------------------------------

    async def read_loop(self) -> None:
        gateway, session = self.gateway, self.session
        loop = asyncio.get_running_loop()
        deadline = ReadDeadline(session, gateway.config, loop.time())
        garbage = 0
        while not self.closing:
            try:
                message = await self.ws.receive(timeout=deadline.remaining(loop.time()))
            except TimeoutError:
                log.info("%s timed out (%s)", session.label, deadline.reason())
                return
            if message.type == WSMsgType.TEXT:
                well_formed = await handle_payload(
                    gateway.service, session, message.data.encode("utf-8")
                )
                garbage = 0 if well_formed else garbage + 1
                if garbage >= MAX_CONSECUTIVE_GARBAGE:
                    log.info("%s keeps sending garbage; closing it", session.label)
                    return
            elif message.type == WSMsgType.BINARY:
                self._media_in(message.data)
            else:  # CLOSE, CLOSING, CLOSED, ERROR
                return

    def _media_in(self, data: bytes) -> None:
        peer = self.session.media
        if peer is None or len(data) < WEB_MEDIA_HEADER.size:
            self.gateway.relay.dropped["unauthenticated" if peer is None else "truncated"] += 1
            return
        kind, _, timestamp, _ = WEB_MEDIA_HEADER.unpack_from(data)
        self.gateway.relay.web_media_received(peer, kind, timestamp, data[WEB_MEDIA_HEADER.size :])


class WebGateway:
    """Serves `GET /ws`: one WebSocketConnection per browser."""

    def __init__(self, config: ServerConfig, service: MeetingService, relay: MediaRelay) -> None:
        self.config = config
        self.service = service
        self.relay = relay
        self.connections: set[WebSocketConnection] = set()
        self.stopping = False
        self._numbers = itertools.count(1_000_000)  # distinct from TLS connection numbers

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.stopping or self.service.open_connections() >= self.config.max_connections:
            raise web.HTTPServiceUnavailable(text="the server is at its connection limit")
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_SIZE, heartbeat=30.0, compress=False)
        await ws.prepare(request)
        connection = WebSocketConnection(self, ws, next(self._numbers), request.remote or "?")
        self.connections.add(connection)
        log.debug("websocket #%d from %s", connection.session.number, request.remote)
        writer = asyncio.create_task(connection.write_loop())
        try:
            await connection.read_loop()
        except (ConnectionError, RuntimeError) as exc:
            log.debug("%s read failed: %s", connection.session.label, exc.__class__.__name__)
        finally:
            session = connection.session
            self.service.end_session(
                session, session.closing_reason or ("shutdown" if self.stopping else "disconnected")
            )
            connection.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 2.0)
            self.connections.discard(connection)
        return ws

    async def stop(self) -> None:
        self.stopping = True
        closing = event(MsgType.SESSION_CLOSED, reason="shutdown")
        for connection in list(self.connections):
            connection.session.closing_reason = "shutdown"
            connection.session.send(closing)
            connection.close()
