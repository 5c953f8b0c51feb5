"""`MeetingClient`: one asyncio object for one PyMeet session (PROTOCOL.md §3).

The GUI, the command-line client, the tests and the benchmark all drive a server
through this class::

    client = await MeetingClient.connect("127.0.0.1", 7400)
    await client.login("alice", password)
    await client.join_room("lounge")
    async for event in client.events():
        ...

Promises:

- Every request of §3.1–§3.4 has a typed method. An ok=false reply raises
  `RequestError` (``.code``, ``.message``, ``.field``); a missing connection raises
  `ConnectionClosed`; a missing reply raises `RequestTimeout`.
- `username`, `room`, `members` and `rooms` are kept current from replies and events
  *before* the matching event is handed out, so a handler sees the new state.
- Events are plain dicts, exactly as the server sent them, in arrival order. They are
  delivered two ways: `events()` (one buffered queue of up to ``event_queue_size``
  events from connect on; when full, the oldest are dropped and a warning is logged,
  so the network reader never blocks) and `on(type, callback)` (sync or async
  callbacks; ``"*"`` receives everything).
- A ``ping`` is sent every ``keepalive_interval`` seconds (20 s; the server's idle
  timeout is 90 s). An unanswered keepalive counts as a lost connection.
- Auto-reconnect: when the connection drops unexpectedly, the client retries with
  capped exponential backoff and jitter. Each attempt checks the certificate pin
  again, says ``hello``, logs in with the credentials of the last successful `login`
  (kept in memory only), rejoins the room (with the password it was joined with) and
  restores the mic/cam state. It does not reconnect after `close`, `logout`, a
  ``session.closed`` with reason ``replaced``, a certificate that no longer matches, or
  a login the server now refuses.

Synthetic local events (made by the client, never sent by the server; the protocol
has no ``connection.*`` types, so they cannot collide):

- ``{"type": "connection.lost", "reason": str, "will_reconnect": bool}``: the
  connection dropped. Requests raise `ConnectionClosed` until it is restored.
- ``{"type": "connection.restored", "room": str | None, "rejoin_error": {"code",
  "message"} | None}``: a new connection is up, logged in again and back in the room
  (``room`` is None when there was none or rejoining failed, see ``rejoin_error``).
- ``{"type": "connection.failed", "reason": str}``: reconnecting stopped for good
  (a changed certificate, refused credentials). The client is closed.

When the client is closed, `events()` ends after the last buffered event.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pymeet import PROTOCOL_VERSION
from pymeet.client.connection import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT,
    ControlConnection,
)
from pymeet.client.errors import (
    ClientError,
    ConnectionClosed,
    RequestTimeout,
    TrustError,
)
from pymeet.client.known_servers import KnownServers
from pymeet.client.trust import NewServerCallback, ServerTrust
from pymeet.protocol.errors import ErrorCode, RequestError
from pymeet.protocol.messages import MsgType
from pymeet.protocol.validation import identity_key

__all__ = [
    "CONNECTION_FAILED",
    "CONNECTION_LOST",
    "CONNECTION_RESTORED",
    "DEFAULT_CLIENT_NAME",
    "EventCallback",
    "JoinResult",
    "MediaCredentials",
    "MeetingClient",
]

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_NAME = "pymeet-python/0.1"
CONNECTION_LOST = "connection.lost"
CONNECTION_RESTORED = "connection.restored"
CONNECTION_FAILED = "connection.failed"
ANY_EVENT = "*"

EventCallback = Callable[[dict[str, Any]], "Awaitable[None] | None"]

# Login failures that no amount of retrying will fix: stop reconnecting.
_FATAL_LOGIN_CODES = frozenset({ErrorCode.AUTH_FAILED, ErrorCode.INVALID_FIELD,
                                ErrorCode.UNSUPPORTED_PROTOCOL})


@dataclass(frozen=True, slots=True)
class MediaCredentials:
    """The media plane parameters from the login reply (§4.1). ``key`` is never shown."""

    port: int
    ssrc: int
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class JoinResult:
    """The reply to ``room.join``: RoomInfo, Members (self included), newest history,
    and (docs/PROTOCOL.md §3.4) the newest shared files and the raised hands in order."""

    room: dict[str, Any]
    members: list[dict[str, Any]]
    history: list[dict[str, Any]]
    files: list[dict[str, Any]] = field(default_factory=list)
    hands: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The room's name as the server spells it."""
        return str(self.room.get("name", ""))


