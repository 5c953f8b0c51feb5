"""`pymeet chat` driven through pipes by real processes against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from pymeet.client import KnownServers, format_fingerprint
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout

PASSWORD = "correct horse battery"


def read_pins(path: Path) -> dict[str, str]:
    """The known-servers file as a dict ({} when it does not exist)."""
    if not path.exists():
        return {}
    pins: dict[str, str] = json.loads(path.read_text())
    return pins


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class ChatProcess:
    """One ``pymeet chat`` process: lines written to its stdin, its stdout read line by
    line; `expect` waits for a matching line and moves past it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._cursor = 0
        self._changed = asyncio.Event()
        self._pump = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))
            self._changed.set()
        self._changed.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def send(self, *lines: str) -> None:
        assert self.process.stdin is not None
        for line in lines:
            self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def expect(self, pattern: str, within: float = 15.0) -> str:
        """The first line from the cursor on that matches ``pattern`` (a regex)."""
        regex = re.compile(pattern)
        try:
            async with asyncio.timeout(timeout(within)):
                while True:
                    for index in range(self._cursor, len(self.lines)):
                        if regex.search(self.lines[index]):
                            self._cursor = index + 1
                            return self.lines[index]
                    if self._pump.done():
                        break
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pass
        raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")

    async def finish(self, within: float = 20.0) -> int:
        """Close stdin (end of input) and return the exit status."""
        assert self.process.stdin is not None
        with contextlib.suppress(ConnectionError):
            self.process.stdin.close()
        async with asyncio.timeout(timeout(within)):
            code = await self.process.wait()
            await self._pump
        return code

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump


ChatFactory = Callable[..., Awaitable[ChatProcess]]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("chat_cli")).start()
    yield server
    server.stop()


@pytest.fixture
def pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "known_servers.json"
    monkeypatch.setenv("PYMEET_KNOWN_SERVERS", str(path))
    return path


@pytest.fixture
async def chat(pins: Path) -> AsyncIterator[ChatFactory]:
    """Start ``pymeet chat`` processes; any still running are killed at teardown."""
    started: list[ChatProcess] = []

    async def start(server: ServerProcess, *args: str, password: str | None = PASSWORD,
                    trust: bool = True) -> ChatProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYMEET_KNOWN_SERVERS=str(pins))
        env.pop("PYMEET_PASSWORD", None)
        if password is not None:
            env["PYMEET_PASSWORD"] = password
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pymeet", "chat", "--server", f"127.0.0.1:{server.port}",
            *(["--trust"] if trust else []), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=env,
        )
        started.append(ChatProcess(process))
        return started[-1]

    yield start
    for process in started:
        await process.kill()


async def test_two_people_meet_in_a_room_and_talk(shared: ServerProcess, chat: ChatFactory) -> None:
    alice_name, bob_name, room = unique("alice"), unique("bob"), unique("Lounge ")
    alice = await chat(shared, "--user", alice_name, "--register",
                       "--email", f"{alice_name}@example.org")
    await alice.expect(rf"\* logged in as {alice_name}$")
    await alice.send(f'/create "{room}"', f'/join "{room}"')
    await alice.expect(rf"\* you joined #{room}; members: {alice_name} \(you\)")
    await alice.send("first words")
    await alice.expect(rf"^\[\d\d:\d\d:\d\d\] #{room} <{alice_name}> first words$")

    bob = await chat(shared, "--user", bob_name, "--register",
                     "--email", f"{bob_name}@example.org", "--room", room)
    await bob.expect(rf"\* you joined #{room}; members: ")
    await bob.expect(rf"#{room} <{alice_name}> first words$")  # the history
    await alice.expect(rf"\* {bob_name} joined #{room}$")

    await alice.send(f"welcome {bob_name}!")
    await bob.expect(rf"^\[\d\d:\d\d:\d\d\] #{room} <{alice_name}> welcome {bob_name}!$")
    await bob.send("thanks, glad to be here")
    await alice.expect(rf"#{room} <{bob_name}> thanks, glad to be here$")

    await bob.send(f"/msg {alice_name} a private word")
    await bob.expect(rf"\[DM to {alice_name}\] a private word$")
    await alice.expect(rf"^\[\d\d:\d\d:\d\d\] \[DM from {bob_name}\] a private word$")

    await alice.send("/users")
    users = await alice.expect(r"^online: ")
    assert f"{alice_name} (in #{room})" in users and f"{bob_name} (in #{room})" in users

    assert await bob.finish() == 0
    await alice.expect(rf"\* {bob_name} left #{room}$")
    await alice.expect(rf"\* {bob_name} is offline$")
    assert await alice.finish() == 0


async def test_invitation_accepted_from_the_command_line(shared: ServerProcess,
                                                         chat: ChatFactory) -> None:
    host_name, guest_name, room = unique("host"), unique("guest"), unique("Locked")
    host = await chat(shared, "--user", host_name, "--register",
                      "--email", f"{host_name}@example.org")
    guest = await chat(shared, "--user", guest_name, "--register",
                       "--email", f"{guest_name}@example.org")
    await host.expect(r"\* logged in as")
    await guest.expect(r"\* logged in as")
    await host.send(f"/create {room} s3cret-pass", f"/join {room} s3cret-pass")
    await host.expect(rf"\* you joined #{room}")
    await host.send(f"/invite {guest_name}")
    await host.expect(rf"\* invited {guest_name} to #{room}")
    line = await guest.expect(rf"{host_name} invites you to #{room}")
    assert f"/accept {host_name}" in line
    await guest.send(f"/accept {host_name}")
    await guest.expect(rf"\* you joined #{room}")
    await host.expect(rf"\* {guest_name} accepted your invitation")
    await host.expect(rf"\* {guest_name} joined #{room}")
    assert await guest.finish() == 0
    assert await host.finish() == 0


