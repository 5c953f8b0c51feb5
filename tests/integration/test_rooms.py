"""Contract tests of the lobby and rooms (PROTOCOL.md §3.2; docs/PROTOCOL.md "Rooms")
against a real server process, talking raw wire."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.server_process import ServerProcess
from tests.support.wire import (
    Clients,
    Message,
    Predicate,
    WireClient,
    clients_for,
    expect_error,
    room_info,
    running_server,
    unique_room,
)

ROOM_PASSWORD = "open sesame"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("rooms")) as server:
        yield server


@pytest.fixture
async def clients(shared: ServerProcess) -> AsyncIterator[Clients]:
    async with clients_for(shared) as pool:
        yield pool


def names(members: list[Message]) -> list[str]:
    return sorted(m["username"] for m in members)


def member_of(client: WireClient, mic: bool = False, cam: bool = False) -> Message:
    return {"username": client.username, "ssrc": client.media["ssrc"], "mic": mic, "cam": cam}


def pick(info: Message | None) -> Message:
    """The RoomInfo fields of §3 (unknown extra fields are allowed, §2)."""
    assert info is not None
    return {k: info[k] for k in ("name", "owner", "members", "locked")}


def strip_extras(member: Message) -> Message:
    """A Member without fields later sections add (§3.4 `hand`)."""
    return {k: member[k] for k in ("username", "ssrc", "mic", "cam")}


async def test_create_returns_room_info_and_does_not_join(clients: Clients) -> None:
    owner = await clients.user()
    room = unique_room("Plain")
    info = await owner.create_room(room)
    assert pick(info) == {"name": room, "owner": owner.username, "members": 0, "locked": False}
    listed = room_info(await owner.ok("room.list"), room)
    assert listed is not None and pick(listed) == pick(info)
    await owner.error("room.leave", "not_in_room")
    await owner.error("chat.send", "not_in_room", text="hello?")


@pytest.mark.parametrize("password", [None, ""])
async def test_create_without_password_is_open(clients: Clients, password: str | None) -> None:
    owner = await clients.user()
    guest = await clients.user()
    room = unique_room("Open")
    info = (await owner.ok("room.create", room=room, password=password))["room"]
    assert info["locked"] is False
    await guest.join(room)


async def test_room_exists_case_insensitively(clients: Clients) -> None:
    owner = await clients.user()
    other = await clients.user()
    room = unique_room("Taken")
    await owner.create_room(room)
    await owner.error("room.create", "room_exists", room=room)
    await other.error("room.create", "room_exists", room=room.upper())
    await other.error("room.create", "room_exists", room=room.lower())


async def test_concurrent_creates_of_one_room_make_one_room(clients: Clients) -> None:
    users = [await clients.user() for _ in range(5)]
    room = unique_room("Race")
    replies = await asyncio.gather(*(u.request("room.create", room=room) for u in users))
    assert sum(r["ok"] for r in replies) == 1, replies
    for reply in replies:
        if not reply["ok"]:
            expect_error(reply, "room_exists")
    listed = [r for r in (await users[0].ok("room.list"))["rooms"] if r["name"] == room]
    assert len(listed) == 1


async def test_join_unknown_room(clients: Clients) -> None:
    client = await clients.user()
    await client.error("room.join", "room_not_found", room=unique_room("Nowhere"))
    await client.error("room.delete", "room_not_found", room=unique_room("Nowhere"))


async def test_locked_room_needs_its_password(clients: Clients) -> None:
    owner = await clients.user()
    guest = await clients.user()
    room = unique_room("Locked")
    info = await owner.create_room(room, ROOM_PASSWORD)
    assert info["locked"] is True
    assert room_info(await guest.ok("room.list"), room)["locked"] is True
    await guest.error("room.join", "wrong_password", room=room)
    await guest.error("room.join", "wrong_password", room=room, password="open sesame!")
    await guest.error("room.join", "wrong_password", room=room, password="x")
    # The owner needs it too.
    await owner.error("room.join", "wrong_password", room=room)
    reply = await guest.join(room, ROOM_PASSWORD)
    assert reply["room"]["locked"] is True


async def test_join_reply_has_room_members_and_history(clients: Clients) -> None:
    owner = await clients.user()
    guest = await clients.user()
    room = unique_room("Join")
    await owner.create_room(room)
    first = await owner.join(room)
    assert pick(first["room"]) == {"name": room, "owner": owner.username, "members": 1,
                             "locked": False}
    assert [strip_extras(m) for m in first["members"]] == [member_of(owner)]
    assert first["history"] == []
    second = await guest.join(room)
    assert second["room"]["members"] == 2
    assert sorted(map(strip_extras, second["members"]), key=lambda m: m["username"]) == sorted(
        [member_of(owner), member_of(guest)], key=lambda m: m["username"]
    )


async def test_member_events_go_to_others_not_to_the_actor(clients: Clients) -> None:
    owner = await clients.user()
    guest = await clients.user()
    room = unique_room("Events")
    await owner.create_room(room)
    await owner.join(room)
    await guest.join(room)
    joined = await owner.expect_event("room.member_joined")
    assert joined["room"] == room
    assert strip_extras(joined["member"]) == member_of(guest)
    await guest.ok("room.leave")
    left = await owner.expect_event("room.member_left")
    assert left["room"] == room and left["username"] == guest.username
    await asyncio.gather(guest.no_event("room.member_joined"), guest.no_event("room.member_left"))
    # Leaving twice: the session is in the lobby now.
    await guest.error("room.leave", "not_in_room")
    # An empty room stays until its owner deletes it.
    await owner.ok("room.leave")
    info = room_info(await guest.ok("room.list"), room)
    assert info is not None and info["members"] == 0


async def test_a_dropped_connection_leaves_its_room(clients: Clients) -> None:
    owner = await clients.user()
    guest = await clients.user()
    room = unique_room("Dropped")
    await owner.create_room(room)
    await owner.join(room)
    await guest.join(room)
    await owner.expect_event("room.member_joined")
    name = guest.username
    await guest.aclose()
    left = await owner.expect_event("room.member_left")
    assert left["room"] == room and left["username"] == name
    await owner.expect_event("presence", lambda e: e["username"] == name and not e["online"])
    info = room_info(await owner.ok("room.list"), room)
    assert info is not None and info["members"] == 1


async def test_joining_the_same_room_again_changes_nothing(clients: Clients) -> None:
    owner = await clients.user()
    guest = await clients.user()
    room = unique_room("Again")
    await owner.create_room(room)
    await owner.join(room)
    first = await guest.join(room)
    await owner.expect_event("room.member_joined")
    second = await guest.join(room)
    assert pick(second["room"]) == pick(first["room"])
    assert names(second["members"]) == names(first["members"])
    await asyncio.gather(owner.no_event("room.member_joined"), owner.no_event("room.member_left"))


async def test_joining_another_room_leaves_the_first(clients: Clients) -> None:
    a = await clients.user()
    b = await clients.user()
    mover = await clients.user()
    first, second = unique_room("First"), unique_room("Second")
    await a.create_room(first)
    await b.create_room(second)
    await a.join(first)
    await b.join(second)
    await mover.join(first)
    await a.expect_event("room.member_joined")
    reply = await mover.join(second)
    assert names(reply["members"]) == sorted([b.username, mover.username])
    left = await a.expect_event("room.member_left")
    assert left["room"] == first and left["username"] == mover.username
    joined = await b.expect_event("room.member_joined")
    assert joined["room"] == second and joined["member"]["username"] == mover.username
    rooms = (await a.ok("room.list"))["rooms"]
    assert {r["name"]: r["members"] for r in rooms if r["name"] in (first, second)} == {
        first: 1, second: 2,
    }


async def test_unicode_room_names_are_one_room_in_nfc_and_nfd(clients: Clients) -> None:
    owner = await clients.user()
    guest = await clients.user()
    room = unicodedata.normalize("NFC", "Phòng họp 1")
    decomposed = unicodedata.normalize("NFD", room)
    assert decomposed != room
    info = await owner.create_room(room)
    assert info["name"] == room
    await guest.error("room.create", "room_exists", room=decomposed)
    reply = await guest.join(decomposed)
    assert reply["room"]["name"] == room
    await owner.join(room)
    assert reply["room"]["owner"] == owner.username
    joined = await guest.expect_event("room.member_joined")
    assert joined["room"] == room
    listed = [r for r in (await guest.ok("room.list"))["rooms"]
              if unicodedata.normalize("NFC", r["name"]) == room]
    assert len(listed) == 1 and listed[0]["members"] == 2


async def test_delete_by_non_owner_is_forbidden(clients: Clients) -> None:
    owner = await clients.user()
    other = await clients.user()
    room = unique_room("Mine")
    await owner.create_room(room)
    await other.join(room)
    await other.error("room.delete", "forbidden", room=room)
    assert room_info(await other.ok("room.list"), room) is not None
    await other.ok("chat.send", text="still here")


async def test_delete_sends_members_back_to_the_lobby(clients: Clients) -> None:
    owner = await clients.user()
    alice = await clients.user()
    bob = await clients.user()
    room = unique_room("Doomed")
    await owner.create_room(room, ROOM_PASSWORD)
    await alice.join(room, ROOM_PASSWORD)
    await bob.join(room, ROOM_PASSWORD)
    await alice.ok("chat.send", text="this history goes with the room")
    await owner.ok("room.delete", room=room)
    for member in (alice, bob):
        deleted = await member.expect_event("room.deleted")
        assert deleted["room"] == room
        await member.error("chat.send", "not_in_room", text="anyone?")
        await member.error("room.leave", "not_in_room")
    await owner.no_event("room.deleted")
    assert room_info(await owner.ok("room.list"), room) is None
    await alice.error("room.join", "room_not_found", room=room)
    # The name is free again, and the new room starts without the old history.
    await bob.create_room(room)
    assert (await alice.join(room))["history"] == []


async def test_owner_deleting_the_room_it_is_in(clients: Clients) -> None:
    owner = await clients.user()
    guest = await clients.user()
    room = unique_room("Inside")
    await owner.create_room(room)
    await owner.join(room)
    await guest.join(room)
    await owner.ok("room.delete", room=room)
    deleted = await guest.expect_event("room.deleted")
    assert deleted["room"] == room
    # The owner caused it and learns it from the reply; it is in the lobby too.
    await owner.no_event("room.deleted")
    await owner.error("chat.send", "not_in_room", text="hello?")
    await guest.error("chat.send", "not_in_room", text="hello?")
    users = {u["username"]: u["room"] for u in (await guest.ok("user.list"))["users"]}
    assert users[owner.username] is None and users[guest.username] is None


async def test_lobby_update_tracks_rooms_and_member_counts(clients: Clients) -> None:
    owner = await clients.user()
    watcher = await clients.user()
    elsewhere = await clients.user()
    anonymous = await clients.hello()
    other_room = unique_room("Elsewhere")
    await elsewhere.create_room(other_room)
    await elsewhere.join(other_room)
    room = unique_room("Counted")
    everyone = (owner, watcher, elsewhere)

    async def all_see(check: Predicate) -> None:
        await asyncio.gather(*(c.expect_event("lobby.update", check) for c in everyone))

    def count(n: int) -> Predicate:
        def check(update: Message) -> bool:
            info = room_info(update, room)
            return info is not None and info["members"] == n
        return check

    await owner.create_room(room, ROOM_PASSWORD)
    await all_see(count(0))
    await watcher.join(room, ROOM_PASSWORD)
    await all_see(count(1))
    await owner.join(room, ROOM_PASSWORD)
    await all_see(count(2))
    for client in everyone:
        client.discard("lobby.update")
    await watcher.ok("room.leave")
    await all_see(count(1))
    await owner.ok("room.delete", room=room)
    await all_see(lambda u: room_info(u, room) is None)
    latest = room_info(await watcher.ok("room.list"), other_room)
    assert latest is not None and latest["members"] == 1 and latest["locked"] is False
    # Only logged-in sessions get the lobby.
    await anonymous.ping()
    assert anonymous.pending("lobby.update") == []


async def test_lobby_update_carries_room_info(clients: Clients) -> None:
    owner = await clients.user()
    room = unique_room("Shape")
    await owner.create_room(room, ROOM_PASSWORD)
    update = await owner.expect_event("lobby.update", lambda u: room_info(u, room) is not None)
    assert pick(room_info(update, room)) == {
        "name": room, "owner": owner.username, "members": 0, "locked": True,
    }
    listed = [r["name"] for r in update["rooms"]]
    assert listed in (sorted(listed), sorted(listed, key=str.casefold))  # "sorted by name"


async def test_history_on_join_is_the_fifty_newest_oldest_first(clients: Clients) -> None:
    # Two senders, so that neither exceeds its request-rate burst.
    owner = await clients.user()
    helper = await clients.user()
    room = unique_room("Chatty")
    await owner.create_room(room)
    await owner.join(room)
    await helper.join(room)
    sent: list[Message] = []
    for i in range(60):
        sender = owner if i % 2 == 0 else helper
        sent.append((await sender.ok("chat.send", text=f"message {i}"))["message"])
    latecomer = await clients.user()
    history = (await latecomer.join(room))["history"]
    assert [m["text"] for m in history] == [f"message {i}" for i in range(10, 60)]
    assert history == sent[10:]
    ids = [m["id"] for m in history]
    assert ids == sorted(ids) and len(set(ids)) == 50
