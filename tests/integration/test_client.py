"""`MeetingClient` end to end against a real server process (PROTOCOL.md §3, pinning,
keepalive and auto-reconnect)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pymeet.client import (
    CONNECTION_FAILED,
    CONNECTION_LOST,
    CONNECTION_RESTORED,
    CertificateMismatch,
    ConnectionClosed,
    KnownServers,
    MeetingClient,
    RequestError,
    UntrustedServer,
    format_fingerprint,
)
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout

PASSWORD = "correct horse battery"
ROOM_PASSWORD = "members only"

Event = dict[str, Any]
ClientFactory = Callable[..., Awaitable[MeetingClient]]


def read_pins(path: Path) -> dict[str, str]:
    """The known-servers file as a dict ({} when it does not exist)."""
    if not path.exists():
        return {}
    pins: dict[str, str] = json.loads(path.read_text())
    return pins


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that do not stop it (they use unique names)."""
    server = ServerProcess(tmp_path_factory.mktemp("client")).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test pins into its own file, never into the real home."""
    path = tmp_path / "config" / "known_servers.json"
    monkeypatch.setenv("PYMEET_KNOWN_SERVERS", str(path))
    return path


@pytest.fixture
async def connect() -> AsyncIterator[ClientFactory]:
    """Connect clients; all closed at teardown."""
    opened: list[MeetingClient] = []

    async def open_client(server: ServerProcess, **options: Any) -> MeetingClient:
        async with asyncio.timeout(timeout(20)):
            client = await MeetingClient.connect(server.host, server.port, **options)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.close()


async def user(connect: ClientFactory, server: ServerProcess, prefix: str = "u",
               **options: Any) -> MeetingClient:
    """A connected client logged in as a fresh user."""
    client = await connect(server, **options)
    name = unique(prefix)
    await client.register(name, f"{name}@example.org", PASSWORD)
    await client.login(name, PASSWORD)
    return client


async def next_event(client: MeetingClient, kind: str,
                     predicate: Callable[[Event], bool] = lambda event: True,
                     within: float = 10.0) -> Event:
    """The next event of ``kind`` that satisfies ``predicate`` (earlier ones are consumed)."""
    async with asyncio.timeout(timeout(within)):
        async with contextlib.aclosing(client.events()) as events:
            async for event in events:
                if event["type"] == kind and predicate(event):
                    return event
    raise AssertionError(f"the event stream ended before a {kind} event")


def drain(client: MeetingClient) -> list[Event]:
    """Every event buffered right now."""
    taken = []
    while not client._queue.empty():
        event = client._queue.get_nowait()
        if event is not None:
            taken.append(event)
    return taken


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(timeout(within)):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def in_room(connect: ClientFactory, server: ServerProcess, count: int,
                  password: str | None = None) -> tuple[str, list[MeetingClient]]:
    """``count`` users in one fresh room, the first one its owner; events so far drained."""
    users = [await user(connect, server) for _ in range(count)]
    room = unique("Room ")
    await users[0].create_room(room, password)
    for member in users:
        await member.join_room(room, password)
    for member in users[:-1]:
        last = users[-1].username
        await next_event(member, "room.member_joined",
                         lambda e, last=last: e["member"]["username"] == last)
    for member in users:
        drain(member)
    return room, users


# -- session ------------------------------------------------------------------------------


async def test_register_login_and_session(shared: ServerProcess,
                                          connect: ClientFactory) -> None:
    client = await connect(shared)
    assert client.connected and client.username is None
    assert client.server_info["protocol"] == 1
    assert isinstance(await client.ping(), float)
    name = unique("Alice")
    assert await client.register(name, f"{name}@example.org", PASSWORD) == {
        "username": name, "email": f"{name}@example.org"}
    user_info = await client.login(f"{name}@EXAMPLE.org", PASSWORD)
    assert user_info["username"] == name
    assert client.username == name
    assert isinstance(client.session_token, str) and len(client.session_token) >= 32
    assert client.media is not None
    assert client.media.port == shared.udp_port
    assert 0 < client.media.ssrc < 2**32
    assert len(client.media.key) == 32
    assert client.media.key.hex() not in repr(client.media)
    online = await client.list_users()
    assert {"username": name, "room": None} in online


async def test_refusals_raise_request_error_with_code_and_field(
        shared: ServerProcess, connect: ClientFactory) -> None:
    client = await connect(shared)
    name = unique("u")
    await client.register(name, f"{name}@example.org", PASSWORD)
    with pytest.raises(RequestError) as caught:
        await client.register(name, f"other{name}@example.org", PASSWORD)
    assert caught.value.code == "user_exists"
    with pytest.raises(RequestError) as caught:
        await client.register(unique("u"), "not-an-email", PASSWORD)
    assert (caught.value.code, caught.value.field) == ("invalid_field", "email")
    with pytest.raises(RequestError) as caught:
        await client.login(name, "wrong password")
    assert caught.value.code == "auth_failed"
    with pytest.raises(RequestError) as caught:
        await client.list_rooms()
    assert caught.value.code == "unauthenticated"
    with pytest.raises(RequestError) as caught:
        await client.request("no.such.request")
    assert caught.value.code == "unknown_type"
    assert client.connected, "refusals keep the connection open"


# -- rooms and chat -----------------------------------------------------------------------


async def test_rooms_members_and_chat_both_ways(shared: ServerProcess,
                                               connect: ClientFactory) -> None:
    alice = await user(connect, shared, "alice")
    bob = await user(connect, shared, "bob")
    room = unique("Phòng họp ")
    info = await alice.create_room(room)
    assert info == {"name": room, "owner": alice.username, "members": 0, "locked": False}
    assert room in [r["name"] for r in await bob.list_rooms()]
    assert alice.room is None, "creating a room does not join it"

    joined = await alice.join_room(room)
    assert joined.name == room and alice.room == room
    assert list(alice.members) == [alice.username]
    first = await alice.send_chat("  before bob came  ")
    assert first["text"] == "before bob came" and first["from"] == alice.username

    joined = await bob.join_room(room)
    assert [m["text"] for m in joined.history] == ["before bob came"]
    assert set(bob.members) == {alice.username, bob.username}
    event = await next_event(alice, "room.member_joined")
    assert event["member"]["username"] == bob.username
    assert set(alice.members) == {alice.username, bob.username}

    sent = await alice.send_chat("hello bob")
    event = await next_event(bob, "chat.message")
    assert event["message"] == sent
    sent = await bob.send_chat("hello alice\nsecond line")
    event = await next_event(alice, "chat.message")
    assert event["message"] == sent

    member = await bob.update_media(mic=True, cam=False)
    assert member["mic"] is True and bob.mic and not bob.cam
    event = await next_event(alice, "room.member_updated")
    assert event["member"]["username"] == bob.username
    assert alice.members[bob.username or ""]["mic"] is True

    await bob.leave_room()
    assert bob.room is None and bob.members == {}
    event = await next_event(alice, "room.member_left")
    assert event["username"] == bob.username
    assert set(alice.members) == {alice.username}
    with pytest.raises(RequestError) as caught:
        await bob.send_chat("nobody hears this")
    assert caught.value.code == "not_in_room"


async def test_lobby_updates_track_member_counts(shared: ServerProcess,
                                                 connect: ClientFactory) -> None:
    alice = await user(connect, shared)
    watcher = await user(connect, shared)
    room = unique("Lobby")
    await alice.create_room(room)
    await alice.join_room(room)

    def counted(event: Event) -> bool:
        return any(r["name"] == room and r["members"] == 1 for r in event["rooms"])

    await next_event(watcher, "lobby.update", counted)
    assert any(r["name"] == room and r["members"] == 1 for r in watcher.rooms)


async def test_locked_room_and_delete(shared: ServerProcess, connect: ClientFactory) -> None:
    room, (owner, guest) = await in_room(connect, shared, 2, ROOM_PASSWORD)
    outsider = await user(connect, shared)
    with pytest.raises(RequestError) as caught:
        await outsider.join_room(room, "guess")
    assert caught.value.code == "wrong_password"
    with pytest.raises(RequestError) as caught:
        await guest.delete_room(room)
    assert caught.value.code == "forbidden"
    await owner.delete_room(room)
    assert owner.room is None
    event = await next_event(guest, "room.deleted")
    assert event["room"] == room
    assert guest.room is None and guest.members == {}
    with pytest.raises(RequestError) as caught:
        await guest.join_room(room, ROOM_PASSWORD)
    assert caught.value.code == "room_not_found"


# -- direct messages and invitations ------------------------------------------------------


async def test_direct_messages_online_and_offline(shared: ServerProcess,
                                                  connect: ClientFactory) -> None:
    alice = await user(connect, shared)
    bob = await user(connect, shared)
    bob_name = bob.username or ""
    first = await alice.send_dm(bob_name, "are you there?")
    event = await next_event(bob, "dm.message")
    assert event["message"] == first

    await bob.logout()
    assert bob.closed and not bob.connected
    with pytest.raises(ConnectionClosed):
        await bob.ping()
    await next_event(alice, "presence", lambda e: e["username"] == bob_name
                     and e["online"] is False)
    second = await alice.send_dm(bob_name, "left you a note")

    bob_again = await connect(shared)
    await bob_again.login(bob_name, PASSWORD)
    event = await next_event(bob_again, "dm.message")
    assert event["message"] == second
    history = await bob_again.dm_history(alice.username or "")
    assert [m["text"] for m in history] == ["are you there?", "left you a note"]
    with pytest.raises(RequestError) as caught:
        await alice.send_dm(unique("ghost"), "hello?")
    assert caught.value.code == "user_not_found"


async def test_invitation_into_a_locked_room(shared: ServerProcess,
                                             connect: ClientFactory) -> None:
    room, (alice,) = await in_room(connect, shared, 1, ROOM_PASSWORD)
    bob = await user(connect, shared)
    await alice.invite(bob.username or "")
    event = await next_event(bob, "call.invite")
    assert event == {"type": "call.invite", "from": alice.username, "room": room}
    await bob.answer(alice.username or "", accept=True)
    event = await next_event(alice, "call.answer")
    assert event["from"] == bob.username and event["accept"] is True
    joined = await bob.join_room(room)
    assert joined.name == room
    await next_event(alice, "room.member_joined")

    offline = unique("offline")
    await bob.register(offline, f"{offline}@example.org", PASSWORD)
    with pytest.raises(RequestError) as caught:
        await alice.invite(offline)
    assert caught.value.code == "user_offline"


async def test_callbacks_sync_async_and_wildcard(shared: ServerProcess,
                                                 connect: ClientFactory) -> None:
    _, (alice, bob) = await in_room(connect, shared, 2)
    sync_seen: list[str] = []
    async_seen: list[str] = []
    everything: list[str] = []

    async def on_chat_async(event: Event) -> None:
        await asyncio.sleep(0)
        async_seen.append(event["message"]["text"])

    remove = bob.on("chat.message", lambda e: sync_seen.append(e["message"]["text"]))
    bob.on("chat.message", on_chat_async)
    bob.on("*", lambda e: everything.append(e["type"]))
    await alice.send_chat("one")
    await until(lambda: len(async_seen) == 1 and len(sync_seen) == 1)
    remove()
    await alice.send_chat("two")
    await until(lambda: len(async_seen) == 2)
    assert sync_seen == ["one"]
    assert async_seen == ["one", "two"]
    assert everything.count("chat.message") == 2


# -- trust on first use ---------------------------------------------------------------------


async def test_first_use_pins_and_asks_only_once(shared: ServerProcess,
                                                 connect: ClientFactory, pins: Path) -> None:
    asked: list[tuple[str, str]] = []

    def ask(host_port: str, fingerprint: str) -> bool:
        asked.append((host_port, fingerprint))
        return True

    client = await connect(shared, on_new_server=ask)
    key = f"127.0.0.1:{shared.port}"
    assert asked == [(key, shared.fingerprint)]
    assert client.fingerprint == shared.fingerprint
    assert read_pins(pins) == {key: shared.fingerprint}
    await connect(shared, on_new_server=ask)
    assert len(asked) == 1, "a pinned server is not asked about again"


async def test_declined_server_is_not_pinned(shared: ServerProcess, connect: ClientFactory,
                                             pins: Path) -> None:
    with pytest.raises(UntrustedServer):
        await connect(shared, on_new_server=lambda host_port, fingerprint: False)
    assert read_pins(pins) == {}


async def test_changed_certificate_is_refused(shared: ServerProcess, connect: ClientFactory,
                                              pins: Path) -> None:
    key = f"127.0.0.1:{shared.port}"
    wrong = "0f" * 32
    KnownServers(pins).pin(key, wrong)
    with pytest.raises(CertificateMismatch) as caught:
        await connect(shared)
    message = str(caught.value)
    assert "has changed" in message
    assert format_fingerprint(wrong) in message
    assert format_fingerprint(shared.fingerprint) in message
    assert KnownServers(pins).get(key) == wrong, "the old pin stays until the user removes it"
    with pytest.raises(CertificateMismatch):
        await connect(shared, fingerprint=wrong)
    client = await connect(shared, fingerprint=format_fingerprint(shared.fingerprint))
    assert client.connected


# -- keepalive and reconnect ----------------------------------------------------------------


async def test_keepalive_holds_an_idle_connection(server_factory: Callable[..., ServerProcess],
                                                  connect: ClientFactory) -> None:
    server = await asyncio.to_thread(server_factory, "--idle-timeout", "1.5")
    kept = await user(connect, server, keepalive_interval=0.3)
    silent = await user(connect, server, keepalive_interval=3600, auto_reconnect=False)
    event = await next_event(silent, CONNECTION_LOST)
    assert event["will_reconnect"] is False
    assert kept.connected
    assert not [e for e in drain(kept) if e["type"] == CONNECTION_LOST]
    assert isinstance(await kept.ping(), float)


async def test_reconnects_after_a_server_restart(server_factory: Callable[..., ServerProcess],
                                                 connect: ClientFactory) -> None:
    server = await asyncio.to_thread(server_factory, "--port", str(free_port()))
    room, (alice, bob) = await in_room(connect, server, 2, ROOM_PASSWORD)
    await bob.update_media(mic=True, cam=False)
    drain(alice)
    old_key = alice.media.key if alice.media else b""

    await asyncio.to_thread(server.stop)
    for client in (alice, bob):
        event = await next_event(client, CONNECTION_LOST)
        assert event["will_reconnect"] is True
    assert not alice.connected
    with pytest.raises(ConnectionClosed):
        await alice.send_chat("into the void")

    await asyncio.to_thread(server.start)
    for client in (alice, bob):
        event = await next_event(client, CONNECTION_RESTORED, within=30)
        assert event["room"] == room
        assert client.connected and client.room == room
    assert alice.media is not None and alice.media.key != old_key, "a new login, a new key"
    assert bob.mic is True, "the mic state is announced again"
    await until(lambda: set(alice.members) == {alice.username, bob.username}
                and set(bob.members) == {alice.username, bob.username})

    sent = await alice.send_chat("still here?")
    event = await next_event(bob, "chat.message")
    assert event["message"] == sent
    sent = await bob.send_chat("yes")
    event = await next_event(alice, "chat.message")
    assert event["message"] == sent


async def test_replaced_session_stops_reconnecting(shared: ServerProcess,
                                                   connect: ClientFactory) -> None:
    first = await user(connect, shared)
    name = first.username or ""
    second = await connect(shared)
    await second.login(name, PASSWORD)
    event = await next_event(first, "session.closed")
    assert event["reason"] == "replaced"
    event = await next_event(first, CONNECTION_LOST)
    assert event["will_reconnect"] is False
    await until(lambda: first.closed)
    assert [e async for e in first.events()] == [], "the event stream ends"
    with pytest.raises(ConnectionClosed):
        await first.ping()
    assert second.connected and second.username == name
    assert isinstance(await second.ping(), float)


async def test_reconnect_checks_the_pin_again(server_factory: Callable[..., ServerProcess],
                                              connect: ClientFactory) -> None:
    port = str(free_port())
    original = await asyncio.to_thread(server_factory, "--port", port)
    client = await user(connect, original)
    await asyncio.to_thread(original.stop)
    await next_event(client, CONNECTION_LOST)
    # Another server (another data directory, so another certificate) on the same address.
    impostor = await asyncio.to_thread(server_factory, "--port", port)
    assert impostor.fingerprint != original.fingerprint
    event = await next_event(client, CONNECTION_FAILED, within=30)
    assert "has changed" in event["reason"]
    await until(lambda: client.closed)
    assert not client.connected
