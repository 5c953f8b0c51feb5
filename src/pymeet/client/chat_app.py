"""The interactive session behind ``pymeet chat``: input lines in, readable lines out.

`ChatApp` owns one `MeetingClient`. Input is read by `InputThread`, one line (or one
hidden password) at a time on request, so the event loop never blocks on the terminal
and a password prompt never races a pending line read. Commands are handled strictly
one after another, each waiting for its reply, which is what makes piped scripts
deterministic. Incoming events are printed by a separate task as they arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import queue
import shlex
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from pymeet.client.chat_format import (
    clock,
    describe_event,
    format_chat,
    format_dm,
    format_members,
    format_rooms,
    format_users,
    lobby_summary,
)
from pymeet.client.errors import ClientError, ConnectionClosed
from pymeet.client.known_servers import KnownServers, format_fingerprint
from pymeet.client.meeting_client import (
    CONNECTION_FAILED,
    CONNECTION_LOST,
    MeetingClient,
)
from pymeet.protocol.errors import RequestError

__all__ = ["ChatApp", "InputThread"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
PASSWORD_ENV = "PYMEET_PASSWORD"
SHUTDOWN_TIMEOUT = 5.0


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or a lost session asked the app to stop."""


class InputThread:
    """Runs blocking terminal reads in one daemon thread, one at a time, on request.

    A daemon thread (not the loop's executor) so that a read still blocked at exit
    never holds the process open.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._jobs: queue.Queue[tuple[Callable[[], Any], asyncio.Future[Any],
                                      asyncio.AbstractEventLoop]] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="pymeet-chat-input",
                                        daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job, future, loop = self._jobs.get()
            try:
                result: Any = job()
                error: BaseException | None = None
            except BaseException as exc:  # delivered to the awaiting coroutine
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop may be gone at exit
                loop.call_soon_threadsafe(_settle, future, result, error)

    async def call(self, job: Callable[[], T]) -> T:
        """Run ``job`` in the input thread and return its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, future, loop))
        return await future

    async def readline(self) -> str | None:
        """The next input line without its line ending, or None at end of input."""
        line = await self.call(self._stream.readline)
        return line.rstrip("\r\n") if line else None

    def isatty(self) -> bool:
        """True when input is an interactive terminal."""
        isatty = getattr(self._stream, "isatty", None)
        return bool(isatty and isatty())


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


@dataclass(frozen=True)
class Command:
    """One slash command: its handler, its argument synopsis and a line of help."""

    handler: Callable[[ChatApp, str], Awaitable[None]]
    usage: str
    help: str


