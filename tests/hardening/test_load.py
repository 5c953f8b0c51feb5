"""Load: 200 concurrent control sessions in 20 rooms of 10 (PROTOCOL.md §3.2–§3.3,
docs/ARCHITECTURE.md "Ordering guarantees").

Every member sends a few chat messages at once. Each member must receive every message
of its own room from the others exactly once, in id order, and nothing from any other
room. Then everyone disconnects, and the server's resident memory must come back near
where it was before: no memory held per session after the session is gone.

Memory is read from /proc/<pid>/status (VmRSS). The first two rounds (the same users in
the same rooms as the later ones) are the warm-up: they grow the allocator's pools, the
SQLite cache and the interned names to their working size. The baseline is taken after
them; then two more rounds of 200 sessions come and go, and the process must not have
grown by more than a generous margin. A leak of a few tens of kilobytes per session
shows as 400 times that, far above the margin; allocator noise does not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tests.hardening.helpers import rss_kib
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout
from tests.support.wire import Message, WireClient, login_as, make_user, unique_room

ROOMS = 20
PER_ROOM = 10
SESSIONS = ROOMS * PER_ROOM
MESSAGES_EACH = 5
CONCURRENT_SETUP = 25
T = TypeVar("T")
WARMUP_ROUNDS = 2
MEASURED_ROUNDS = 2
RSS_MARGIN_KIB = 6 * 1024
"""Generous: 15 KiB for each of the 400 measured sessions. The point is memory kept for
every session or connection that is gone, not allocator noise."""
SETTLE = 2.5
"""Seconds after a round for the server's last close timers (2 s grace) to run."""


async def bounded(count: int, make: Callable[[int], Awaitable[T]]) -> list[T]:
    """``make(0) .. make(count - 1)``, at most CONCURRENT_SETUP at a time."""
    gate = asyncio.Semaphore(CONCURRENT_SETUP)

    async def one(index: int) -> T:
        async with gate:
            return await make(index)

    return await asyncio.gather(*(one(i) for i in range(count)))


async def server_sessions(probe: WireClient) -> int:
    return int((await probe.ok("stats"))["sessions"])


async def one_round(server: ServerProcess, names: list[str] | None, rooms: list[str],
                    probe: WireClient) -> tuple[list[str], dict[str, float]]:
    """Connect 200 sessions (registering them the first time), join, chat, verify,
    disconnect. Returns the user names and figures."""
    started = time.monotonic()
    assert server.process is not None
    pid = server.process.pid
    if names is None:
        clients = await bounded(SESSIONS, lambda i: make_user(server))
    else:
        clients = await bounded(SESSIONS, lambda i: login_as(server, names[i]))
    connected = time.monotonic() - started
    try:
        for index, room in enumerate(rooms):
            owner = clients[index * PER_ROOM]
            if names is None:
                await owner.create_room(room)
        await bounded(SESSIONS, lambda i: clients[i].join(rooms[i // PER_ROOM]))
        peak_kib = rss_kib(pid)

        async def talk(client: WireClient) -> list[Message]:
            return [(await client.ok("chat.send", text=f"{client.username} #{n}"))["message"]
                    for n in range(MESSAGES_EACH)]

        sent = await asyncio.gather(*(talk(c) for c in clients))
        by_room: dict[str, list[Message]] = {room: [] for room in rooms}
        for messages in sent:
            for message in messages:
                by_room[message["room"]].append(message)

        delivered = 0
        for index, client in enumerate(clients):
            room = rooms[index // PER_ROOM]
            expected = sorted(m["id"] for m in by_room[room] if m["from"] != client.username)
            last = expected[-1]
            await client.expect_event("chat.message",
                                      lambda e, last=last: e["message"]["id"] == last,
                                      timeout=20)
            got = [m["message"] for m in client.received if m["type"] == "chat.message"]
            assert all(m["room"] == room for m in got), f"{client.username} heard another room"
            assert [m["id"] for m in got] == expected, (
                f"{client.username}: not every message of its room once and in id order")
            delivered += len(got)
        peak_kib = max(peak_kib, rss_kib(pid))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    deadline = asyncio.get_running_loop().time() + timeout(20)
    while await server_sessions(probe) != 1:  # only the probe is left
        assert asyncio.get_running_loop().time() < deadline, "sessions were not released"
        await asyncio.sleep(0.1)
    figures: dict[str, float] = {
        "sent": sum(map(len, sent)),
        "delivered": delivered,
        "connect_s": round(connected, 1),
        "round_s": round(time.monotonic() - started, 1),
        "peak_kib": peak_kib,
    }
    return [c.username or "" for c in clients], figures


async def test_two_hundred_sessions_in_twenty_rooms(
    server_factory: Callable[..., ServerProcess],
) -> None:
    started = time.monotonic()
    server = await asyncio.to_thread(
        server_factory, "--request-rate", "200", "--request-burst", "400",
        "--max-connections", str(SESSIONS + 50))
    assert server.process is not None
    pid = server.process.pid
    probe = await make_user(server)
    rooms = [unique_room(f"Load{r}") for r in range(ROOMS)]
    initial_kib = rss_kib(pid)

    names, warm = await one_round(server, None, rooms, probe)
    for _ in range(WARMUP_ROUNDS - 1):
        await one_round(server, names, rooms, probe)
    await asyncio.sleep(timeout(SETTLE))
    baseline_kib = rss_kib(pid)
    rounds = []
    for _ in range(MEASURED_ROUNDS):
        _, measured = await one_round(server, names, rooms, probe)
        await asyncio.sleep(timeout(SETTLE))
        measured["after_kib"] = rss_kib(pid)
        rounds.append(measured)
    after_kib = rounds[-1]["after_kib"]

    for figures in (warm, *rounds):
        assert figures["delivered"] == SESSIONS * (PER_ROOM - 1) * MESSAGES_EACH
    growth = after_kib - baseline_kib
    sessions = SESSIONS * MEASURED_ROUNDS
    print(f"load: {SESSIONS} sessions x {WARMUP_ROUNDS + MEASURED_ROUNDS} rounds, {ROOMS} rooms of "
          f"{PER_ROOM}; per round {warm['sent']} messages sent, {warm['delivered']} delivered "
          f"once and in order; connect {[f['connect_s'] for f in (warm, *rounds)]} s, "
          f"round {[f['round_s'] for f in (warm, *rounds)]} s")
    print(f"server RSS (KiB): start {initial_kib}, warm-up peak {warm['peak_kib']}, baseline "
          f"{baseline_kib}, after each measured round {[f['after_kib'] for f in rounds]} "
          f"(peaks {[f['peak_kib'] for f in rounds]}); growth {growth:+d} KiB over {sessions} "
          f"sessions = {growth * 1024 / sessions:+.0f} B per session (margin {RSS_MARGIN_KIB} "
          f"KiB); total {time.monotonic() - started:.1f} s")
    assert growth < RSS_MARGIN_KIB, (
        f"the server's RSS grew {growth} KiB over {sessions} sessions that are all gone "
        f"({growth * 1024 // sessions} B each): memory is kept per session or connection")
    await probe.aclose()
