"""Timeouts and caps on control connections (docs/PROTOCOL.md, Limits): a client that
stalls, idles, hoards connections or stops reading only ever loses its own session."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable

from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout
from tests.support.wire import Clients, WireClient, client_ssl_context, unique_room


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True when the server closes the stream (EOF or reset) within the timeout."""
    try:
        async with asyncio.timeout(timeout(10)):
            while await reader.read(4096):
                pass
    except (ConnectionError, OSError):
        return True
    except TimeoutError:
        return False
    return True


async def test_tls_handshake_that_never_happens_is_dropped(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory("--handshake-timeout", "1")
    reader, writer = await asyncio.open_connection(server.host, server.port)  # plain TCP
    started = time.monotonic()
    assert await closed_by_server(reader)
    writer.close()
    print(f"silent TCP connection closed after {time.monotonic() - started:.1f} s")
    client = await WireClient.connect(server)  # others are still served
    await client.hello()
    await client.aclose()


async def test_no_hello_closes_the_connection(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--hello-timeout", "1")
    silent = await WireClient.connect(server)
    await silent.closed(wait=10)
    prompt = await WireClient.connect(server)
    await prompt.hello()
    await prompt.aclose()


async def test_idle_session_is_removed_and_its_room_told(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory("--idle-timeout", "2")
    clients = Clients(server)
    try:
        room = unique_room()
        idle = await clients.user()
        await idle.create_room(room)
        await idle.join(room)
        watcher = await clients.user()
        await watcher.join(room)

        async def keep_alive() -> None:
            while True:
                await watcher.ping()
                await asyncio.sleep(0.5)

        pinger = asyncio.create_task(keep_alive())
        try:
            left = await watcher.expect_event(
                "room.member_left", lambda e: e["username"] == idle.username, timeout=15)
            assert left["room"] == room
            await idle.closed(wait=10)
            gone = await watcher.expect_event(
                "presence", lambda e: e["username"] == idle.username and not e["online"]
            )
            assert gone["online"] is False
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        assert not watcher.eof  # the pinging client stayed connected
    finally:
        for client in clients.opened:
            await client.aclose()


async def test_connection_cap(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--max-connections", "3")
    first = [await WireClient.connect(server) for _ in range(3)]
    for client in first:
        await client.hello()
    extra = await WireClient.connect(server)
    await extra.closed()
    await first[0].aclose()
    await asyncio.sleep(timeout(0.3))
    again = await WireClient.connect(server)
    await again.hello()
    for client in [*first[1:], again]:
        await client.aclose()


async def test_a_client_that_stops_reading_is_dropped_and_others_carry_on(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """A member whose unread output passes --max-output-buffer is disconnected; the
    chat in its room goes on for everyone else."""
    server = server_factory("--max-output-buffer", "200000", "--request-rate", "1000",
                            "--request-burst", "1000")
    clients = Clients(server)
    room = unique_room()
    talker = await clients.user()
    await talker.create_room(room)
    await talker.join(room)
    listener = await clients.user()
    await listener.join(room)

    # A member that joins and then never reads again, with a tiny receive buffer.
    sock = socket.create_connection((server.host, server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader, writer = await asyncio.open_connection(sock=sock, ssl=client_ssl_context(),
                                                   server_hostname="")
    stalled = WireClient(reader, writer)
    await stalled.hello()
    name = f"stall{time.monotonic_ns() % 10**8}"
    await stalled.register(name)
    await stalled.login(name)
    await stalled.join(room)
    stalled._task.cancel()  # stop reading, as a frozen client would

    text = "x" * 3900
    for _ in range(2500):  # ~10 MB of chat.message events for the stalled member
        await talker.ok("chat.send", text=text)
    left = await listener.expect_event("room.member_left", lambda e: e["username"] == name,
                                       timeout=15)
    assert left["room"] == room
    reply = await talker.ok("chat.send", text="still here")
    event = await listener.expect_event(
        "chat.message", lambda e: e["message"]["id"] == reply["message"]["id"])
    assert event["message"]["text"] == "still here"
    print("a non-reading member was dropped (200 KB output limit); the room went on")
    writer.transport.abort()
    for client in clients.opened:
        await client.aclose()


