"""Contract tests of chat, direct messages, invitations and media state (PROTOCOL.md §3.3;
docs/PROTOCOL.md "Chat, DMs, invitations, media state") against a real server process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.server_process import ServerProcess
from tests.support.wire import (
    Clients,
    Message,
    WireClient,
    clients_for,
    running_server,
    unique_name,
    unique_room,
)

ROOM_PASSWORD = "members only"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("chat")) as server:
        yield server


@pytest.fixture
async def clients(shared: ServerProcess) -> AsyncIterator[Clients]:
    async with clients_for(shared) as pool:
        yield pool


async def in_room(clients: Clients, count: int, password: str | None = None) -> tuple[
    str, list[WireClient]
]:
    """`count` logged-in users in one fresh room (the first one owns it)."""
    users = [await clients.user() for _ in range(count)]
    room = unique_room("Chat")
    await users[0].create_room(room, password)
    for user in users:
        await user.join(room, password)
    for user in users:
        user.discard("room.member_joined")
    return room, users


def assert_chat_message(message: Message, room: str, sender: str, text: str) -> None:
    assert isinstance(message["id"], int) and not isinstance(message["id"], bool)
    assert message["room"] == room
    assert message["from"] == sender
    assert message["text"] == text
    assert isinstance(message["ts"], float)
    assert abs(message["ts"] - time.time()) < 3600  # Unix seconds


def assert_direct_message(message: Message, sender: str, to: str, text: str) -> None:
    assert isinstance(message["id"], int) and not isinstance(message["id"], bool)
    assert message["from"] == sender
    assert message["to"] == to
    assert message["text"] == text
    assert isinstance(message["ts"], float)


# -- chat --------------------------------------------------------------------------------


async def test_chat_goes_to_the_other_members_not_the_sender(clients: Clients) -> None:
    room, (alice, bob, carol) = await in_room(clients, 3)
    outsider = await clients.user()
    reply = await alice.ok("chat.send", text="hello room")
    assert_chat_message(reply["message"], room, alice.username or "", "hello room")
    for member in (bob, carol):
        event = await member.expect_event("chat.message")
        assert event["message"] == reply["message"]
    await asyncio.gather(alice.no_event("chat.message"), outsider.no_event("chat.message"))


async def test_chat_outside_a_room_is_not_in_room(clients: Clients) -> None:
    client = await clients.user()
    await client.error("chat.send", "not_in_room", text="anyone?")


async def test_chat_text_is_trimmed_and_keeps_newlines_and_tabs(clients: Clients) -> None:
    room, (alice, bob) = await in_room(clients, 2)
    reply = await alice.ok("chat.send", text="  \n line one\n\tline two \t\n ")
    assert reply["message"]["text"] == "line one\n\tline two"
    event = await bob.expect_event("chat.message")
    assert event["message"]["text"] == "line one\n\tline two"
    history = (await bob.join(room))["history"]
    assert history[-1]["text"] == "line one\n\tline two"


@pytest.mark.parametrize(
    "text",
    ["", "   ", " \n\t ", "x" * 4001, "bell\x07", "nul\x00byte", "carriage\rreturn", "del\x7f"],
    ids=["empty", "spaces", "whitespace", "4001", "bel", "nul", "cr", "del"],
)
async def test_chat_text_rules(clients: Clients, text: str) -> None:
    _room, (alice, bob) = await in_room(clients, 2)
    error = await alice.error("chat.send", "invalid_field", text=text)
    assert error["field"] == "text"
    await bob.no_event("chat.message", within=0.2)
    await alice.ok("chat.send", text="still works")
    await bob.expect_event("chat.message")


async def test_chat_messages_arrive_in_id_order(clients: Clients) -> None:
    _room, (alice, bob, carol) = await in_room(clients, 3)
    replies = await asyncio.gather(
        *(sender.ok("chat.send", text=f"{sender.username} {i}")
          for i in range(5) for sender in (alice, bob))
    )
    sent_ids = sorted(r["message"]["id"] for r in replies)
    assert len(set(sent_ids)) == len(sent_ids)
    received = [(await carol.expect_event("chat.message"))["message"]["id"] for _ in sent_ids]
    assert received == sent_ids


# -- direct messages ---------------------------------------------------------------------


async def test_dm_to_an_online_user(clients: Clients) -> None:
    alice = await clients.user()
    bob = await clients.user()
    carol = await clients.user()
    reply = await alice.ok("dm.send", to=bob.username, text="  psst  ")
    assert_direct_message(reply["message"], alice.username or "", bob.username or "", "psst")
    event = await bob.expect_event("dm.message")
    assert event["message"] == reply["message"]
    await asyncio.gather(alice.no_event("dm.message"), carol.no_event("dm.message"))


async def test_dm_to_oneself_is_allowed(clients: Clients) -> None:
    alice = await clients.user()
    reply = await alice.ok("dm.send", to=alice.username, text="note to self")
    assert_direct_message(reply["message"], alice.username or "", alice.username or "",
                          "note to self")


async def test_dm_to_unknown_user(clients: Clients) -> None:
    alice = await clients.user()
    await alice.error("dm.send", "user_not_found", to=unique_name("ghost"), text="hello?")
    await alice.error("dm.history", "user_not_found", **{"with": unique_name("ghost")})


async def test_dm_to_offline_user_is_delivered_at_next_login(clients: Clients) -> None:
    alice = await clients.user()
    bob = await clients.registered()
    sent = [
        (await alice.ok("dm.send", to=bob, text=f"while you were away {i}"))["message"]
        for i in range(3)
    ]
    returning = await clients.login(bob)
    delivered = [(await returning.expect_event("dm.message"))["message"] for _ in sent]
    assert delivered == sent  # oldest first
    # Delivered once: the next login does not repeat them.
    await returning.aclose()
    again = await clients.login(bob)
    await again.no_event("dm.message")


async def test_dm_to_logged_out_user_is_delivered_at_next_login(clients: Clients) -> None:
    alice = await clients.user()
    bob = await clients.user()
    name = bob.username or ""
    await bob.ok("auth.logout")
    await bob.closed()
    await alice.expect_event("presence", lambda e: e["username"] == name and not e["online"])
    sent = (await alice.ok("dm.send", to=name, text="see this later"))["message"]
    returning = await clients.login(name)
    assert (await returning.expect_event("dm.message"))["message"] == sent


async def test_dm_history_is_both_directions_oldest_first(clients: Clients) -> None:
    alice = await clients.user()
    bob = await clients.user()
    carol = await clients.user()
    sent = []
    for i in range(4):
        sender, to = (alice, bob) if i % 2 == 0 else (bob, alice)
        sent.append((await sender.ok("dm.send", to=to.username, text=f"turn {i}"))["message"])
    await alice.ok("dm.send", to=carol.username, text="not in the alice-bob thread")
    for viewer, other in ((alice, bob), (bob, alice)):
        history = (await viewer.ok("dm.history", **{"with": other.username}))["messages"]
        assert history == sent
    assert (await bob.ok("dm.history", **{"with": carol.username}))["messages"] == []


async def test_dm_history_is_the_fifty_newest(clients: Clients) -> None:
    alice = await clients.user()
    bob = await clients.user()
    texts = [f"dm {i}" for i in range(55)]
    for i, text in enumerate(texts):
        sender, to = (alice, bob) if i % 2 == 0 else (bob, alice)
        await sender.ok("dm.send", to=to.username, text=text)
    history = (await alice.ok("dm.history", **{"with": bob.username}))["messages"]
    assert [m["text"] for m in history] == texts[5:]


# -- invitations -------------------------------------------------------------------------


async def test_invite_reaches_the_invitee_and_opens_a_locked_room(clients: Clients) -> None:
    room, (host,) = await in_room(clients, 1, ROOM_PASSWORD)
    guest = await clients.user()
    gatecrasher = await clients.user()
    await guest.error("room.join", "wrong_password", room=room)
    assert (await host.ok("call.invite", to=guest.username))["ok"] is True
    invite = await guest.expect_event("call.invite")
    assert invite["from"] == host.username and invite["room"] == room
    await gatecrasher.no_event("call.invite")
    reply = await guest.join(room)  # no password needed while invited
    assert sorted(m["username"] for m in reply["members"]) == sorted(
        [host.username, guest.username]
    )
    await gatecrasher.error("room.join", "wrong_password", room=room)


async def test_answer_reaches_the_inviter(clients: Clients) -> None:
    _room, (host,) = await in_room(clients, 1)
    guest = await clients.user()
    await host.ok("call.invite", to=guest.username)
    await guest.expect_event("call.invite")
    await guest.ok("call.answer", to=host.username, accept=True)
    answer = await host.expect_event("call.answer")
    assert answer["from"] == guest.username and answer["accept"] is True


async def test_declining_withdraws_the_invitation(clients: Clients) -> None:
    room, (host,) = await in_room(clients, 1, ROOM_PASSWORD)
    guest = await clients.user()
    await host.ok("call.invite", to=guest.username)
    await guest.expect_event("call.invite")
    await guest.ok("call.answer", to=host.username, accept=False)
    answer = await host.expect_event("call.answer")
    assert answer["from"] == guest.username and answer["accept"] is False
    await guest.error("room.join", "wrong_password", room=room)


async def test_answer_without_invitation_is_forbidden(clients: Clients) -> None:
    _room, (host,) = await in_room(clients, 1)
    stranger = await clients.user()
    await stranger.error("call.answer", "forbidden", to=host.username, accept=True)
    await host.no_event("call.answer")


async def test_invite_errors(clients: Clients) -> None:
    host = await clients.user()
    guest = await clients.user()
    offline = await clients.registered()
    await host.error("call.invite", "not_in_room", to=guest.username)
    room = unique_room("Inviting")
    await host.create_room(room)
    await host.join(room)
    await host.error("call.invite", "user_offline", to=offline)
    await host.error("call.invite", "user_not_found", to=unique_name("ghost"))
    error = await host.error("call.invite", "invalid_field", to=host.username)
    assert error["field"] == "to"
    await guest.no_event("call.invite")


# -- media state -------------------------------------------------------------------------


async def test_media_update_in_a_room_reaches_the_others(clients: Clients) -> None:
    room, (alice, bob) = await in_room(clients, 2)
    reply = await alice.ok("media.update", mic=True, cam=False)
    member = reply["member"]
    assert member["username"] == alice.username
    assert member["ssrc"] == alice.media["ssrc"]
    assert member["mic"] is True and member["cam"] is False
    event = await bob.expect_event("room.member_updated")
    assert event["room"] == room and event["member"] == member
    await alice.no_event("room.member_updated")
    latecomer = await clients.user()
    members = {m["username"]: m for m in (await latecomer.join(room))["members"]}
    assert members[alice.username]["mic"] is True
    assert members[alice.username]["cam"] is False
    assert members[bob.username]["mic"] is False
    reply = await alice.ok("media.update", mic=False, cam=True)
    assert reply["member"]["mic"] is False and reply["member"]["cam"] is True
    for other in (bob, latecomer):
        event = await other.expect_event(
            "room.member_updated", lambda e: e["member"]["cam"] is True
        )
        assert event["member"]["username"] == alice.username


async def test_media_update_in_the_lobby(clients: Clients) -> None:
    alice = await clients.user()
    reply = await alice.ok("media.update", mic=True, cam=True)
    assert reply["member"]["mic"] is True and reply["member"]["cam"] is True
    assert reply["member"]["ssrc"] == alice.media["ssrc"]


async def test_media_state_starts_off_at_every_login(clients: Clients) -> None:
    room, (alice, _bob) = await in_room(clients, 2)
    name = alice.username or ""
    await alice.ok("media.update", mic=True, cam=True)
    await alice.aclose()
    again = await clients.login(name)
    reply = await again.join(room)
    mine = next(m for m in reply["members"] if m["username"] == name)
    assert mine["mic"] is False and mine["cam"] is False
    assert mine["ssrc"] == again.media["ssrc"]
