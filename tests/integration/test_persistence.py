"""Durability and shutdown (PROTOCOL.md §3.2 "Rooms and their history persist", §3.3 "A
message is stored durably before its reply"; docs/PROTOCOL.md "Sessions") against a real
server process that is restarted, killed with SIGKILL and stopped with signals."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import pytest

from tests.support.server_process import ServerProcess
from tests.support.wire import (
    Message,
    clients_for,
    room_info,
    unique_room,
)

VAULT_PASSWORD = "vault password"


async def test_users_rooms_history_and_dms_survive_a_restart(server: ServerProcess) -> None:
    vault, lounge = unique_room("Vault"), unique_room("Lounge")
    async with clients_for(server) as clients:
        alice = await clients.user()
        bob = await clients.user()
        carol = await clients.registered()
        await alice.create_room(vault, VAULT_PASSWORD)
        await bob.create_room(lounge)
        await alice.join(vault, VAULT_PASSWORD)
        await bob.join(vault, VAULT_PASSWORD)
        chats = [
            (await sender.ok("chat.send", text=f"before restart {i}"))["message"]
            for i, sender in enumerate((alice, bob, alice, bob, alice))
        ]
        dms = [
            (await alice.ok("dm.send", to=bob.username, text="to bob, online"))["message"],
            (await bob.ok("dm.send", to=alice.username, text="to alice, online"))["message"],
        ]
        offline_dm = (await alice.ok("dm.send", to=carol, text="to carol, offline"))["message"]
        names = (alice.username or "", bob.username or "")
        fingerprint = server.fingerprint

    await asyncio.to_thread(server.restart)
    assert server.fingerprint == fingerprint  # clients pin it: the certificate is kept

    async with clients_for(server) as clients:
        probe = await clients.hello()
        await probe.error("auth.login", "auth_failed", username=names[0], password="wrong pass")
        await probe.error("auth.register", "user_exists", username=names[0],
                          email="new@example.org", password="password123")
        alice = await clients.login(names[0])
        bob = await clients.login(names[1])
        rooms = await alice.ok("room.list")
        vault_info = room_info(rooms, vault)
        assert vault_info is not None
        assert (vault_info["owner"], vault_info["members"], vault_info["locked"]) == (
            names[0], 0, True,
        )
        lounge_info = room_info(rooms, lounge)
        assert lounge_info is not None
        assert (lounge_info["owner"], lounge_info["locked"]) == (names[1], False)

        await bob.error("room.join", "wrong_password", room=vault)
        history = (await bob.join(vault, VAULT_PASSWORD))["history"]
        assert history == chats
        assert (await alice.ok("dm.history", **{"with": names[1]}))["messages"] == dms
        await bob.error("room.delete", "forbidden", room=vault)

        newer = (await bob.ok("chat.send", text="after restart"))["message"]
        assert newer["id"] not in {m["id"] for m in chats}

        returning = await clients.login(carol)
        assert (await returning.expect_event("dm.message"))["message"] == offline_dm


async def test_acknowledged_messages_survive_kill_9(server: ServerProcess) -> None:
    room = unique_room("Crash")
    async with clients_for(server) as clients:
        alice = await clients.user()
        carol = await clients.registered()
        await alice.create_room(room)
        await alice.join(room)
        name = alice.username or ""
        # Pipeline requests, then kill -9 while replies are still coming.
        chat_ids = [await alice.send_request("chat.send", text=f"chat {i}") for i in range(30)]
        dm_ids = [
            await alice.send_request("dm.send", to=carol, text=f"dm {i}") for i in range(15)
        ]
        await alice.wait_for(lambda m: m["type"] == "reply", "a first acknowledgement")
        await asyncio.to_thread(server.kill)
        await alice.closed()
        ours = set(chat_ids) | set(dm_ids)
        acked: dict[int, Message] = {
            m["id"]: m["message"] for m in alice.received
            if m["type"] == "reply" and m.get("id") in ours and m.get("ok") is True
        }
        acked_chats = [acked[i] for i in chat_ids if i in acked]
        acked_dms = [acked[i] for i in dm_ids if i in acked]
        assert acked_chats, "no chat.send was acknowledged before the kill"

    await asyncio.to_thread(server.start)

    async with clients_for(server) as clients:
        alice = await clients.login(name)
        history = (await alice.join(room))["history"]
        stored_chats = {m["id"]: m for m in history}
        for message in acked_chats:
            assert stored_chats.get(message["id"]) == message, f"lost {message!r}"
        assert all(m["text"].startswith("chat ") for m in history)
        stored_dms = {m["id"]: m for m in
                      (await alice.ok("dm.history", **{"with": carol}))["messages"]}
        for message in acked_dms:
            assert stored_dms.get(message["id"]) == message, f"lost {message!r}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_shutdown_tells_every_session_and_exits_cleanly(
    server_factory: Callable[..., ServerProcess], sig: signal.Signals
) -> None:
    server = server_factory()
    async with clients_for(server) as clients:
        alice = await clients.user()
        bob = await clients.user()
        anonymous = await clients.hello()
        room = unique_room("Last")
        await bob.create_room(room)
        await bob.join(room)
        code = await asyncio.to_thread(server.stop, sig)
        for client in (alice, bob):
            closed = await client.expect_event("session.closed")
            assert closed["reason"] == "shutdown"
            await client.closed()
        await anonymous.closed()
    if sig == signal.SIGTERM:
        assert code == 0, server.output[-2000:]
    assert "Traceback" not in server.output, server.output[-3000:]

