"""Crashes and vanishing peers (PROTOCOL.md §3.2–§3.3 durability; docs/PROTOCOL.md
"Chat" and "Limits"; the client's auto-reconnect in src/pymeet/client/meeting_client.py).

- ``kill -9`` in the middle of a chat burst from several clients: after a restart on the
  same data directory every acknowledged message is in the history, and the SQLite file
  passes ``PRAGMA integrity_check``, both as the crash left it and after a clean stop.
- Two `MeetingClient`s in a room survive a ``kill -9`` and restart of the server: they
  reconnect, log in, rejoin the room and chat again by themselves.
- A client that vanishes without a FIN (a TCP proxy in between goes silent) is removed
  after the idle timeout; its room sees ``room.member_left`` and everyone ``presence``
  offline.

(tests/integration/test_persistence.py::test_acknowledged_messages_survive_kill_9 kills
one pipelining client; test_client.py::test_reconnects_after_a_server_restart stops the
server gracefully; test_connection_limits.py::test_idle_session_is_removed_and_its_room_told
uses a connected but silent client. These go further: several writers and an integrity
check, an unannounced kill, and a path that is cut without any packet.)
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pymeet.client import CONNECTION_LOST, CONNECTION_RESTORED, MeetingClient
from tests.support import secrets_registry
from tests.support.server_process import ServerProcess
from tests.support.tcp_proxy import TcpProxy
from tests.support.timeouts import timeout
from tests.support.wire import (
    DEFAULT_PASSWORD,
    Message,
    WireClient,
    clients_for,
    unique_name,
    unique_room,
)

DATABASE = "pymeet.sqlite3"
WRITERS_PER_ROOM = 3
CHATS_PER_WRITER = 15  # 3 x 15 = 45 per room: all within the 50-message join history
DMS_PER_WRITER = 10
KILL_AFTER_ACKS = 30


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of the database at ``path``, opened read-only."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return ", ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
    finally:
        db.close()


def crash_copy(data_dir: Path, scratch: Path) -> Path:
    """The database files exactly as the crash left them, copied so that opening them
    (which replays the WAL) does not touch what the restarted server will find."""
    scratch.mkdir()
    for suffix in ("", "-wal"):
        source = data_dir / (DATABASE + suffix)
        if source.exists():
            shutil.copy2(source, scratch / source.name)
    # A read-only open cannot replay a WAL; open read-write once on the copy to recover.
    sqlite3.connect(scratch / DATABASE).close()
    return scratch / DATABASE


def acked(client: WireClient, request_ids: list[int]) -> list[Message]:
    """The messages of the requests in ``request_ids`` that were acknowledged."""
    replies = {m["id"]: m for m in client.received
               if m["type"] == "reply" and m.get("id") in set(request_ids)}
    return [replies[i]["message"] for i in request_ids
            if i in replies and replies[i].get("ok") is True]


async def test_kill_9_during_a_chat_burst_keeps_every_acknowledged_message(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    started = time.monotonic()
    server = await asyncio.to_thread(server_factory)
    rooms = [unique_room("Burst"), unique_room("Burst")]
    async with clients_for(server) as clients:
        recipient = await clients.registered(unique_name("offline"))
        writers: list[tuple[WireClient, str]] = []
        for room in rooms:
            owner = await clients.user()
            await owner.create_room(room)
            for index in range(WRITERS_PER_ROOM):
                writer = owner if index == 0 else await clients.user()
                await writer.join(room)
                writers.append((writer, room))
        # Everyone pipelines at once; the server is killed while acks are still coming.
        sent: dict[int, tuple[list[int], list[int]]] = {}
        for number, (writer, _room) in enumerate(writers):
            chats = [await writer.send_request("chat.send", text=f"w{number} chat {i}")
                     for i in range(CHATS_PER_WRITER)]
            dms = [await writer.send_request("dm.send", to=recipient, text=f"w{number} dm {i}")
                   for i in range(DMS_PER_WRITER)]
            sent[number] = (chats, dms)

        burst = {(number, i) for number, (chats, dms) in sent.items() for i in chats + dms}

        def burst_replies() -> int:
            return sum(1 for number, (w, _) in enumerate(writers) for m in w.received
                       if m["type"] == "reply" and (number, m.get("id")) in burst)

        deadline = asyncio.get_running_loop().time() + timeout(10)
        while burst_replies() < KILL_AFTER_ACKS:
            assert asyncio.get_running_loop().time() < deadline, "the burst never got going"
            await asyncio.sleep(0.001)
        await asyncio.to_thread(server.kill)
        for writer, _ in writers:
            await writer.closed()
        acked_chats: dict[str, list[Message]] = {room: [] for room in rooms}
        acked_dms: dict[str, list[Message]] = {}
        for number, (writer, room) in enumerate(writers):
            chats, dms = sent[number]
            acked_chats[room] += acked(writer, chats)
            acked_dms[writer.username or ""] = acked(writer, dms)
        total_sent = len(writers) * (CHATS_PER_WRITER + DMS_PER_WRITER)
        total_acked = sum(map(len, acked_chats.values())) + sum(map(len, acked_dms.values()))
        assert total_acked > 0

    crashed = crash_copy(server.data_dir, tmp_path / "as-crashed")
    assert integrity(crashed) == "ok"

    await asyncio.to_thread(server.start)
    async with clients_for(server) as clients:
        for room in rooms:
            reader = await clients.user()
            history = (await reader.join(room))["history"]
            ids = [m["id"] for m in history]
            assert ids == sorted(set(ids)), "history is in id order, each message once"
            stored = {m["id"]: m for m in history}
            for message in acked_chats[room]:
                assert stored.get(message["id"]) == message, f"lost {message!r}"
            assert all(" chat " in m["text"] for m in history)
        for name, messages in acked_dms.items():
            writer = await clients.login(name)
            stored = {m["id"]: m for m in
                      (await writer.ok("dm.history", **{"with": recipient}))["messages"]}
            for message in messages:
                assert stored.get(message["id"]) == message, f"lost {message!r}"
    await asyncio.to_thread(server.stop)
    assert integrity(server.data_dir / DATABASE) == "ok"
    print(f"kill -9 after {total_acked} of {total_sent} requests were acknowledged "
          f"({len(writers)} writers, 2 rooms); all {total_acked} found after the restart; "
          f"integrity_check ok as crashed and after a clean stop; "
          f"{time.monotonic() - started:.1f} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def next_event(client: MeetingClient, kind: str, within: float = 20.0,
                     predicate: Callable[[dict[str, Any]], bool] = lambda e: True,
                     ) -> dict[str, Any]:
    async with asyncio.timeout(timeout(within)):
        async with contextlib.aclosing(client.events()) as events:
            async for event in events:
                if event["type"] == kind and predicate(event):
                    return event
    raise AssertionError(f"the event stream ended before a {kind} event")


def remember_secrets(client: MeetingClient) -> None:
    secrets_registry.record_session_token(client.session_token)
    if client.media is not None:
        secrets_registry.record_media_key(client.media.key)


async def test_clients_rejoin_and_chat_again_after_kill_9(
    server_factory: Callable[..., ServerProcess], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYMEET_KNOWN_SERVERS", str(tmp_path / "known_servers.json"))
    started = time.monotonic()
    server = await asyncio.to_thread(server_factory, "--port", str(free_port()))
    room, room_password = unique_room("Phoenix"), "rises again"
    secrets_registry.record_password(room_password)
    secrets_registry.record_password(DEFAULT_PASSWORD)
    clients: list[MeetingClient] = []
    try:
        for _ in range(2):
            client = await MeetingClient.connect(
                server.host, server.port, fingerprint=server.fingerprint,
                reconnect_initial_delay=0.1, reconnect_max_delay=1.0)
            clients.append(client)
            name = unique_name("phoenix")
            await client.register(name, f"{name}@example.org", DEFAULT_PASSWORD)
            await client.login(name, DEFAULT_PASSWORD)
            remember_secrets(client)
        alice, bob = clients
        await alice.create_room(room, room_password)
        for client in clients:
            await client.join_room(room, room_password)
        before = await alice.send_chat("before the crash")
        assert (await next_event(bob, "chat.message"))["message"] == before

        await asyncio.to_thread(server.kill)
        for client in clients:
            lost = await next_event(client, CONNECTION_LOST)
            assert lost["will_reconnect"] is True
        down_at = time.monotonic()
        await asyncio.to_thread(server.start)
        for client in clients:
            restored = await next_event(client, CONNECTION_RESTORED, within=30)
            assert restored["room"] == room and restored["rejoin_error"] is None
            assert client.connected and client.room == room
            remember_secrets(client)
        back_after = time.monotonic() - down_at
        names = {alice.username, bob.username}
        deadline = time.monotonic() + timeout(10)
        while not (set(alice.members) == names and set(bob.members) == names):
            assert time.monotonic() < deadline, (alice.members, bob.members)
            await asyncio.sleep(0.05)

        after = await bob.send_chat("after the crash")
        assert (await next_event(alice, "chat.message"))["message"] == after
        reply = await alice.send_chat("welcome back")
        assert (await next_event(bob, "chat.message"))["message"] == reply
        joined = await MeetingClient.connect(server.host, server.port,
                                             fingerprint=server.fingerprint)
        clients.append(joined)
        name = unique_name("witness")
        await joined.register(name, f"{name}@example.org", DEFAULT_PASSWORD)
        await joined.login(name, DEFAULT_PASSWORD)
        remember_secrets(joined)
        history = (await joined.join_room(room, room_password)).history
        assert [m["text"] for m in history] == ["before the crash", "after the crash",
                                                 "welcome back"]
        print(f"2 clients reconnected, rejoined and chatted {back_after:.1f} s after the "
              f"restart began; 3 messages in the history; {time.monotonic() - started:.1f} s")
    finally:
        for client in clients:
            await client.close()


async def test_a_client_that_vanishes_without_fin_is_removed_after_the_idle_timeout(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = await asyncio.to_thread(server_factory, "--idle-timeout", "2")
    room = unique_room("Ghost")
    async with clients_for(server) as clients, TcpProxy((server.host, server.port)) as proxy:
        watcher = await clients.user()
        bystander = await clients.user()  # in the lobby: gets presence, not room events

        async def keep_alive(client: WireClient) -> None:
            while True:
                await client.ping()
                await asyncio.sleep(0.5)

        pingers = [asyncio.create_task(keep_alive(c)) for c in (watcher, bystander)]
        ghost = await WireClient.open(proxy.host, proxy.port)
        clients.opened.append(ghost)
        name = unique_name("ghost")
        await ghost.hello()
        await ghost.register(name)
        await ghost.login(name)
        await ghost.create_room(room)
        await ghost.join(room)
        await watcher.join(room)
        try:
            proxy.blackhole()  # the cable is pulled: no FIN, no RST, nothing
            cut_at = time.monotonic()
            left = await watcher.expect_event(
                "room.member_left", lambda e: e["username"] == name, timeout=15)
            removed_after = time.monotonic() - cut_at
            assert left["room"] == room
            for client in (watcher, bystander):
                gone = await client.expect_event(
                    "presence", lambda e: e["username"] == name and e["online"] is False)
                assert gone["online"] is False
            await bystander.no_event("room.member_left", within=0.2)
            assert not ghost.eof, "the proxy must not have passed a close to the client"
        finally:
            for pinger in pingers:
                pinger.cancel()
            await asyncio.gather(*pingers, return_exceptions=True)
        users = {u["username"] for u in (await watcher.ok("user.list"))["users"]}
        assert name not in users
        # The user can come back on a working path, as a brand-new session.
        back = await clients.login(name)
        members = (await back.join(room))["members"]
        assert {m["username"] for m in members} == {name, watcher.username}
        print(f"silent client removed {removed_after:.1f} s after its path went dark "
              f"(idle timeout 2 s); proxy passed {dict(proxy.counters)}")
