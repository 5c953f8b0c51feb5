"""A raw test client of the control protocol (PROTOCOL.md §1–§3), over real TLS 1.3.

It deliberately does not use `pymeet.client`: the contract tests talk to the server
byte for byte, so a bug shared by the client library and the server cannot hide.

Theory of operation: `WireClient.open` connects and starts one reader task that decodes
every frame the server sends into `inbox` (a list, oldest first). `request` sends a
request with a fresh id and waits for the reply with that id; events that arrive
meanwhile stay in `inbox` until `expect_event` takes them or `no_event` looks at them.
Nothing here sleeps for a fixed time except `no_event`, whose window is short; every
wait is bounded by `tests.support.timeouts.timeout`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import secrets
import ssl
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from tests.support import secrets_registry
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout

LENGTH = struct.Struct(">I")
MAX_FRAME = 1_048_576
WAIT = 5.0
"""Seconds (before scaling) that any single expected message may take to arrive."""
QUIET = 0.5
"""Seconds (before scaling) of silence that `no_event` takes as "nothing was sent"."""
HANDSHAKE = 3.0
"""Seconds (before scaling) a TLS handshake may take before it counts as stalled."""
DEFAULT_PASSWORD = "correct horse battery"
CLIENT_NAME = "pymeet-contract-tests"

Message = dict[str, Any]
Predicate = Callable[[Message], bool]


class HasAddress(Protocol):
    host: str
    port: int


def client_ssl_context(
    *,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
) -> ssl.SSLContext:
    """A TLS client context that does not verify the certificate (tests pin it separately)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = minimum
    context.maximum_version = maximum
    return context


_counter = itertools.count(1)


def unique_name(prefix: str = "u") -> str:
    """A username (valid per §3.5) that no other test uses."""
    return f"{prefix}{next(_counter)}_{secrets.token_hex(3)}"[:32]


def unique_room(prefix: str = "Room") -> str:
    """A room name (valid per §3.5) that no other test uses."""
    return f"{prefix} {next(_counter)} {secrets.token_hex(3)}"[:40]


def brief(messages: list[Message], limit: int = 200) -> str:
    """Messages for a failure report, each cut to `limit` characters."""
    shown = []
    for message in messages:
        text = repr(message)
        shown.append(text if len(text) <= limit else text[:limit] + "...}")
    return "[" + ", ".join(shown) + "]"


def email_for(username: str) -> str:
    return f"{username}@example.org"


