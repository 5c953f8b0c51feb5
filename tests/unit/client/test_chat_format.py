"""What `pymeet chat` shows, and how it reads a server address."""

from __future__ import annotations

import time

import pytest

from pymeet.client.chat_cli import parse_server
from pymeet.client.chat_format import (
    clock,
    describe_event,
    format_chat,
    format_dm,
    format_members,
    format_rooms,
    lobby_summary,
)

NOW = 1_700_000_000.0


def test_clock_is_local_time() -> None:
    assert clock(NOW) == time.strftime("[%H:%M:%S]", time.localtime(NOW))


def test_chat_line_shows_room_sender_text_and_message_time() -> None:
    message = {"id": 1, "room": "lounge", "from": "alice", "text": "hi\nthere", "ts": NOW - 60}
    assert format_chat(message, NOW) == f"{clock(NOW - 60)} #lounge <alice> hi\n    there"


def test_dm_line_depends_on_direction() -> None:
    message = {"id": 1, "from": "alice", "to": "bob", "text": "psst", "ts": NOW}
    assert "[DM from alice] psst" in format_dm(message, "bob", NOW)
    assert "[DM to bob] psst" in format_dm(message, "Alice", NOW)


def test_invitation_says_how_to_answer() -> None:
    line = describe_event({"type": "call.invite", "from": "alice", "room": "lounge"},
                          "bob", NOW)
    assert line is not None
    assert "alice invites you to #lounge" in line
    assert "/accept alice" in line and "/decline alice" in line


@pytest.mark.parametrize(("event", "expected"), [
    ({"type": "room.member_joined", "room": "r", "member": {"username": "bob"}},
     "bob joined #r"),
    ({"type": "room.member_left", "room": "r", "username": "bob"}, "bob left #r"),
    ({"type": "presence", "username": "bob", "online": False}, "bob is offline"),
    ({"type": "connection.lost", "reason": "gone", "will_reconnect": True},
     "connection lost (gone); reconnecting"),
    ({"type": "connection.restored", "room": "r", "rejoin_error": None},
     "connection restored (back in #r)"),
    ({"type": "session.closed", "reason": "replaced"}, "you logged in somewhere else"),
    ({"type": "something.new", "x": 1}, 'something.new: {"type": "something.new", "x": 1}'),
])
def test_events_read_naturally(event: dict[str, object], expected: str) -> None:
    line = describe_event(event, "me", NOW)
    assert line is not None and expected in line and line.startswith(clock(NOW))


def test_lobby_update_is_left_to_the_caller() -> None:
    assert describe_event({"type": "lobby.update", "rooms": []}, None, NOW) is None
    rooms = [{"name": "a", "owner": "x", "members": 2, "locked": False},
             {"name": "b", "owner": "y", "members": 0, "locked": True}]
    assert lobby_summary(rooms) == "#a 2, #b 0 (locked)"
    assert format_rooms(rooms)[1] == "  #b  0 members  owner y  locked"
    assert "no rooms" in format_rooms([])[0]


def test_members_mark_self_and_media() -> None:
    members = [{"username": "bob", "mic": True, "cam": False},
               {"username": "alice", "mic": False, "cam": False}]
    assert format_members(members, "alice") == "alice (you), bob (mic on)"


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:7400", ("127.0.0.1", 7400)),
    ("example.org", ("example.org", 7400)),
    ("[::1]:9000", ("::1", 9000)),
    ("[::1]", ("::1", 7400)),
])
def test_parse_server(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text) == expected


@pytest.mark.parametrize("text", ["", ":7400", "host:port", "host:0", "host:70000", "[::1"])
def test_parse_server_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_server(text)
