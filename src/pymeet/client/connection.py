"""One TLS 1.3 control connection to a PyMeet server (PROTOCOL.md §1, §2, §4.6).

`ControlConnection.open` connects, completes the TLS 1.3 handshake and checks the
server's certificate fingerprint with a `ServerTrust` before any byte of the protocol
is sent. The connection then:

- sends requests with increasing ids and resolves each with its reply
  (`request` returns the reply object, or raises `RequestError` for ok=false,
  `RequestTimeout`, or `ConnectionClosed`);
- hands every event (a JSON object without an id) to ``on_event``;
- hands every tunnelled media payload (first byte 0x00, §4.6) to ``on_media_packet``;
- fails every pending request with `ConnectionClosed` and calls ``on_close`` exactly
  once when it ends, for whatever reason.

Callbacks run inside the reader task and must not block; they must not raise either
(an exception is logged and ignored, the connection survives it).

Certificate checking is deliberately not done by `ssl`: the server's certificate is
self-signed, so the context accepts any certificate (``CERT_NONE``) and the pin is
checked right after the handshake instead (trust on first use).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymeet.client.errors import ConnectionClosed, RequestTimeout
from pymeet.client.known_servers import certificate_fingerprint, host_port_key
from pymeet.client.trust import ServerTrust
from pymeet.protocol.errors import FrameTooLarge, ProtocolError, RequestError
from pymeet.protocol.framing import FrameDecoder, encode_media_frame, is_media_payload
from pymeet.protocol.messages import MAX_REQUEST_ID, MsgType, frame, parse_server_message

__all__ = ["ControlConnection", "make_client_ssl_context"]

logger = logging.getLogger(__name__)

READ_CHUNK = 65536
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_REQUEST_TIMEOUT = 15.0
MEDIA_BACKLOG_LIMIT = 256 * 1024
"""Bytes queued for sending above which tunnelled media packets are dropped."""

EventHandler = Callable[[dict[str, Any]], None]
MediaHandler = Callable[[bytes], None]
CloseHandler = Callable[[BaseException | None], None]
ReplyHook = Callable[[dict[str, Any]], None]


def make_client_ssl_context() -> ssl.SSLContext:
    """A client context that speaks TLS 1.3 only and leaves identity to the pin."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class _Pending:
    future: asyncio.Future[dict[str, Any]]
    kind: str
    on_ok: ReplyHook | None


