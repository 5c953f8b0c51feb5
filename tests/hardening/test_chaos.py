"""Chaos against a live server (docs/SECURITY.md; PROTOCOL.md §1–§4): two members keep
talking while everything else on the loopback attacks the server at once.

During a bounded window two legitimate members in one locked room exchange acknowledged
chat messages and UDP audio, while, from another loopback address (127.0.0.2/.3):

- hundreds of half-open TCP connections never finish the TLS handshake (some never
  send a byte, some stop in the middle of a ClientHello);
- fresh TCP connections send random bytes instead of TLS, and fresh TLS connections
  send random bytes instead of frames;
- many short-lived logged-in sessions send requests of every type with hostile values;
- a flood of datagrams hits the media port: random bytes, well-formed headers with
  random or stolen ssrcs, forged ciphertexts, and replays of the members' own packets.

What the members must notice: nothing. Every acknowledged chat message reaches the
other member exactly once and in order, less than 1 % of their audio is lost and none
is duplicated, the server is still up, no request was answered ``internal``, every
half-open connection was dropped, and a brand-new user can register and log in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymeet.protocol.errors import ErrorCode
from pymeet.protocol.media_packet import BASE_HEADER, VERSION, Kind
from pymeet.protocol.messages import REQUEST_FIELDS
from tests.fuzz.hostile import BIG_INTEGERS, NASTY_STRINGS
from tests.hardening.helpers import (
    ATTACKER_HOST,
    MediaMember,
    attacker_tls,
    attacker_user,
    closed_by_peer,
)
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout
from tests.support.wire import WireClient, make_user, unique_name, unique_room

CHAOS_SECONDS = 12.0
HANDSHAKE_TIMEOUT = 2.0
HALF_OPEN = 300
RANDOM_TCP = 60
RANDOM_TLS = 60
HOSTILE_SESSIONS = 30
HOSTILE_REQUESTS = 25
FLOOD_BATCH = 150
FLOOD_INTERVAL = 0.1
UDP_ATTACKER_HOST = "127.0.0.3"
ROOM_PASSWORD = "chaos room key"
MAX_HOSTILE_PAYLOAD = 900_000
DOCUMENTED_CODES = {code.value for code in ErrorCode} - {ErrorCode.INTERNAL.value}


@dataclass
class Figures:
    counters: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    internal: list[str] = field(default_factory=list)


# -- hostile values ------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


def hostile_value(rng: random.Random, plausible: list[Any]) -> Any:
    pick = rng.randrange(11)
    if pick == 0:
        return rng.choice(NASTY_STRINGS)
    if pick == 1:
        return rng.choice(BIG_INTEGERS)
    if pick == 2:
        return None
    if pick == 3:
        return rng.choice([True, False, 0.5, -1e308, 1e-320])
    if pick == 4:
        return nested(rng.randint(1, 150))
    if pick == 5:
        return [rng.choice(NASTY_STRINGS) for _ in range(rng.randint(0, 50))]
    if pick == 6:
        return rng.choice("A\x00é😀") * rng.randint(5000, 200_000)
    if pick == 7:
        return "x" + chr(rng.randint(0xD800, 0xDFFF)) + "y"  # a lone surrogate
    if pick == 8:
        return {"$ne": None, "nested": [1, {"x": "\x00"}]}
    return rng.choice(plausible)


def hostile_request(rng: random.Random, plausible: list[Any]) -> tuple[str, dict[str, Any]]:
    types = [t for t in REQUEST_FIELDS if t != "auth.logout"]
    kind = rng.choice([*types, *types, "teleport", "AUTH.LOGIN", "room.join\x00", "x" * 300])
    names = [f.name for f in REQUEST_FIELDS.get(kind, ())] or ["room", "text"]
    fields = {name: hostile_value(rng, plausible) for name in names if rng.random() < 0.9}
    if rng.random() < 0.2:
        fields[rng.choice(["id2", "type2", "__proto__", "password"])] = hostile_value(
            rng, plausible)
    return kind, fields


# -- attacks -------------------------------------------------------------------------------


async def half_open_connections(server: ServerProcess, figures: Figures) -> None:
    """TCP connections that never complete the TLS handshake; each must be dropped."""
    rng = random.Random(1)
    writers: list[asyncio.StreamWriter] = []
    readers: list[asyncio.StreamReader] = []
    for wave in range(3):
        for index in range(HALF_OPEN // 3):
            reader, writer = await asyncio.open_connection(
                server.host, server.port, local_addr=(ATTACKER_HOST, 0))
            if index % 2:  # the start of a ClientHello, then silence
                writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                             + rng.randbytes(rng.randint(0, 200)))
            readers.append(reader)
            writers.append(writer)
        figures.counters["half-open opened"] += HALF_OPEN // 3
        if wave < 2:
            await asyncio.sleep(CHAOS_SECONDS / 4)
    results = await asyncio.gather(
        *(closed_by_peer(r, timeout(HANDSHAKE_TIMEOUT + 15)) for r in readers))
    figures.counters["half-open dropped by the server"] += sum(results)
    for writer in writers:
        writer.transport.abort()


async def staggered(count: int, attack: Callable[[int], Any]) -> None:
    """``count`` runs of ``attack`` started evenly over the chaos window, overlapping."""

    async def later(index: int) -> None:
        await asyncio.sleep(index * CHAOS_SECONDS / count)
        await attack(index)

    await asyncio.gather(*(later(index) for index in range(count)))


async def random_bytes_over_tcp(server: ServerProcess, figures: Figures) -> None:
    """Fresh TCP connections that send random bytes where a ClientHello belongs."""

    async def attack(index: int) -> None:
        rng = random.Random(200 + index)
        reader, writer = await asyncio.open_connection(
            server.host, server.port, local_addr=(ATTACKER_HOST, 0))
        writer.write(rng.randbytes(rng.randint(1, 4096)))
        closed = await closed_by_peer(reader, timeout(HANDSHAKE_TIMEOUT + 10))
        figures.counters["random TCP closed by the server"] += closed
        writer.transport.abort()

    await staggered(RANDOM_TCP, attack)


async def random_bytes_over_tls(server: ServerProcess, figures: Figures) -> None:
    """Fresh TLS connections that send random bytes where frames belong."""

    async def attack(index: int) -> None:
        rng = random.Random(300 + index)
        client = await attacker_tls(server.host, server.port)
        figures.counters["random TLS connections"] += 1
        junk = rng.randbytes(rng.randint(1, 8192))
        if index % 3 == 0:  # one plausible frame of junk
            junk = struct.pack(">I", len(junk)) + junk
        with contextlib.suppress(ConnectionError, OSError):
            await client.send_raw(junk)
        await client.closed(wait=HANDSHAKE_TIMEOUT + 10)
        for message in client.received:
            code = message.get("error", {}).get("code") if message.get("ok") is False else None
            figures.codes[f"junk over TLS: {code}"] += 1
            if code not in DOCUMENTED_CODES:
                figures.internal.append(f"random TLS bytes -> {message}")
        figures.counters["random TLS closed by the server"] += 1
        await client.aclose()

    await staggered(RANDOM_TLS, attack)


async def hostile_sessions(server: ServerProcess, figures: Figures, plausible: list[Any]) -> None:
    """Short-lived logged-in sessions sending requests of every type with hostile values."""

    async def attack(index: int) -> None:
        rng = random.Random(400 + index)
        client = await attacker_user(server.host, server.port, unique_name("mallory"),
                                     "mallory's password")
        figures.counters["hostile sessions"] += 1
        for _ in range(HOSTILE_REQUESTS):
            kind, fields = hostile_request(rng, plausible)
            request_id = client.next_id()
            text = json.dumps({"type": kind, "id": request_id, **fields})  # ASCII escapes
            if len(text) > MAX_HOSTILE_PAYLOAD:
                text = json.dumps({"type": kind, "id": request_id})
            await client.send_payload(text.encode())
            reply = await client.reply(request_id)
            figures.counters["hostile requests"] += 1
            code = "ok" if reply.get("ok") else reply["error"]["code"]
            figures.codes[code] += 1
            if code != "ok" and code not in DOCUMENTED_CODES:
                figures.internal.append(f"{kind} {json.dumps(fields)[:300]} -> {reply}")
        await client.ok("auth.logout")
        await client.closed()
        await client.aclose()

    await staggered(HOSTILE_SESSIONS, attack)


async def udp_flood(server: ServerProcess, members: list[MediaMember], figures: Figures,
                    stop: asyncio.Event) -> None:
    rng = random.Random(5)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((UDP_ATTACKER_HOST, 0))
    sock.setblocking(False)
    target = (server.host, server.udp_port)
    ssrcs = [m.ssrc for m in members]
    try:
        while not stop.is_set():
            for _ in range(FLOOD_BATCH):
                pick = rng.randrange(4)
                if pick == 0:
                    datagram = rng.randbytes(rng.randint(0, 1500))
                    figures.counters["flood random"] += 1
                elif pick == 1:
                    header = BASE_HEADER.pack(VERSION, rng.choice([1, 3, 4]), 0,
                                              rng.getrandbits(32), rng.getrandbits(32), 0)
                    datagram = header + rng.randbytes(rng.randint(16, 1100))
                    figures.counters["flood unknown ssrc"] += 1
                elif pick == 2:
                    header = BASE_HEADER.pack(VERSION, Kind.AUDIO, 0, rng.choice(ssrcs),
                                              rng.getrandbits(32), 0)
                    datagram = header + rng.randbytes(640 + 16)
                    figures.counters["flood forged"] += 1
                else:
                    member = rng.choice(members)
                    if not member.sent:
                        continue
                    datagram = rng.choice(member.sent[-400:])
                    figures.counters["flood replays"] += 1
                with contextlib.suppress(BlockingIOError):
                    sock.sendto(datagram, target)
            await asyncio.sleep(FLOOD_INTERVAL)
    finally:
        sock.close()


# -- the members ---------------------------------------------------------------------------


async def chatter(client: WireClient, acked: list[int], stop: asyncio.Event) -> None:
    count = 0
    while not stop.is_set():
        reply = await client.ok("chat.send", text=f"{client.username} says {count}")
        acked.append(reply["message"]["id"])
        count += 1
        await asyncio.sleep(0.1)


async def speaker(member: MediaMember, stop: asyncio.Event) -> None:
    while not stop.is_set():
        member.audio()
        await asyncio.sleep(0.02)


def chat_ids_from(client: WireClient, sender: str) -> list[int]:
    return [m["message"]["id"] for m in client.received
            if m["type"] == "chat.message" and m["message"]["from"] == sender]


async def test_members_notice_nothing_while_everything_else_attacks(
    server_factory: Callable[..., ServerProcess],
) -> None:
    started = time.monotonic()
    server = await asyncio.to_thread(
        server_factory, "--handshake-timeout", str(HANDSHAKE_TIMEOUT), "--hello-timeout",
        str(HANDSHAKE_TIMEOUT), "--max-connections", str(HALF_OPEN + 300))
    figures = Figures()
    room = unique_room("Chaos")
    alice = await make_user(server)
    bob = await make_user(server)
    await alice.create_room(room, ROOM_PASSWORD)
    for client in (alice, bob):
        await client.join(room, ROOM_PASSWORD)
        await client.ok("media.update", mic=True, cam=False)
    members = [await MediaMember(c, server.host).start() for c in (alice, bob)]
    for member in members:
        await member.bind()
    plausible: list[Any] = [alice.username, bob.username, room, "Phòng họp 1", "wrong pass",
                            "a@b.org", "u" * 43, "bob", 7]

    stop = asyncio.Event()
    acked: dict[str, list[int]] = {alice.username or "": [], bob.username or "": []}
    attacks = [
        asyncio.create_task(half_open_connections(server, figures)),
        asyncio.create_task(random_bytes_over_tcp(server, figures)),
        asyncio.create_task(random_bytes_over_tls(server, figures)),
        asyncio.create_task(hostile_sessions(server, figures, plausible)),
        asyncio.create_task(udp_flood(server, members, figures, stop)),
    ]
    legit = [
        asyncio.create_task(chatter(alice, acked[alice.username or ""], stop)),
        asyncio.create_task(chatter(bob, acked[bob.username or ""], stop)),
        *(asyncio.create_task(speaker(m, stop)) for m in members),
    ]
    await asyncio.sleep(CHAOS_SECONDS)
    stop.set()
    await asyncio.gather(*legit)
    # The attacks that do not watch `stop` end by themselves, bounded by their timeouts.
    await asyncio.wait_for(asyncio.gather(*attacks), timeout(60))

    # Chat: every acknowledged message, exactly once, in order, to the other member.
    for receiver, sender in ((bob, alice), (alice, bob)):
        sent = acked[sender.username or ""]
        assert sent, f"{sender.username} got no chat message acknowledged"
        await receiver.expect_event("chat.message", lambda e, last=sent[-1]: (
            e["message"]["id"] == last), timeout=10)
        assert chat_ids_from(receiver, sender.username or "") == sent
    # Media: under 1 % lost, nothing twice (so no replay got through).
    await asyncio.sleep(timeout(0.5))
    loss_report = []
    for listener, speaking in ((members[1], members[0]), (members[0], members[1])):
        got = listener.audio_seqs_from(speaking.ssrc)
        sent_count = len(speaking.sent)
        unique = len(set(got))
        loss = 1 - unique / sent_count
        loss_report.append(f"{sent_count} sent, {unique} received ({loss:.2%} lost)")
        assert len(got) == unique, f"{len(got) - unique} audio datagrams were delivered twice"
        assert listener.undecryptable == 0
        assert loss < 0.01, loss_report[-1]

    stats = await alice.ok("stats")
    assert not figures.internal, "\n".join(figures.internal[:10])
    assert figures.counters["half-open dropped by the server"] == HALF_OPEN
    assert figures.counters["random TCP closed by the server"] == RANDOM_TCP
    assert server.running, server.output[-3000:]
    assert "Traceback" not in server.output, server.output[-3000:]
    newcomer = await make_user(server)  # from 127.0.0.1, never throttled by the attacker
    assert (await newcomer.ping())["ok"] is True
    assert not alice.eof and not bob.eof

    elapsed = time.monotonic() - started
    print(f"chaos: {elapsed:.1f} s; chat acked {sum(len(v) for v in acked.values())}, "
          f"each delivered once in order; audio {'; '.join(loss_report)}")
    print(f"attacks: {dict(figures.counters)}")
    print(f"hostile reply codes: {dict(figures.codes)}")
    relay = stats["relay"]
    print(f"relay: received {relay['received']}, forwarded {relay['forwarded']}, "
          f"sent {relay['sent']}, dropped {relay['dropped']}")
    for client in (alice, bob, newcomer):
        await client.aclose()
    for member in members:
        member.close()
