"""Kick, mute and raised hands (PROTOCOL.md §3.4) over the protocol."""

from __future__ import annotations

import base64

from tests.support.server_process import ServerProcess
from tests.support.udp_peer import UdpPeer
from tests.support.wire import Clients, expect_error, unique_room


async def test_owner_kicks_and_others_cannot(server: ServerProcess) -> None:
    clients = Clients(server)
    room = unique_room("Mod")
    owner = await clients.user()
    await owner.create_room(room)
    await owner.join(room)
    bob, carol = await clients.user(), await clients.user()
    await bob.join(room)
    await carol.join(room)

    expect_error(await bob.request("room.kick", username=carol.username), "forbidden")
    expect_error(await owner.request("room.kick", username=owner.username), "invalid_field")
    expect_error(await owner.request("room.kick", username="nobody_here"), "user_not_found")
    await owner.ok("room.kick", username=bob.username)
    kicked = await bob.expect_event("room.kicked")
    assert kicked == {"type": "room.kicked", "room": room, "by": owner.username}
    left = await carol.expect_event("room.member_left", lambda e: e["username"] == bob.username)
    assert left["room"] == room
    expect_error(await bob.request("chat.send", text="hello?"), "not_in_room")
    users = {u["username"]: u["room"] for u in (await carol.ok("user.list"))["users"]}
    assert users[bob.username] is None
    # Another room's owner has no say here.
    other = await clients.user()
    await other.create_room(unique_room("Theirs"))
    expect_error(await other.request("room.mute", username=carol.username), "not_in_room")
    for client in clients.opened:
        await client.aclose()


async def test_mute_stops_the_audio_and_tells_the_member(server: ServerProcess) -> None:
    clients = Clients(server)
    room = unique_room("Quiet")
    owner = await clients.user()
    await owner.create_room(room)
    await owner.join(room)
    await owner.ok("media.update", mic=False, cam=False)
    loud = await clients.user()
    await loud.join(room)
    await loud.ok("media.update", mic=True, cam=False)
    owner_udp = UdpPeer((server.host, owner.media["port"]), owner.media["ssrc"],
                        base64.b64decode(owner.media["key"]))
    loud_udp = UdpPeer((server.host, loud.media["port"]), loud.media["ssrc"],
                       base64.b64decode(loud.media["key"]))
    owner_udp.bind()
    loud_udp.bind()
    loud_udp.audio()
    assert len(owner_udp.receive()) == 1

    expect_error(await loud.request("room.mute", username=owner.username), "forbidden")
    await owner.ok("room.mute", username=loud.username)
    muted = await loud.expect_event("media.muted")
    assert muted == {"type": "media.muted", "room": room, "by": owner.username}
    loud_udp.audio()
    assert owner_udp.receive() == []  # the server stopped forwarding at once
    # The member may turn the mic on again.
    member = (await loud.ok("media.update", mic=True, cam=False))["member"]
    assert member["mic"] is True
    loud_udp.audio()
    assert len(owner_udp.receive()) == 1
    for peer in (owner_udp, loud_udp):
        peer.close()
    for client in clients.opened:
        await client.aclose()


async def test_raised_hands_in_order(server: ServerProcess) -> None:
    clients = Clients(server)
    room = unique_room("Hands")
    a, b, c = await clients.user(), await clients.user(), await clients.user()
    await a.create_room(room)
    for client in (a, b, c):
        await client.join(room)
    expect_error(await (await clients.user()).request("hand.raise", up=True), "not_in_room")
    assert (await c.ok("hand.raise", up=True))["hands"] == [c.username]
    update = await a.expect_event("hand.update", lambda e: e["username"] == c.username)
    assert update == {"type": "hand.update", "room": room, "username": c.username, "up": True}
    assert (await b.ok("hand.raise", up=True))["hands"] == [c.username, b.username]
    late = await clients.user()
    joined = await late.join(room)
    assert joined["hands"] == [c.username, b.username]
    assert {m["username"]: m["hand"] for m in joined["members"]}[b.username] is True
    await c.ok("hand.raise", up=False)
    lowered = await late.expect_event("hand.update", lambda e: e["username"] == c.username)
    assert lowered["up"] is False
    await b.ok("room.leave")  # leaving lowers the hand
    assert (await a.ok("hand.raise", up=True))["hands"] == [a.username]
    for client in clients.opened:
        await client.aclose()