class ChatApp:
    """One interactive chat session (see the module docstring)."""

    def __init__(self, args: argparse.Namespace, host: str, port: int,
                 known_servers: KnownServers, *, stdin: TextIO | None = None,
                 stdout: TextIO | None = None) -> None:
        self.args = args
        self.host = host
        self.port = port
        self.known_servers = known_servers
        self.stdout = stdout or sys.stdout
        self.input = InputThread(stdin or sys.stdin)
        self.client: MeetingClient | None = None
        self.exit_code = 0
        self._stop: asyncio.Event | None = None
        self._quit = False
        self._invites: dict[str, tuple[str, str]] = {}
        self._last_lobby: str | None = None
        self._printer: asyncio.Task[None] | None = None
        self._sent_dm_ids: set[Any] = set()

    # -- output ------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """Print one line (or several) at once."""
        print(text, file=self.stdout, flush=True)

    def error(self, exc: BaseException | str) -> None:
        """Print an error as one clear line: ``error: code: message``."""
        if isinstance(exc, RequestError):
            text = f"{exc.raw_code}: {exc.message}"
            if exc.field:
                text += f" (field {exc.field})"
            retry_after = exc.extra.get("retry_after")
            if retry_after is not None:
                text += f" (retry after {retry_after} s)"
        else:
            text = str(exc)
        self.say(f"error: {text}")

    def _me(self) -> str | None:
        return self.client.username if self.client is not None else None

    # -- life cycle ----------------------------------------------------------------------

    async def run(self) -> int:
        """Connect, log in and join as asked, then handle input until it ends."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._stop.set)
        try:
            await self._guard(self._connect())
            if self.client is None:
                return self.exit_code
            self._printer = asyncio.create_task(self._print_events())
            await self._guard(self._start())
            while not self._quit:
                line = await self._guard(self.input.readline())
                if line is None:
                    break
                await self._guard(self.handle_line(line))
        except Interrupted:
            pass
        finally:
            await self._shutdown()
        return self.exit_code

    async def _guard(self, awaitable: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        """Await ``awaitable`` unless a stop is requested first (then `Interrupted`)."""
        assert self._stop is not None
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise Interrupted

    async def _connect(self) -> None:
        try:
            self.client = await MeetingClient.connect(
                self.host, self.port, known_servers=self.known_servers,
                fingerprint=self.args.fingerprint, on_new_server=self._ask_trust,
                client_name="pymeet-chat/0.1",
            )
        except (ClientError, RequestError, ValueError) as exc:
            self.error(exc)
            self.exit_code = 1
            return
        server = self.client.server_info.get("server", "PyMeet server")
        self.say(f"connected to {self.host}:{self.port} ({server}); /help lists commands")

    async def _ask_trust(self, host_port: str, fingerprint: str) -> bool:
        self.say(f"The server {host_port} is not known yet. Its certificate fingerprint "
                 f"(SHA-256) is\n  {format_fingerprint(fingerprint)}\n"
                 "Compare it with the fingerprint the server printed when it started.")
        if self.args.trust:
            self.say("Trusting it (--trust); it is now pinned.")
            return True
        print("Trust this server? [y/N] ", end="", file=self.stdout, flush=True)
        answer = await self.input.readline()
        trusted = answer is not None and answer.strip().lower() in ("y", "yes")
        self.say("Pinned." if trusted else "Not trusted; disconnecting.")
        return trusted

    async def _start(self) -> None:
        args = self.args
        if args.register:
            await self._safely(self._register_then_login(args.user, args.email))
        elif args.user:
            await self._safely(self.cmd_login(_quote(args.user)))
        else:
            self.say("not logged in: /login NAME, or /register NAME EMAIL")
        if args.room and self._me() is not None:
            await self._safely(self._join(args.room, None))

    async def _register_then_login(self, username: str, email: str) -> None:
        password = await self._password(f"Choose a password for {username}: ", confirm=True)
        if password is None:
            raise UsageError("no password given")
        try:
            user = await self._client().register(username, email, password)
        except RequestError as exc:
            if exc.raw_code != "user_exists":
                raise
            self.error(exc)  # already there: logging in is what the user wants next
        else:
            self.say(f"* account {user['username']} created")
        await self._login(username, password)

    async def _shutdown(self) -> None:
        client = self.client
        if client is not None:
            if client.connected and client.username is not None:
                with contextlib.suppress(ClientError, RequestError, TimeoutError):
                    async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                        await client.logout()
            await client.close()
        if self._printer is not None:
            try:
                async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                    await self._printer
            except TimeoutError:
                self._printer.cancel()

    # -- incoming events ------------------------------------------------------------------

    async def _print_events(self) -> None:
        assert self.client is not None
        async for event in self.client.events():
            kind = event.get("type")
            now = time.time()
            if kind == "lobby.update":
                summary = lobby_summary(event.get("rooms") or [])
                if summary != self._last_lobby:
                    self._last_lobby = summary
                    self.say(f"{clock(now)} * lobby: {summary}")
                continue
            if kind == "dm.message" and self._already_shown(event):
                continue
            if kind == "call.invite":
                sender = str(event.get("from"))
                self._invites[sender.casefold()] = (sender, str(event.get("room")))
            line = describe_event(event, self._me(), now)
            if line is not None:
                self.say(line)
            lost_for_good = kind == CONNECTION_LOST and not event.get("will_reconnect")
            if lost_for_good or kind == CONNECTION_FAILED:
                self.exit_code = 1
                if self._stop is not None:
                    self._stop.set()

    def _already_shown(self, event: dict[str, Any]) -> bool:
        # A DM to oneself also comes back as an event; it was shown from the reply.
        message = event.get("message") or {}
        if message.get("id") in self._sent_dm_ids:
            self._sent_dm_ids.discard(message.get("id"))
            return True
        return False

    # -- commands ---------------------------------------------------------------------------

    async def handle_line(self, line: str) -> None:
        """Handle one input line; errors are printed, never raised."""
        text = line.strip()
        if not text:
            return
        if text.startswith("//"):
            await self._safely(self._send_text(text[1:]))
        elif text.startswith("/"):
            name, _, rest = text[1:].partition(" ")
            command = COMMANDS.get(name.lower())
            if command is None:
                self.error(f"unknown command /{name} (try /help)")
                return
            await self._safely(command.handler(self, rest.strip()))
        else:
            await self._safely(self._send_text(line))

    async def _safely(self, action: Awaitable[None]) -> None:
        """Run one action; its failure is printed as one line."""
        try:
            await action
        except (RequestError, ClientError, UsageError) as exc:
            self.error(exc)

    async def _send_text(self, text: str) -> None:
        message = await self._client().send_chat(text)
        self.say(format_chat(message, time.time()))

    def _client(self) -> MeetingClient:
        if self.client is None:
            raise ConnectionClosed("not connected")
        return self.client

    async def _password(self, prompt: str, *, confirm: bool = False) -> str | None:
        from_env = os.environ.get(PASSWORD_ENV)
        if from_env:
            return from_env
        if self.input.isatty():
            password = await self.input.call(lambda: getpass.getpass(prompt))
            if confirm:
                again = await self.input.call(lambda: getpass.getpass("Repeat it: "))
                if again != password:
                    raise UsageError("the two passwords differ")
            return password
        print(prompt, end="", file=self.stdout, flush=True)
        line = await self.input.readline()
        print(file=self.stdout, flush=True)
        return line

    async def cmd_help(self, rest: str) -> None:
        lines = ["commands:"]
        for name, command in COMMANDS.items():
            lines.append(f"  /{name} {command.usage}".rstrip().ljust(30) + f" {command.help}")
        lines.append("  any other line is sent to the current room (start it with // to "
                     "send a leading /)")
        lines.append('  names with spaces go in quotes: /join "Phòng họp 1"')
        self.say("\n".join(lines))

    async def cmd_register(self, rest: str) -> None:
        username, email = _args(rest, "/register NAME EMAIL", 2, 2)
        password = await self._password(f"Choose a password for {username}: ", confirm=True)
        if password is None:
            raise UsageError("no password given")
        user = await self._client().register(username, email, password)
        self.say(f"* account {user['username']} created")
        await self._login(username, password)

    async def cmd_login(self, rest: str) -> None:
        (username,) = _args(rest, "/login NAME", 1, 1)
        password = await self._password(f"Password for {username}: ")
        if password is None:
            raise UsageError("no password given")
        await self._login(username, password)

    async def _login(self, username: str, password: str) -> None:
        user = await self._client().login(username, password)
        self.say(f"* logged in as {user['username']}")

    async def cmd_rooms(self, rest: str) -> None:
        rooms = await self._client().list_rooms()
        self.say("\n".join(["rooms:", *format_rooms(rooms)]))

    async def cmd_create(self, rest: str) -> None:
        name, *password = _room_args(rest, "/create NAME [PASSWORD]")
        room = await self._client().create_room(name, password[0] if password else None)
        lock = " (locked)" if room.get("locked") else ""
        self.say(f"* created #{room['name']}{lock}; /join {_quote(room['name'])} to enter")

    async def cmd_join(self, rest: str) -> None:
        name, *password = _room_args(rest, "/join NAME [PASSWORD]")
        await self._join(name, password[0] if password else None)

    async def _join(self, name: str, password: str | None) -> None:
        result = await self._client().join_room(name, password)
        now = time.time()
        self.say(f"{clock(now)} * you joined #{result.name}; members: "
                 f"{format_members(result.members, self._me())}")
        if result.history:
            self.say("\n".join([f"  last {len(result.history)} message(s):",
                                *(format_chat(m, now) for m in result.history)]))

    async def cmd_leave(self, rest: str) -> None:
        room = self._client().room
        await self._client().leave_room()
        self.say(f"* you left #{room}; you are in the lobby")

    async def cmd_delete(self, rest: str) -> None:
        (name,) = _room_args(rest, "/delete NAME", password=False)
        await self._client().delete_room(name)
        self.say(f"* deleted #{name}")

    async def cmd_users(self, rest: str) -> None:
        self.say(format_users(await self._client().list_users()))

    async def cmd_who(self, rest: str) -> None:
        client = self._client()
        if client.room is None:
            raise UsageError("you are in the lobby (/join NAME)")
        self.say(f"#{client.room}: {format_members(client.members.values(), self._me())}")

    async def cmd_msg(self, rest: str) -> None:
        to, _, text = rest.partition(" ")
        if not to or not text.strip():
            raise UsageError("usage: /msg USER TEXT")
        message = await self._client().send_dm(to, text)
        if str(message.get("to", "")).casefold() == (self._me() or "").casefold():
            self._sent_dm_ids.add(message.get("id"))
        self.say(format_dm(message, self._me(), time.time()))

    async def cmd_history(self, rest: str) -> None:
        (other,) = _args(rest, "/history USER", 1, 1)
        messages = await self._client().dm_history(other)
        now = time.time()
        if not messages:
            self.say(f"(no direct messages with {other})")
            return
        self.say("\n".join(format_dm(m, self._me(), now) for m in messages))

    async def cmd_invite(self, rest: str) -> None:
        (to,) = _args(rest, "/invite USER", 1, 1)
        await self._client().invite(to)
        self.say(f"* invited {to} to #{self._client().room}")

    async def cmd_accept(self, rest: str) -> None:
        (sender,) = _args(rest, "/accept USER", 1, 1)
        await self._client().answer(sender, True)
        _, room = self._invites.pop(sender.casefold(), (sender, ""))
        if room:
            await self._join(room, None)
        else:
            self.say(f"* accepted the invitation of {sender}")

    async def cmd_decline(self, rest: str) -> None:
        (sender,) = _args(rest, "/decline USER", 1, 1)
        await self._client().answer(sender, False)
        self._invites.pop(sender.casefold(), None)
        self.say(f"* declined the invitation of {sender}")

    async def cmd_mic(self, rest: str) -> None:
        client = self._client()
        await self._media(mic=_on_off(rest, "/mic on|off"), cam=client.cam)

    async def cmd_cam(self, rest: str) -> None:
        client = self._client()
        await self._media(mic=client.mic, cam=_on_off(rest, "/cam on|off"))

    async def _media(self, *, mic: bool, cam: bool) -> None:
        member = await self._client().update_media(mic, cam)
        self.say(f"* mic {'on' if member.get('mic') else 'off'}, "
                 f"cam {'on' if member.get('cam') else 'off'}")

    async def cmd_quit(self, rest: str) -> None:
        self._quit = True


class UsageError(Exception):
    """A command typed with the wrong arguments; its text says how to type it."""


def _args(rest: str, usage: str, minimum: int, maximum: int) -> list[str]:
    try:
        parts = shlex.split(rest)
    except ValueError:
        raise UsageError(f"unbalanced quotes; usage: {usage}") from None
    if not minimum <= len(parts) <= maximum:
        raise UsageError(f"usage: {usage}")
    return parts


def _room_args(rest: str, usage: str, *, password: bool = True) -> list[str]:
    """A room name, then (``password``) an optional password. A name with spaces is
    quoted (``/join "Phòng họp 1" secret``); typed without quotes and without a
    password, the whole line is the name (``/join Phòng họp 1``)."""
    text = rest.strip()
    if text and not any(quote in text for quote in "'\"") and \
            len(text.split()) > (2 if password else 1):
        return [text]
    return _args(rest, f"{usage}  (quote a name with spaces)", 1, 2 if password else 1)


def _quote(name: str) -> str:
    return shlex.quote(name) if " " in name else name


def _on_off(rest: str, usage: str) -> bool:
    word = rest.strip().lower()
    if word not in ("on", "off"):
        raise UsageError(f"usage: {usage}")
    return word == "on"


COMMANDS: dict[str, Command] = {
    "help": Command(ChatApp.cmd_help, "", "show this list"),
    "register": Command(ChatApp.cmd_register, "NAME EMAIL", "create an account and log in"),
    "login": Command(ChatApp.cmd_login, "NAME", "log in (name or email)"),
    "rooms": Command(ChatApp.cmd_rooms, "", "list rooms"),
    "create": Command(ChatApp.cmd_create, "NAME [PASSWORD]",
                      "create a room (quote a name with spaces)"),
    "join": Command(ChatApp.cmd_join, "NAME [PASSWORD]",
                    "enter a room (quote a name with spaces)"),
    "leave": Command(ChatApp.cmd_leave, "", "go back to the lobby"),
    "delete": Command(ChatApp.cmd_delete, "NAME", "delete a room you own"),
    "users": Command(ChatApp.cmd_users, "", "who is online"),
    "who": Command(ChatApp.cmd_who, "", "who is in this room"),
    "msg": Command(ChatApp.cmd_msg, "USER TEXT", "send a direct message"),
    "history": Command(ChatApp.cmd_history, "USER", "direct messages with USER"),
    "invite": Command(ChatApp.cmd_invite, "USER", "invite USER into this room"),
    "accept": Command(ChatApp.cmd_accept, "USER", "accept USER's invitation and join"),
    "decline": Command(ChatApp.cmd_decline, "USER", "decline USER's invitation"),
    "mic": Command(ChatApp.cmd_mic, "on|off", "announce your microphone"),
    "cam": Command(ChatApp.cmd_cam, "on|off", "announce your camera"),
    "quit": Command(ChatApp.cmd_quit, "", "log out and exit"),
}