class ControlConnection:
    """A live control connection; build it with `ControlConnection.open`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        host_port: str,
        fingerprint: str,
        on_event: EventHandler | None = None,
        on_media_packet: MediaHandler | None = None,
        on_close: CloseHandler | None = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.host_port = host_port
        self.fingerprint = fingerprint
        self.on_event = on_event
        self.on_media_packet = on_media_packet
        self.on_close = on_close
        self.request_timeout = request_timeout
        self._decoder = FrameDecoder()
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1
        self._closed = False
        self._close_reason: BaseException | None = None
        self._closed_event = asyncio.Event()
        self._reader_task: asyncio.Task[None] | None = None
        self.media_dropped = 0
        """Tunnelled media packets dropped because the connection was backlogged."""

    # -- opening ----------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        trust: ServerTrust,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        **kwargs: Any,
    ) -> ControlConnection:
        """Connect, handshake (TLS 1.3) and verify the server's fingerprint.

        Raises `ConnectionClosed` when the server cannot be reached or the handshake
        fails, and a `TrustError` when the certificate is not accepted (the socket is
        closed before any protocol byte is sent). The reader starts only once trusted.
        """
        host_port = host_port_key(host, port)
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=make_client_ssl_context(),
                    server_hostname=host, ssl_handshake_timeout=connect_timeout,
                )
        except TimeoutError:
            raise ConnectionClosed(f"connecting to {host_port} timed out") from None
        except ssl.SSLError as exc:
            raise ConnectionClosed(
                f"TLS handshake with {host_port} failed: {exc.reason or exc}") from None
        except OSError as exc:
            # A peer that refuses our TLS 1.3-only hello just drops the connection.
            detail = exc.strerror or "the connection was closed during the TLS 1.3 handshake"
            raise ConnectionClosed(f"cannot connect to {host_port}: {detail}") from None
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            if not der:
                raise ConnectionClosed(f"{host_port} presented no certificate")
            fingerprint = certificate_fingerprint(der)
            logger.debug("connected to %s with %s, %s", host_port, ssl_object.version(),
                         ssl_object.cipher()[0] if ssl_object.cipher() else "?")
            await trust.verify(host_port, fingerprint)
        except BaseException:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            raise
        connection = cls(reader, writer, host_port=host_port, fingerprint=fingerprint,
                         **kwargs)
        connection._reader_task = asyncio.create_task(
            connection._read_loop(), name=f"pymeet-control-reader {host_port}")
        return connection

    # -- state ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection has ended (for any reason)."""
        return self._closed

    @property
    def close_reason(self) -> BaseException | None:
        """Why the connection ended: None for a local `close`, else the failure."""
        return self._close_reason

    async def wait_closed(self) -> None:
        """Return once the connection has ended."""
        await self._closed_event.wait()

    # -- sending ----------------------------------------------------------------------

    async def request(
        self,
        kind: str,
        fields: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        on_ok: ReplyHook | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its ok=true reply.

        ``on_ok`` runs inside the reader, synchronously with the reply, before any later
        event is handled: it is where callers update state that events also touch.
        Raises `RequestError` (ok=false), `RequestTimeout` or `ConnectionClosed`.
        """
        if self._closed:
            raise ConnectionClosed(self._closed_text())
        request_id = self._next_id
        self._next_id = self._next_id + 1 if self._next_id < MAX_REQUEST_ID else 1
        message: dict[str, Any] = {"type": kind, "id": request_id, **(fields or {})}
        data = frame(message)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(future, kind, on_ok)
        try:
            async with asyncio.timeout(self.request_timeout if timeout is None else timeout):
                self._writer.write(data)
                await self._writer.drain()
                return await future
        except TimeoutError:
            raise RequestTimeout(f"no reply to {kind} within the timeout") from None
        except (ConnectionError, OSError) as exc:
            self._finish(ConnectionClosed(f"the connection to {self.host_port} failed: {exc}"))
            raise ConnectionClosed(self._closed_text()) from None
        finally:
            self._pending.pop(request_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: no "never retrieved" warning

    def send_media_packet(self, packet: bytes) -> bool:
        """Send one sealed media packet through the tunnel (§4.6); never blocks.

        Media is perishable: while more than `MEDIA_BACKLOG_LIMIT` bytes wait to be
        sent, the packet is dropped (and counted in ``media_dropped``) and False is
        returned. Raises `ConnectionClosed` when the connection has ended.
        """
        if self._closed:
            raise ConnectionClosed(self._closed_text())
        if self._writer.transport.get_write_buffer_size() > MEDIA_BACKLOG_LIMIT:
            self.media_dropped += 1
            return False
        self._writer.write(encode_media_frame(packet))
        return True

    # -- closing ----------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection; pending requests fail with `ConnectionClosed`."""
        self._finish(None)
        task = self._reader_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self._writer.wait_closed()

    def abort(self, reason: str) -> None:
        """End the connection at once, as a failure (used when keepalives go unanswered)."""
        self._finish(ConnectionClosed(reason))
        transport = self._writer.transport
        transport.abort()

    def _closed_text(self) -> str:
        if self._close_reason is not None:
            return str(self._close_reason)
        return f"the connection to {self.host_port} is closed"

    def _finish(self, reason: BaseException | None) -> None:
        """End the connection exactly once: fail pending requests, tell ``on_close``."""
        if self._closed:
            return
        self._closed = True
        self._close_reason = reason
        with contextlib.suppress(Exception):
            self._writer.close()
        failure = ConnectionClosed(self._closed_text())
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(failure)
        self._pending.clear()
        self._closed_event.set()
        if reason is not None:
            logger.info("connection to %s ended: %s", self.host_port, reason)
        else:
            logger.debug("connection to %s closed locally", self.host_port)
        if self.on_close is not None:
            try:
                self.on_close(reason)
            except Exception:
                logger.exception("on_close handler failed")

    # -- receiving --------------------------------------------------------------------

    async def _read_loop(self) -> None:
        reason: BaseException | None
        try:
            while True:
                data = await self._reader.read(READ_CHUNK)
                if not data:
                    reason = ConnectionClosed(f"{self.host_port} closed the connection")
                    break
                self._decoder.receive_data(data)
                while True:
                    try:
                        payload = self._decoder.next_frame()
                    except ProtocolError as exc:
                        if isinstance(exc, FrameTooLarge):
                            raise
                        logger.warning("malformed frame from %s: %s", self.host_port, exc)
                        continue
                    if payload is None:
                        break
                    self._handle_payload(payload)
        except asyncio.CancelledError:
            reason = None
        except ProtocolError as exc:
            reason = ConnectionClosed(f"{self.host_port} broke the framing: {exc}")
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            reason = ConnectionClosed(f"the connection to {self.host_port} failed: {exc}")
        self._finish(reason)

    def _handle_payload(self, payload: bytes) -> None:
        if is_media_payload(payload):
            if self.on_media_packet is not None:
                try:
                    self.on_media_packet(payload[1:])
                except Exception:
                    logger.exception("media packet handler failed")
            return
        try:
            message = parse_server_message(payload)
        except ProtocolError as exc:
            logger.warning("unusable message from %s: %s", self.host_port, exc)
            return
        if message["type"] == MsgType.REPLY:
            self._handle_reply(message)
            return
        if self.on_event is not None:
            try:
                self.on_event(message)
            except Exception:
                logger.exception("event handler failed on %s", message.get("type"))

    def _handle_reply(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        pending = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if pending is None:
            if not message.get("ok", True):
                # An error without a usable id (§2: bad_request, frame_too_large).
                error = message.get("error") or {}
                logger.warning("server reported %s: %s", error.get("code"), error.get("message"))
            else:
                logger.debug("reply to unknown or expired request %r", request_id)
            return
        if pending.future.done():
            return
        if message["ok"]:
            if pending.on_ok is not None:
                try:
                    pending.on_ok(message)
                except Exception:
                    logger.exception("reply hook for %s failed", pending.kind)
            pending.future.set_result(message)
            return
        error = message.get("error")
        if not isinstance(error, dict):
            error = {}
        extra = {k: v for k, v in error.items() if k not in ("code", "message", "field")}
        field = error.get("field")
        pending.future.set_exception(RequestError(
            str(error.get("code") or "internal"),
            str(error.get("message") or "the server refused the request"),
            field=field if isinstance(field, str) else None,
            extra=extra,
        ))