class WireClient:
    """One raw control connection. See the module docstring for the calling contract."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self.inbox: list[Message] = []
        """Messages received and not yet taken, oldest first."""
        self.received: list[Message] = []
        """Every JSON message ever received, for failure messages."""
        self.media_frames: list[bytes] = []
        self.eof = False
        self.bad_frame: str | None = None
        self.username: str | None = None
        self.password: str | None = None
        self.user: Message | None = None
        self.session: str | None = None
        self.media: Message = {}
        self._task = asyncio.create_task(self._read_loop())

    # -- connection -------------------------------------------------------------------

    @classmethod
    async def open(
        cls, host: str, port: int, *, context: ssl.SSLContext | None = None
    ) -> WireClient:
        """Connect over TLS (1.3 only unless `context` says otherwise).

        A handshake that stalls raises `ConnectionAbortedError` after `HANDSHAKE`
        seconds (scaled), rather than hanging until the server gives up.
        """
        reader, writer = await asyncio.open_connection(
            host, port, ssl=context or client_ssl_context(),
            ssl_handshake_timeout=timeout(HANDSHAKE),
        )
        return cls(reader, writer)

    @classmethod
    async def connect(cls, server: HasAddress) -> WireClient:
        return await cls.open(server.host, server.port)

    @property
    def ssl_object(self) -> ssl.SSLObject:
        obj = self._writer.get_extra_info("ssl_object")
        assert obj is not None, "not a TLS connection"
        return obj  # type: ignore[no-any-return]

    def peer_fingerprint(self) -> str:
        """SHA-256 of the DER certificate the server presented, as 64 lowercase hex digits."""
        der = self.ssl_object.getpeercert(binary_form=True)
        assert der, "the server presented no certificate"
        return hashlib.sha256(der).hexdigest()

    async def aclose(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), timeout(1))
        self._task.cancel()
        await asyncio.wait([self._task])  # never raises the reader's own exception

    async def _read_loop(self) -> None:
        try:
            while True:
                header = await self._reader.readexactly(LENGTH.size)
                (size,) = LENGTH.unpack(header)
                if not 1 <= size <= MAX_FRAME:  # §1 binds the server too
                    self.bad_frame = f"server sent a frame length of {size}"
                    return
                payload = await self._reader.readexactly(size)
                if payload[:1] == b"\x00":
                    self.media_frames.append(payload[1:])
                else:
                    try:
                        message = json.loads(payload.decode("utf-8"))
                    except ValueError:
                        self.bad_frame = f"server sent a frame that is not UTF-8 JSON: {payload!r}"
                        return
                    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                        self.bad_frame = f"server sent a message without a type: {message!r}"
                        return
                    self.inbox.append(message)
                    self.received.append(message)
                self._changed.set()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            self.eof = True
            self._changed.set()

    # -- sending ----------------------------------------------------------------------

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (no framing added)."""
        self._writer.write(data)
        await self._writer.drain()

    async def send_payload(self, payload: bytes) -> None:
        """One frame around `payload` (any length, even 0: the helper does not check)."""
        await self.send_raw(LENGTH.pack(len(payload)) + payload)

    async def send(self, obj: Any) -> None:
        """One framed JSON value."""
        await self.send_payload(json.dumps(obj, ensure_ascii=False).encode())

    def next_id(self) -> int:
        return next(self._ids)

    async def send_request(self, msg_type: str, /, **fields: Any) -> int:
        """Send a request without waiting; returns its id."""
        request_id = self.next_id()
        secrets_registry.record_request_fields(fields)
        await self.send({"type": msg_type, "id": request_id, **fields})
        return request_id

    # -- receiving --------------------------------------------------------------------

    def _take(self, predicate: Predicate) -> Message | None:
        for index, message in enumerate(self.inbox):
            if predicate(message):
                return self.inbox.pop(index)
        return None

    async def wait_for(
        self, predicate: Predicate, what: str, wait: float | None = None
    ) -> Message:
        """Take the oldest message matching `predicate`, waiting for it if need be."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout(WAIT if wait is None else wait)
        while True:
            found = self._take(predicate)
            if found is not None:
                return found
            if self.bad_frame:
                raise AssertionError(self.bad_frame)
            if self.eof:
                raise AssertionError(
                    f"connection closed while waiting for {what}; "
                    f"last received: {brief(self.received[-5:])}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {what}; unread messages: {brief(self.inbox[-10:])}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def reply(self, request_id: int, wait: float | None = None) -> Message:
        """The reply to request `request_id`."""
        return await self.wait_for(
            lambda m: m["type"] == "reply" and m.get("id") == request_id,
            f"the reply to request {request_id}",
            wait,
        )

    async def next_reply(self, wait: float | None = None) -> Message:
        """The oldest reply not yet taken, whatever its id (or lack of one)."""
        return await self.wait_for(lambda m: m["type"] == "reply", "a reply", wait)

    async def request(self, msg_type: str, /, **fields: Any) -> Message:
        """Send a request with a fresh id and return its reply (ok or not)."""
        request_id = await self.send_request(msg_type, **fields)
        return await self.reply(request_id)

    async def ok(self, msg_type: str, /, **fields: Any) -> Message:
        """A request that must succeed; returns the reply."""
        reply = await self.request(msg_type, **fields)
        assert reply.get("ok") is True, f"{msg_type} {brief([fields])} failed: {reply!r}"
        return reply

    async def error(self, msg_type: str, /, code: str, **fields: Any) -> Message:
        """A request that must fail with `code`; returns the reply's `error` object."""
        reply = await self.request(msg_type, **fields)
        return expect_error(reply, code)

    async def expect_event(
        self,
        msg_type: str,
        predicate: Predicate | None = None,
        # seconds before scaling, as the brief of this helper names it
        timeout: float | None = None,
    ) -> Message:
        """Take the oldest event of `msg_type` (matching `predicate`), waiting for it."""
        return await self.wait_for(
            lambda m: m["type"] == msg_type and (predicate is None or predicate(m)),
            f"a {msg_type} event",
            timeout,
        )

    def pending(self, msg_type: str, predicate: Predicate | None = None) -> list[Message]:
        """Buffered, untaken messages of `msg_type` (matching `predicate`)."""
        return [
            m for m in self.inbox
            if m["type"] == msg_type and (predicate is None or predicate(m))
        ]

    def discard(self, msg_type: str | None = None) -> None:
        """Forget buffered messages (of one type, or all)."""
        self.inbox = [m for m in self.inbox if msg_type is not None and m["type"] != msg_type]

    async def no_event(
        self, msg_type: str, predicate: Predicate | None = None, within: float = QUIET
    ) -> None:
        """Assert that no `msg_type` event (matching `predicate`) arrives in a short window."""
        await asyncio.sleep(timeout(within))
        unwanted = self.pending(msg_type, predicate)
        assert not unwanted, f"unexpected {msg_type} event(s): {brief(unwanted)}"

    async def closed(self, wait: float | None = None) -> None:
        """Wait until the server closes the connection (EOF)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout(WAIT if wait is None else wait)
        while not self.eof:
            remaining = deadline - loop.time()
            assert remaining > 0, "the server did not close the connection"
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    # -- session helpers ------------------------------------------------------------

    async def hello(self, protocol: int = 1) -> Message:
        return await self.ok("hello", client=CLIENT_NAME, protocol=protocol)

    async def register(
        self, username: str, email: str | None = None, password: str = DEFAULT_PASSWORD
    ) -> Message:
        return await self.ok(
            "auth.register", username=username, email=email or email_for(username),
            password=password,
        )

    async def login(self, username: str, password: str = DEFAULT_PASSWORD) -> Message:
        reply = await self.ok("auth.login", username=username, password=password)
        self.username = reply["user"]["username"]
        self.password = password
        self.user = reply["user"]
        self.session = reply["session"]
        self.media = reply["media"]
        secrets_registry.record_session_token(self.session)
        secrets_registry.record_media_key(self.media["key"])
        return reply

    async def ping(self) -> Message:
        return await self.ok("ping")

    async def create_room(self, room: str, password: str | None = None) -> Message:
        fields: dict[str, Any] = {"room": room}
        if password is not None:
            fields["password"] = password
        return (await self.ok("room.create", **fields))["room"]  # type: ignore[no-any-return]

    async def join(self, room: str, password: str | None = None) -> Message:
        fields: dict[str, Any] = {"room": room}
        if password is not None:
            fields["password"] = password
        return await self.ok("room.join", **fields)


def expect_error(reply: Message, code: str) -> Message:
    """Assert that `reply` is a well-formed failure with `code`; return its error object."""
    assert reply.get("type") == "reply", reply
    assert reply.get("ok") is False, f"expected {code}, got {reply!r}"
    error = reply.get("error")
    assert isinstance(error, dict), reply
    assert error.get("code") == code, f"expected {code}, got {reply!r}"
    assert isinstance(error.get("message"), str) and error["message"], reply
    return error


async def make_user(
    server: HasAddress, name: str | None = None, *, password: str = DEFAULT_PASSWORD
) -> WireClient:
    """A connected client that has said hello, registered `name` and logged in."""
    client = await WireClient.connect(server)
    username = name or unique_name()
    await client.hello()
    await client.register(username, password=password)
    await client.login(username, password)
    return client


async def login_as(
    server: HasAddress, name: str, *, password: str = DEFAULT_PASSWORD
) -> WireClient:
    """A connected client logged in as the existing user `name`."""
    client = await WireClient.connect(server)
    await client.hello()
    await client.login(name, password)
    return client


def media_key(client: WireClient) -> bytes:
    return base64.b64decode(client.media["key"], validate=True)


def room_info(update: Message, name: str) -> Message | None:
    """The RoomInfo named `name` in a room list (a lobby.update or room.list reply)."""
    return next((r for r in update["rooms"] if r["name"] == name), None)


class Clients:
    """Opens clients and closes all of them at the end of a test."""

    def __init__(self, server: HasAddress) -> None:
        self.server = server
        self.opened: list[WireClient] = []

    async def open(self, server: HasAddress | None = None) -> WireClient:
        client = await WireClient.connect(server or self.server)
        self.opened.append(client)
        return client

    async def hello(self, server: HasAddress | None = None) -> WireClient:
        client = await self.open(server)
        await client.hello()
        return client

    async def user(
        self, name: str | None = None, *, password: str = DEFAULT_PASSWORD,
        server: HasAddress | None = None,
    ) -> WireClient:
        client = await make_user(server or self.server, name, password=password)
        self.opened.append(client)
        return client

    async def login(
        self, name: str, *, password: str = DEFAULT_PASSWORD, server: HasAddress | None = None
    ) -> WireClient:
        client = await login_as(server or self.server, name, password=password)
        self.opened.append(client)
        return client

    async def registered(self, name: str | None = None) -> str:
        """Register a user (who stays offline) and return its name."""
        username = name or unique_name("off")
        client = await self.hello()
        await client.register(username)
        await client.aclose()
        return username

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.opened))


@contextlib.asynccontextmanager
async def clients_for(server: HasAddress) -> AsyncIterator[Clients]:
    pool = Clients(server)
    try:
        yield pool
    finally:
        await pool.aclose()


async def assert_served(server: HasAddress, *still_open: WireClient) -> None:
    """Proof that the server still works: each given connection answers a ping, and so
    does a brand-new connection."""
    for client in still_open:
        reply = await client.ping()
        assert isinstance(reply["time"], float)
    fresh = await WireClient.connect(server)
    try:
        await fresh.hello()
        reply = await fresh.ping()
        assert isinstance(reply["time"], float)
    finally:
        await fresh.aclose()


@contextlib.contextmanager
def running_server(data_dir: Path, *extra_args: str) -> Iterator[ServerProcess]:
    """A server on `data_dir` for the duration of the block (module-scoped fixtures)."""
    server = ServerProcess(data_dir, list(extra_args)).start()
    try:
        yield server
    finally:
        server.stop()