def _decode_key(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _result(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k not in ("type", "id", "ok")}


class MeetingClient:
    """One session with one PyMeet server (see the module docstring for the promises).

    Build it with ``await MeetingClient.connect(...)``; it may also be used as an async
    context manager, which closes it on exit.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        known_servers: KnownServers | str | Path | None = None,
        fingerprint: str | None = None,
        on_new_server: NewServerCallback | None = None,
        client_name: str = DEFAULT_CLIENT_NAME,
        auto_reconnect: bool = True,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        keepalive_interval: float = 20.0,
        reconnect_initial_delay: float = 0.25,
        reconnect_max_delay: float = 30.0,
        event_queue_size: int = 4096,
    ) -> None:
        if not isinstance(known_servers, KnownServers):
            known_servers = KnownServers(known_servers)
        self.host = host
        self.port = port
        self.client_name = client_name
        self.auto_reconnect = auto_reconnect
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.keepalive_interval = keepalive_interval
        self.reconnect_initial_delay = reconnect_initial_delay
        self.reconnect_max_delay = reconnect_max_delay
        self._trust = ServerTrust(known_servers, fingerprint, on_new_server)
        self.on_media_packet: Callable[[bytes], None] | None = None
        """Called with each media packet tunnelled down the control connection (§4.6)."""
        self.server_info: dict[str, Any] = {}
        self.session_token: str | None = None
        self.media: MediaCredentials | None = None

        self._conn: ControlConnection | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self._closing = False
        self._logging_out = False
        self._replaced = False
        self._credentials: tuple[str, str] | None = None
        self._user: dict[str, Any] | None = None
        self._room: str | None = None
        self._room_password: str | None = None
        self._members: dict[str, dict[str, Any]] = {}
        self._rooms: list[dict[str, Any]] = []
        self._mic = False
        self._cam = False
        self._screen = False
        # Unbounded as a Queue; `_push` holds it to event_queue_size events, so the end
        # marker always fits and the reader never waits.
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._queue_limit = max(1, event_queue_size)
        self._dropped_events = 0
        self._handlers: dict[str, list[EventCallback]] = defaultdict(list)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keepalive_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None

    # -- construction and teardown ---------------------------------------------------

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        known_servers: KnownServers | str | Path | None = None,
        fingerprint: str | None = None,
        on_new_server: NewServerCallback | None = None,
        client_name: str = DEFAULT_CLIENT_NAME,
        auto_reconnect: bool = True,
        **options: Any,
    ) -> MeetingClient:
        """Connect (TLS 1.3, pin check) and say ``hello``. Raises `ConnectionClosed`,
        a `TrustError` or `RequestError` (for example ``unsupported_protocol``)."""
        client = cls(host, port, known_servers=known_servers, fingerprint=fingerprint,
                     on_new_server=on_new_server, client_name=client_name,
                     auto_reconnect=auto_reconnect, **options)
        await client._establish(restore=False)
        return client

    async def close(self) -> None:
        """Close the connection and stop reconnecting; `events()` then ends. Idempotent."""
        if self._closed:
            return
        self._closing = True
        current = asyncio.current_task()
        for task in (self._reconnect_task, self._keepalive_task):
            if task is not None and task is not current:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        conn, self._conn = self._conn, None
        self._connected.clear()
        if conn is not None:
            await conn.close()
        self._mark_closed()

    async def __aenter__(self) -> MeetingClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # -- state -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a control connection is up (and, after a reconnect, restored)."""
        return self._conn is not None and not self._conn.closed

    @property
    def closed(self) -> bool:
        """True once the client is closed for good (no more events, no reconnects)."""
        return self._closed

    @property
    def fingerprint(self) -> str | None:
        """The SHA-256 fingerprint of the connected server's certificate."""
        return self._conn.fingerprint if self._conn is not None else None

    @property
    def user(self) -> dict[str, Any] | None:
        """The logged-in User (§3), or None."""
        return dict(self._user) if self._user is not None else None

    @property
    def username(self) -> str | None:
        """The logged-in username, or None."""
        return str(self._user["username"]) if self._user is not None else None

    @property
    def room(self) -> str | None:
        """The room this session is in, or None in the lobby."""
        return self._room

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        """The current room's members (self included), username -> Member."""
        return {name: dict(member) for name, member in self._members.items()}

    @property
    def rooms(self) -> list[dict[str, Any]]:
        """The latest room list seen (from ``room.list`` or ``lobby.update``)."""
        return [dict(room) for room in self._rooms]

    @property
    def mic(self) -> bool:
        """This session's mic state as last confirmed by the server."""
        return self._mic

    @property
    def cam(self) -> bool:
        """This session's camera state as last confirmed by the server."""
        return self._cam

    @property
    def screen(self) -> bool:
        """Whether this session's video is a shared screen (docs/PROTOCOL.md)."""
        return self._screen

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once connected; raises TimeoutError, or `ConnectionClosed` if closed."""
        async with asyncio.timeout(timeout):
            while not self.connected:
                if self._closed:
                    raise ConnectionClosed("the client is closed")
                await self._connected.wait()

    # -- events ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every event in arrival order, until the client is closed.

        There is one queue: use one consumer at a time (use `on` to fan out).
        """
        while True:
            event = await self._queue.get()
            if event is None:
                self._queue.put_nowait(None)  # let any other iterator end too
                return
            yield event

    def on(self, kind: str, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for each event of type ``kind`` (``"*"``: all).

        An async callback runs as its own task. Exceptions are logged, never raised
        into the client. Returns a function that removes the callback.
        """
        self._handlers[kind].append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._handlers[kind].remove(callback)

        return remove

    # -- requests: session (§3.1) --------------------------------------------------------

    async def request(self, kind: str, *, timeout: float | None = None,
                      **fields: Any) -> dict[str, Any]:
        """Send any request; return the reply's result fields (without type/id/ok).

        ``fields`` whose name is a Python keyword can be passed as ``**{"with": x}``.
        """
        reply = await self._connection().request(kind, fields, timeout=timeout)
        return _result(reply)

    async def ping(self) -> float:
        """The server's Unix time."""
        reply = await self._connection().request(MsgType.PING)
        return float(reply["time"])

    async def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        """Create an account; returns the User. Does not log in."""
        reply = await self._connection().request(
            MsgType.REGISTER, {"username": username, "email": email, "password": password})
        return dict(reply["user"])

    async def login(self, username_or_email: str, password: str) -> dict[str, Any]:
        """Log in; returns the User. Keeps ``session_token`` and ``media``, and the
        credentials in memory so a reconnect can log in again."""
        conn = self._connection()
        reply = await conn.request(
            MsgType.LOGIN, {"username": username_or_email, "password": password},
            on_ok=self._apply_login)
        self._credentials = (username_or_email, password)
        logger.info("logged in to %s as %s", conn.host_port, self.username)
        return dict(reply["user"])

    async def logout(self) -> None:
        """Log out and close this client (the server ends the connection too).

        Raises `RequestError` when the server refuses (for example ``unauthenticated``);
        a connection that fails meanwhile still leaves the client closed.
        """
        conn = self._connection()
        self._logging_out = True
        try:
            await conn.request(MsgType.LOGOUT)
        except RequestError:
            self._logging_out = False
            raise
        except ClientError as exc:
            # The connection failed first: the session ends with it all the same.
            logger.info("logout from %s without a reply: %s", conn.host_port, exc)
        else:
            logger.info("logged out of %s", conn.host_port)
        self._credentials = None
        self._user = None
        self.session_token = None
        self.media = None
        self._leave_room_state()
        await self.close()

    async def list_users(self) -> list[dict[str, Any]]:
        """Online users: ``[{"username", "room": str | None}]``."""
        reply = await self._connection().request(MsgType.USER_LIST)
        return list(reply["users"])

    # -- requests: lobby and rooms (§3.2, §3.4) ----------------------------------------

    async def list_rooms(self) -> list[dict[str, Any]]:
        """All rooms as RoomInfo dicts."""
        reply = await self._connection().request(MsgType.ROOM_LIST)
        self._rooms = list(reply["rooms"])
        return self.rooms

    async def create_room(self, name: str, password: str | None = None) -> dict[str, Any]:
        """Create a room (without joining it); returns its RoomInfo."""
        fields: dict[str, Any] = {"room": name}
        if password:
            fields["password"] = password
        reply = await self._connection().request(MsgType.ROOM_CREATE, fields)
        return dict(reply["room"])

    async def join_room(self, name: str, password: str | None = None) -> JoinResult:
        """Join a room (leaving the current one); the password is kept for rejoining."""
        fields: dict[str, Any] = {"room": name}
        if password is not None:
            fields["password"] = password

        def apply(reply: dict[str, Any]) -> None:
            self._apply_join(reply, password)

        reply = await self._connection().request(MsgType.ROOM_JOIN, fields, on_ok=apply)
        return JoinResult(dict(reply["room"]), list(reply.get("members") or []),
                          list(reply.get("history") or []), list(reply.get("files") or []),
                          [str(name) for name in reply.get("hands") or []])

    async def leave_room(self) -> None:
        """Leave the current room (``not_in_room`` in the lobby)."""
        await self._connection().request(
            MsgType.ROOM_LEAVE, on_ok=lambda _reply: self._leave_room_state())

    async def delete_room(self, name: str) -> None:
        """Delete a room this user owns."""

        def apply(_reply: dict[str, Any]) -> None:
            if self._is_current_room(name):
                self._leave_room_state()

        await self._connection().request(MsgType.ROOM_DELETE, {"room": name}, on_ok=apply)

    async def kick(self, username: str) -> None:
        """Remove a member from the room this user owns (§3.4)."""
        def apply(_reply: dict[str, Any]) -> None:
            self._members.pop(username, None)

        await self._connection().request(MsgType.ROOM_KICK, {"username": username},
                                         on_ok=apply)

    async def mute(self, username: str) -> None:
        """Turn a member's mic off in the room this user owns (§3.4)."""
        def apply(reply: dict[str, Any]) -> None:
            member = reply.get("member")
            if isinstance(member, dict) and username in self._members:
                self._members[username] = dict(member)

        await self._connection().request(MsgType.ROOM_MUTE, {"username": username},
                                         on_ok=apply)

    async def raise_hand(self, up: bool) -> list[str]:
        """Raise or lower this user's hand in the room (§3.4); returns the usernames with
        a raised hand, first raised first."""
        reply = await self._connection().request(MsgType.HAND_RAISE, {"up": up})
        return [str(name) for name in reply.get("hands") or []]

    # -- requests: chat, DMs, invitations, media state (§3.3) --------------------------

    async def send_chat(self, text: str) -> dict[str, Any]:
        """Send to the current room; returns the stored ChatMessage."""
        reply = await self._connection().request(MsgType.CHAT_SEND, {"text": text})
        return dict(reply["message"])

    async def send_dm(self, to: str, text: str) -> dict[str, Any]:
        """Send a direct message (stored for later if ``to`` is offline)."""
        reply = await self._connection().request(MsgType.DM_SEND, {"to": to, "text": text})
        return dict(reply["message"])

    async def dm_history(self, with_user: str) -> list[dict[str, Any]]:
        """Up to 50 newest direct messages with ``with_user``, oldest first."""
        reply = await self._connection().request(MsgType.DM_HISTORY, {"with": with_user})
        return list(reply["messages"])

    async def update_media(self, mic: bool, cam: bool, screen: bool = False) -> dict[str, Any]:
        """Announce mic/cam state (``screen``: the video is a shared screen); returns this
        session's Member. Restored on reconnect."""
        reply = await self._connection().request(
            MsgType.MEDIA_UPDATE, {"mic": mic, "cam": cam, "screen": screen},
            on_ok=self._apply_own_member)
        return dict(reply["member"])

    async def invite(self, to: str) -> None:
        """Invite an online user into the current room."""
        await self._connection().request(MsgType.CALL_INVITE, {"to": to})

    async def answer(self, to: str, accept: bool) -> None:
        """Answer the invitation of ``to``. Accepting does not join: call `join_room`."""
        await self._connection().request(MsgType.CALL_ANSWER, {"to": to, "accept": accept})

    # -- media tunnel (§4.6) -------------------------------------------------------------

    def send_media_packet(self, packet: bytes) -> bool:
        """Send one sealed media packet through the control connection (§4.6).

        Never blocks; returns False when the packet was dropped because the connection
        is backlogged. Raises `ConnectionClosed` while disconnected.
        """
        return self._connection().send_media_packet(packet)

    # -- internals: connection life cycle ------------------------------------------------

    def _connection(self) -> ControlConnection:
        conn = self._conn
        if conn is None or conn.closed:
            if self._closed:
                raise ConnectionClosed("the client is closed")
            raise ConnectionClosed(f"not connected to {self.host}:{self.port} (reconnecting)"
                                   if self._reconnect_task is not None
                                   else f"not connected to {self.host}:{self.port}")
        return conn

    async def _establish(self, *, restore: bool) -> dict[str, Any]:
        """Open a connection, say hello and (``restore``) log in, rejoin, restore media.

        The connection is published only when all of that worked. Returns the
        ``connection.restored`` event to emit.
        """
        conn = await ControlConnection.open(
            self.host, self.port, self._trust, connect_timeout=self.connect_timeout,
            on_event=self._on_event, on_media_packet=self._on_media_packet,
            request_timeout=self.request_timeout,
        )
        conn.on_close = lambda reason: self._on_connection_closed(conn, reason)
        restored: dict[str, Any] = {"type": CONNECTION_RESTORED, "room": None,
                                    "rejoin_error": None}
        # What to restore; put back if this attempt fails half-way, for the next one.
        room, password, members = self._room, self._room_password, self._members
        mic, cam, screen = self._mic, self._cam, self._screen
        try:
            hello = await conn.request(
                MsgType.HELLO, {"client": self.client_name, "protocol": PROTOCOL_VERSION})
            self.server_info = _result(hello)
            if restore and self._credentials is not None:
                await conn.request(
                    MsgType.LOGIN,
                    {"username": self._credentials[0], "password": self._credentials[1]},
                    on_ok=self._apply_login)
                if room is not None:
                    await self._rejoin(conn, room, password, restored)
                if mic or cam:
                    await conn.request(MsgType.MEDIA_UPDATE,
                                       {"mic": mic, "cam": cam, "screen": screen},
                                       on_ok=self._apply_own_member)
        except BaseException:
            self._room, self._room_password, self._members = room, password, members
            self._mic, self._cam, self._screen = mic, cam, screen
            await conn.close()
            raise
        self._conn = conn
        self._connected.set()
        self._keepalive_task = asyncio.create_task(
            self._keepalive(conn), name=f"pymeet-keepalive {conn.host_port}")
        return restored

    async def _rejoin(self, conn: ControlConnection, room: str, password: str | None,
                      restored: dict[str, Any]) -> None:
        fields: dict[str, Any] = {"room": room}
        if password is not None:
            fields["password"] = password
        try:
            await conn.request(MsgType.ROOM_JOIN, fields,
                               on_ok=lambda reply: self._apply_join(reply, password))
        except RequestError as exc:
            logger.warning("could not rejoin room %r: %s", room, exc)
            restored["rejoin_error"] = {"code": exc.raw_code, "message": exc.message}
            return
        restored["room"] = self._room

    def _on_connection_closed(self, conn: ControlConnection,
                              reason: BaseException | None) -> None:
        if conn is not self._conn:
            return  # a connection that was never published, or already replaced
        self._conn = None
        self._connected.clear()
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            self._keepalive_task = None
        if self._closing:
            return
        if self._logging_out:
            return  # logout() closes the client itself
        will_reconnect = (self.auto_reconnect and not self._replaced)
        self._emit({"type": CONNECTION_LOST,
                    "reason": str(reason or "the connection was closed"),
                    "will_reconnect": will_reconnect})
        if will_reconnect:
            self._reconnect_task = asyncio.create_task(
                self._reconnect_loop(), name=f"pymeet-reconnect {conn.host_port}")
        else:
            self._spawn(self.close())

    async def _reconnect_loop(self) -> None:
        attempt = 0
        delay = self.reconnect_initial_delay
        try:
            while not self._closing:
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                attempt += 1
                delay = min(self.reconnect_max_delay, max(delay, 0.05) * 2)
                try:
                    restored = await self._establish(restore=True)
                except TrustError as exc:
                    self._give_up(str(exc))
                    return
                except RequestError as exc:
                    if exc.code in _FATAL_LOGIN_CODES:
                        self._give_up(f"the server refused to log in again: {exc}")
                        return
                    retry_after = exc.extra.get("retry_after")
                    if isinstance(retry_after, int | float) and retry_after > 0:
                        delay = min(max(delay, float(retry_after)), 300.0)
                    logger.info("reconnect attempt %d to %s:%s refused: %s",
                                attempt, self.host, self.port, exc)
                    continue
                except (ClientError, OSError) as exc:
                    logger.info("reconnect attempt %d to %s:%s failed: %s",
                                attempt, self.host, self.port, exc)
                    continue
                except Exception:
                    # A surprise (say, a malformed reply) must not end reconnecting.
                    logger.exception("reconnect attempt %d to %s:%s failed",
                                     attempt, self.host, self.port)
                    continue
                logger.info("reconnected to %s:%s after %d attempt(s)",
                            self.host, self.port, attempt)
                self._emit(restored)
                return
        finally:
            if self._reconnect_task is asyncio.current_task():
                self._reconnect_task = None

    def _give_up(self, reason: str) -> None:
        logger.warning("stopped reconnecting to %s:%s: %s", self.host, self.port, reason)
        self._emit({"type": CONNECTION_FAILED, "reason": reason})
        self._spawn(self.close())

    async def _keepalive(self, conn: ControlConnection) -> None:
        while not conn.closed:
            await asyncio.sleep(self.keepalive_interval)
            try:
                await conn.request(MsgType.PING)
            except RequestTimeout:
                conn.abort("the server stopped answering keepalive pings")
                return
            except ConnectionClosed:
                return
            except RequestError as exc:
                logger.warning("keepalive ping refused: %s", exc)

    def _mark_closed(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._connected.set()  # wakes wait_connected(), which then sees `closed`
        self._push(None)
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()

    # -- internals: state from replies and events ----------------------------------------

    def _apply_login(self, reply: dict[str, Any]) -> None:
        self._user = dict(reply["user"])
        self._replaced = False
        session = reply.get("session")
        self.session_token = session if isinstance(session, str) else None
        media = reply.get("media")
        if isinstance(media, dict):
            self.media = MediaCredentials(int(media["port"]), int(media["ssrc"]),
                                          _decode_key(str(media["key"])))
        # mic and cam start off at every login (docs/PROTOCOL.md); a session starts in the lobby.
        self._mic = self._cam = self._screen = False
        self._leave_room_state()

    def _apply_join(self, reply: dict[str, Any], password: str | None) -> None:
        self._room = str(reply["room"]["name"])
        self._room_password = password
        self._members = {str(m["username"]): dict(m) for m in reply.get("members") or []}

    def _apply_own_member(self, reply: dict[str, Any]) -> None:
        member = reply.get("member")
        if not isinstance(member, dict):
            return
        self._mic = bool(member.get("mic"))
        self._cam = bool(member.get("cam"))
        self._screen = bool(member.get("screen"))
        if self._room is not None and "username" in member:
            self._members[str(member["username"])] = dict(member)

    def _leave_room_state(self) -> None:
        self._room = None
        self._room_password = None
        self._members = {}

    def _is_current_room(self, name: Any) -> bool:
        return (self._room is not None and isinstance(name, str)
                and identity_key(name) == identity_key(self._room))

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind in (MsgType.MEMBER_JOINED, MsgType.MEMBER_UPDATED):
            member = event.get("member")
            if self._is_current_room(event.get("room")) and isinstance(member, dict):
                self._members[str(member.get("username"))] = dict(member)
        elif kind == MsgType.MEMBER_LEFT:
            if self._is_current_room(event.get("room")):
                self._members.pop(str(event.get("username")), None)
        elif kind in (MsgType.ROOM_DELETED, MsgType.ROOM_KICKED):
            if self._is_current_room(event.get("room")):
                self._leave_room_state()
        elif kind == MsgType.MEDIA_MUTED:
            if self._is_current_room(event.get("room")):
                self._mic = False
                me = self._members.get(self.username or "")
                if me is not None:
                    me["mic"] = False
        elif kind == MsgType.HAND_UPDATE:
            member = self._members.get(str(event.get("username")))
            if self._is_current_room(event.get("room")) and member is not None:
                member["hand"] = bool(event.get("up"))
        elif kind == MsgType.LOBBY_UPDATE:
            rooms = event.get("rooms")
            if isinstance(rooms, list):
                self._rooms = rooms
        elif kind == MsgType.SESSION_CLOSED:
            reason = event.get("reason")
            logger.info("the server closed this session: %s", reason)
            if reason == "replaced":
                self._replaced = True
        self._emit(event)

    def _on_media_packet(self, packet: bytes) -> None:
        handler = self.on_media_packet
        if handler is not None:
            handler(packet)

    # -- internals: delivery ---------------------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> None:
        self._push(event)
        kind = event.get("type", "")
        for callback in [*self._handlers.get(kind, ()), *self._handlers.get(ANY_EVENT, ())]:
            try:
                result = callback(event)
            except Exception:
                logger.exception("event callback failed on %s", kind)
                continue
            if inspect.isawaitable(result):
                self._spawn(result)

    def _push(self, event: dict[str, Any] | None) -> None:
        if event is None:
            self._queue.put_nowait(None)  # the end marker is never dropped
            return
        if self._closed:
            return
        while self._queue.qsize() >= self._queue_limit:
            self._queue.get_nowait()
            self._dropped_events += 1
            if self._dropped_events in (1, 10, 100) or self._dropped_events % 1000 == 0:
                logger.warning("event queue full: %d event(s) dropped so far; "
                               "consume events() or use on()", self._dropped_events)
        self._queue.put_nowait(event)

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())