async def test_errors_are_one_clear_line(shared: ServerProcess, chat: ChatFactory) -> None:
    name = unique("err")
    client = await chat(shared, "--user", name, "--register",
                        "--email", f"{name}@example.org")
    await client.expect(r"\* logged in as")
    await client.send("/join no-such-room", "talking to nobody", "/bogus", "/mic maybe")
    await client.expect(r"^error: room_not_found: .+")
    await client.expect(r"^error: not_in_room: .+")
    await client.expect(r"^error: unknown command /bogus \(try /help\)$")
    await client.expect(r"^error: usage: /mic on\|off$")
    assert await client.finish() == 0


async def test_wrong_password_is_reported(shared: ServerProcess, chat: ChatFactory) -> None:
    name = unique("pw")
    first = await chat(shared, "--user", name, "--register", "--email", f"{name}@example.org")
    await first.expect(r"\* logged in as")
    assert await first.finish() == 0
    second = await chat(shared, "--user", name, password="not the password")
    await second.expect(r"^error: auth_failed: ")
    assert await second.finish() == 0


async def test_first_contact_asks_and_pins(shared: ServerProcess, chat: ChatFactory,
                                           pins: Path) -> None:
    client = await chat(shared, trust=False, password=None)
    await client.expect(rf"^  {format_fingerprint(shared.fingerprint)}$")
    await client.send("y")
    await client.expect(r"Trust this server\? \[y/N\] Pinned\.$")
    await client.expect(r"^connected to ")
    assert await client.finish() == 0
    assert read_pins(pins) == {f"127.0.0.1:{shared.port}": shared.fingerprint}

    again = await chat(shared, trust=False, password=None)
    await again.expect(r"^connected to ")
    assert "Trust this server?" not in again.output, "a pinned server is not asked about"
    assert await again.finish() == 0


async def test_declining_first_contact_disconnects(shared: ServerProcess, chat: ChatFactory,
                                                   pins: Path) -> None:
    client = await chat(shared, trust=False, password=None)
    await client.expect(r"^Compare it with the fingerprint")
    await client.send("n")
    await client.expect(r"^error: .*was not trusted")
    assert await client.finish() == 1
    assert read_pins(pins) == {}


async def test_changed_certificate_is_refused(shared: ServerProcess, chat: ChatFactory,
                                              pins: Path) -> None:
    key = f"127.0.0.1:{shared.port}"
    KnownServers(pins).pin(key, "ee" * 32)
    client = await chat(shared)
    await client.expect(rf"^error: WARNING: the identity of server {re.escape(key)} has changed")
    await client.expect(re.escape(format_fingerprint(shared.fingerprint)))
    await client.expect(r"--forget-server")
    assert await client.finish() == 1
    assert KnownServers(pins).get(key) == "ee" * 32

    forgetful = await chat(shared, "--forget-server")
    await forgetful.expect(rf"forgot the pinned fingerprint of {re.escape(key)}")
    await forgetful.expect(r"^connected to ")
    assert await forgetful.finish() == 0
    assert KnownServers(pins).get(key) == shared.fingerprint


async def test_password_from_the_next_line_when_piped(shared: ServerProcess,
                                                      chat: ChatFactory) -> None:
    name = unique("piped")
    client = await chat(shared, password=None)
    await client.expect(r"not logged in")
    await client.send(f"/register {name} {name}@example.org", PASSWORD)
    await client.expect(rf"\* account {name} created")
    await client.expect(rf"\* logged in as {name}")
    assert await client.finish() == 0


async def test_interrupt_logs_out_and_exits_cleanly(shared: ServerProcess,
                                                    chat: ChatFactory) -> None:
    watcher_name, leaver_name = unique("watch"), unique("leave")
    watcher = await chat(shared, "--user", watcher_name, "--register",
                         "--email", f"{watcher_name}@example.org")
    await watcher.expect(r"\* logged in as")
    leaver = await chat(shared, "--user", leaver_name, "--register",
                        "--email", f"{leaver_name}@example.org")
    await leaver.expect(r"\* logged in as")
    await watcher.expect(rf"\* {leaver_name} is online$")
    leaver.process.send_signal(signal.SIGINT)
    async with asyncio.timeout(timeout(20)):
        assert await leaver.process.wait() == 0
    await watcher.expect(rf"\* {leaver_name} is offline$")
    assert await watcher.finish() == 0


async def test_shows_connection_lost_and_restored(
        server_factory: Callable[..., ServerProcess], chat: ChatFactory) -> None:
    server = await asyncio.to_thread(server_factory, "--port", str(free_port()))
    name, room = unique("steady"), unique("Steady")
    client = await chat(server, "--user", name, "--register", "--email", f"{name}@example.org")
    await client.expect(r"\* logged in as")
    await client.send(f"/create {room}", f"/join {room}")
    await client.expect(rf"\* you joined #{room}")
    await asyncio.to_thread(server.restart)
    await client.expect(r"the server closed this session: the server is shutting down")
    await client.expect(r"\* connection lost \(.*\); reconnecting\.\.\.$")
    await client.expect(rf"\* connection restored \(back in #{room}\)$", within=30)
    await client.send("still talking")
    await client.expect(rf"#{room} <{name}> still talking$")
    assert await client.finish() == 0
