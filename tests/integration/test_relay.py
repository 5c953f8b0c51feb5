"""The media relay against a real server (PROTOCOL.md §4.3): only authenticated UDP is
relayed, only to the other members of the sender's room, at most once per packet."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from pymeet.protocol.framing import encode_media_frame
from pymeet.protocol.media_packet import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Kind, MediaHeader
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout
from tests.support.udp_peer import UdpPeer
from tests.support.wire import Clients, WireClient, unique_room


@dataclass
class Member:
    control: WireClient
    udp: UdpPeer

    @property
    def ssrc(self) -> int:
        return self.udp.ssrc


def udp_for(server: ServerProcess, client: WireClient) -> UdpPeer:
    media = client.media
    assert media["port"] == server.udp_port
    return UdpPeer((server.host, media["port"]), media["ssrc"],
                   base64.b64decode(media["key"]))


@pytest.fixture
async def clients(server: ServerProcess) -> AsyncIterator[Clients]:
    pool = Clients(server)
    yield pool
    for client in pool.opened:
        await client.aclose()


async def member(server: ServerProcess, clients: Clients, room: str, *, create: bool = False,
                 mic: bool = True, cam: bool = True) -> Member:
    control = await clients.user()
    if create:
        await control.create_room(room)
    await control.join(room)
    await control.ok("media.update", mic=mic, cam=cam)
    udp = udp_for(server, control)
    udp.bind()
    return Member(control, udp)


async def relay_stats(client: WireClient) -> dict[str, int]:
    reply = await client.ok("stats")
    counters: dict[str, int] = reply["relay"]["dropped"]
    return counters


async def test_media_reaches_the_room_and_nobody_else(server: ServerProcess,
                                                      clients: Clients) -> None:
    lab, other = unique_room("Lab"), unique_room("Other")
    alice = await member(server, clients, lab, create=True)
    bob = await member(server, clients, lab)
    carol = await member(server, clients, lab)
    dave = await member(server, clients, other, create=True)

    sent = [alice.udp.audio(bytes([i]) * 640) for i in range(20)]
    alice.udp.video(b"\xff\xd8jpeg bytes\xff\xd9")

    for receiver in (bob, carol):
        got = receiver.udp.receive()
        audio = [(h, p) for h, p in got if h.kind == Kind.AUDIO]
        assert [p for _, p in audio] == [bytes([i]) * 640 for i in range(20)]
        assert all(h.ssrc == alice.ssrc for h, _ in got)
        assert [p for h, p in got if h.kind == Kind.VIDEO] == [b"\xff\xd8jpeg bytes\xff\xd9"]
        # Same header as sent (ssrc, seq, timestamp), resealed under the receiver's key.
        assert [h.seq for h, _ in audio] == [struct.unpack_from(">I", d, 8)[0] for d in sent]
    assert alice.udp.receive() == []  # never back to the sender
    assert dave.udp.receive() == []  # never into another room
    print(f"relay: 21 datagrams in, {2 * 21} out; sender and other room got 0")


async def test_media_off_is_not_forwarded(server: ServerProcess, clients: Clients) -> None:
    lab = unique_room("Lab")
    alice = await member(server, clients, lab, create=True, mic=False, cam=False)
    bob = await member(server, clients, lab)
    before = await relay_stats(bob.control)
    alice.udp.audio()
    alice.udp.video(b"frame")
    assert bob.udp.receive() == []
    after = await relay_stats(bob.control)
    assert after.get("mic_off", 0) == before.get("mic_off", 0) + 1
    assert after.get("cam_off", 0) == before.get("cam_off", 0) + 1
    await alice.control.ok("media.update", mic=True, cam=False)
    alice.udp.audio()
    alice.udp.video(b"frame")
    assert [h.kind for h, _ in bob.udp.receive()] == [Kind.AUDIO]


async def test_forged_replayed_and_malformed_datagrams_are_dropped_and_counted(
    server: ServerProcess, clients: Clients
) -> None:
    lab = unique_room("Lab")
    alice = await member(server, clients, lab, create=True)
    bob = await member(server, clients, lab)
    mallory = await member(server, clients, unique_room("Elsewhere"), create=True)
    before = await relay_stats(bob.control)

    # Spoofed ssrc: Mallory names Alice's ssrc but can only seal with her own key.
    forged = UdpPeer(alice.udp.server, alice.ssrc, mallory.udp.key, seq=alice.udp.seq + 100)
    forged.audio()
    forged.close()
    # A bit flipped in flight.
    good = alice.udp.seal(Kind.AUDIO, bytes(640))
    tampered = bytearray(good)
    tampered[-1] ^= 1
    alice.udp.send(bytes(tampered))
    # Replays: the same datagram twice, and one far older than the window.
    fresh = alice.udp.audio()
    alice.udp.send(fresh)
    alice.udp.seq += 5000
    alice.udp.audio()
    alice.udp.send(alice.udp.cipher.seal(
        CLIENT_TO_SERVER, MediaHeader(Kind.AUDIO, alice.ssrc, 3, 0), bytes(640)))
    # Malformed: oversize, truncated, unknown version, unknown kind, unknown ssrc.
    alice.udp.send(os.urandom(1201))
    alice.udp.send(good[:20])
    alice.udp.send(b"\x02" + good[1:])
    alice.udp.send(good[:1] + b"\x09" + good[2:])
    alice.udp.send(good[:4] + b"\x00\x00\x00\x07" + good[8:])

    received = bob.udp.receive()
    assert len(received) == 2, received  # `fresh` once, and the one after the jump
    after = await relay_stats(bob.control)

    def grew(reason: str) -> int:
        return after.get(reason, 0) - before.get(reason, 0)

    assert grew("bad_tag") == 2  # forged and tampered
    assert grew("replay") == 2  # duplicate and too old
    assert grew("oversize") == 1
    assert grew("truncated") == 1
    assert grew("bad_version") == 1
    assert grew("bad_kind") == 1
    assert grew("unknown_ssrc") == 1
    print(f"relay drops: { {r: grew(r) for r in after if grew(r)} }")


async def test_rate_limit_is_enforced(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--media-packet-rate", "50", "--media-packet-burst", "20")
    pool = Clients(server)
    try:
        lab = unique_room("Lab")
        alice = await member(server, pool, lab, create=True)
        bob = await member(server, pool, lab)
        for _ in range(200):
            alice.udp.audio()
        got = [h for h, _ in bob.udp.receive() if h.kind == Kind.AUDIO]
        dropped = (await relay_stats(bob.control)).get("rate_limited", 0)
        # A burst of 20 (less the bind pings), plus what refills while sending.
        assert 10 <= len(got) < 100
        assert dropped >= 100
        assert len(got) + dropped >= 190
        print(f"rate limit: 200 sent, {len(got)} relayed, {dropped} dropped")
    finally:
        for client in pool.opened:
            await client.aclose()


async def test_tunnel_carries_media_both_ways(server: ServerProcess, clients: Clients) -> None:
    """§4.6: a session without UDP sends sealed packets in control frames, and from then
    on receives its media the same way, until UDP authenticates again."""
    lab = unique_room("Lab")
    alice = await member(server, clients, lab, create=True)
    bob_control = await clients.user()
    await bob_control.join(lab)
    await bob_control.ok("media.update", mic=True, cam=False)
    bob = udp_for(server, bob_control)  # Bob never uses UDP: only its key and counter.

    # Bob's ping through the tunnel is answered through the tunnel.
    await bob_control.send_raw(encode_media_frame(bob.seal(Kind.PING, b"12345678")))
    await wait_for_media_frames(bob_control, 1)
    header, payload = bob.cipher.open(SERVER_TO_CLIENT, bob_control.media_frames.pop(0))
    assert (header.kind, header.ssrc, payload) == (Kind.PONG, 0, b"12345678")

    # Alice (UDP) -> Bob (tunnel).
    alice.udp.audio(b"\x01" * 640)
    await wait_for_media_frames(bob_control, 1)
    header, payload = bob.cipher.open(SERVER_TO_CLIENT, bob_control.media_frames.pop(0))
    assert (header.ssrc, payload) == (alice.ssrc, b"\x01" * 640)

    # Bob (tunnel) -> Alice (UDP).
    await bob_control.send_raw(encode_media_frame(bob.seal(Kind.AUDIO, b"\x02" * 640)))
    got = alice.udp.receive()
    assert [(h.ssrc, p) for h, p in got] == [(bob.ssrc, b"\x02" * 640)]

    # Once Bob's UDP authenticates, his media leaves the tunnel.
    bob.bind()
    alice.udp.audio(b"\x03" * 640)
    assert [p for _, p in bob.receive()] == [b"\x03" * 640]
    assert bob_control.media_frames == []
    bob.close()


async def test_a_stranger_cannot_tunnel_another_sessions_media(
    server: ServerProcess, clients: Clients
) -> None:
    lab = unique_room("Lab")
    alice = await member(server, clients, lab, create=True)
    bob = await member(server, clients, lab)
    mallory = await clients.user()
    stolen = alice.udp.seal(Kind.AUDIO, bytes(640))  # even a genuine packet of Alice's
    await mallory.send_raw(encode_media_frame(stolen))
    assert bob.udp.receive() == []
    assert (await relay_stats(bob.control)).get("unknown_ssrc", 0) >= 1


async def test_address_follows_the_newest_authenticated_packet(
    server: ServerProcess, clients: Clients
) -> None:
    lab = unique_room("Lab")
    alice = await member(server, clients, lab, create=True)
    bob = await member(server, clients, lab)
    moved = UdpPeer(bob.udp.server, bob.ssrc, bob.udp.key, seq=bob.udp.seq)
    moved.bind()  # Bob's NAT mapping changed: newer packets from a new port
    alice.udp.audio()
    assert len(moved.receive()) == 1
    assert bob.udp.receive() == []
    # A forged packet from a third address does not move it.
    intruder = UdpPeer(bob.udp.server, bob.ssrc, os.urandom(32), seq=moved.seq + 10)
    intruder.audio()
    alice.udp.audio()
    assert len(moved.receive()) == 1
    assert intruder.receive() == []
    for peer in (moved, intruder):
        peer.close()


async def wait_for_media_frames(client: WireClient, count: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout(5)
    while len(client.media_frames) < count:
        assert loop.time() < deadline, "no media arrived through the tunnel"
        await asyncio.sleep(0.02)
