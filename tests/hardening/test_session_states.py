"""The session state machine against a real server, table-driven (PROTOCOL.md §3.1;
docs/PROTOCOL.md "Envelope" and "Sessions"; src/pymeet/server/handlers/__init__.py).

Every request type of `REQUEST_FIELDS`, with well-formed fields, is sent in every state
a session can be in, each on a fresh connection brought into that state:

- ``fresh``: TLS is up, no ``hello`` yet;
- ``greeted``: after ``hello``, not logged in (a user is registered, so login can work);
- ``lobby``: logged in, in no room (it owns an empty room; another user's room is open);
- ``own room``: in a room it owns, with another member;
- ``their room``: a member of someone else's room;
- ``logged out``: after ``auth.logout``, where the server has closed the connection.

The reply code must be the one the contract documents for that state: the first failing
check wins (envelope, type, state, rate, fields, the request's own rules). After every
reply the connection must still serve, except after a logout, which closes it.

(tests/integration/test_session.py checks a few rows of this table — hello first,
login needed — one request at a time; this covers the whole matrix.)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pymeet.protocol.messages import REQUEST_FIELDS
from tests.support.server_process import ServerProcess
from tests.support.wire import (
    DEFAULT_PASSWORD,
    Clients,
    WireClient,
    clients_for,
    email_for,
    expect_error,
    running_server,
    unique_name,
    unique_room,
)

STATES = ["fresh", "greeted", "lobby", "own room", "their room"]
OK = "ok"
HR = "hello_required"
UN = "unauthenticated"
NIR = "not_in_room"
FB = "forbidden"

# request type: reply code in fresh, greeted, lobby, own room, their room
EXPECTED: dict[str, tuple[str, str, str, str, str]] = {
    "hello": (OK, OK, OK, OK, OK),  # answered again when repeated (docs/PROTOCOL.md)
    "auth.register": (HR, OK, OK, OK, OK),  # needs hello only
    # A second login on a logged-in connection is refused (handlers/session.py `login`).
    "auth.login": (HR, OK, FB, FB, FB),
    "auth.logout": (HR, UN, OK, OK, OK),
    "ping": (HR, OK, OK, OK, OK),  # needs hello but no login
    "user.list": (HR, UN, OK, OK, OK),
    "room.list": (HR, UN, OK, OK, OK),
    "room.create": (HR, UN, OK, OK, OK),
    "room.join": (HR, UN, OK, OK, OK),  # the same room again: same result
    "room.leave": (HR, UN, NIR, OK, OK),
    "room.delete": (HR, UN, OK, OK, FB),  # owner only
    "chat.send": (HR, UN, NIR, OK, OK),
    "dm.send": (HR, UN, OK, OK, OK),
    "dm.history": (HR, UN, OK, OK, OK),
    "media.update": (HR, UN, OK, OK, OK),  # works in the lobby too
    "call.invite": (HR, UN, NIR, OK, OK),  # the inviter must be in a room
    "call.answer": (HR, UN, FB, FB, FB),  # no pending invitation
    "room.kick": (HR, UN, NIR, OK, FB),  # owner only
    "room.mute": (HR, UN, NIR, OK, FB),  # owner only
    "hand.raise": (HR, UN, NIR, OK, OK),
    "stats": (HR, UN, OK, OK, OK),
}


@dataclass
class Setting:
    """One connection in one state, and the names its requests refer to."""

    subject: WireClient
    name: str
    peer: str = field(default_factory=lambda: unique_name("peer"))
    room: str = field(default_factory=unique_room)  # the room to join
    owned: str = field(default_factory=unique_room)  # the room to delete


FIELDS: dict[str, Callable[[Setting], dict[str, Any]]] = {
    "hello": lambda s: {"client": "state-table", "protocol": 1},
    "auth.register": lambda s: (lambda n: {"username": n, "email": email_for(n),
                                           "password": DEFAULT_PASSWORD})(unique_name("reg")),
    "auth.login": lambda s: {"username": s.name, "password": DEFAULT_PASSWORD},
    "auth.logout": lambda s: {},
    "ping": lambda s: {},
    "user.list": lambda s: {},
    "room.list": lambda s: {},
    "room.create": lambda s: {"room": unique_room("New")},
    "room.join": lambda s: {"room": s.room},
    "room.leave": lambda s: {},
    "room.delete": lambda s: {"room": s.owned},
    "chat.send": lambda s: {"text": "state table"},
    "dm.send": lambda s: {"to": s.peer, "text": "state table"},
    "dm.history": lambda s: {"with": s.peer},
    "media.update": lambda s: {"mic": True, "cam": False},
    "call.invite": lambda s: {"to": s.peer},
    "call.answer": lambda s: {"to": s.peer, "accept": True},
    "room.kick": lambda s: {"username": s.peer},
    "room.mute": lambda s: {"username": s.peer},
    "hand.raise": lambda s: {"up": True},
    "stats": lambda s: {},
}


def test_the_table_covers_every_request_type() -> None:
    assert set(EXPECTED) == set(REQUEST_FIELDS) == set(FIELDS)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("states")) as server:
        yield server


@pytest.fixture
async def clients(shared: ServerProcess) -> AsyncIterator[Clients]:
    async with clients_for(shared) as pool:
        yield pool


async def enter(state: str, clients: Clients) -> Setting:
    """A fresh connection in ``state``, with the users and rooms its requests name."""
    if state == "fresh":
        return Setting(await clients.open(), unique_name("fresh"))
    if state == "greeted":
        subject = await clients.hello()
        name = unique_name("greeted")
        await subject.register(name)
        return Setting(subject, name)
    peer = await clients.user()
    subject = await clients.user()
    setting = Setting(subject, subject.username or "", peer=peer.username or "")
    if state == "lobby":
        await subject.create_room(setting.owned)
        await peer.create_room(setting.room)
    elif state == "own room":
        setting.owned = setting.room
        await subject.create_room(setting.room)
        await subject.join(setting.room)
        await peer.join(setting.room)
    elif state == "their room":
        setting.owned = setting.room
        await peer.create_room(setting.room)
        await peer.join(setting.room)
        await subject.join(setting.room)
    else:
        raise AssertionError(state)
    return setting


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("msg_type", sorted(EXPECTED))
async def test_request_in_state(clients: Clients, state: str, msg_type: str) -> None:
    setting = await enter(state, clients)
    expected = EXPECTED[msg_type][STATES.index(state)]
    reply = await setting.subject.request(msg_type, **FIELDS[msg_type](setting))
    if expected == OK:
        assert reply.get("ok") is True, f"{msg_type} in {state}: {reply!r}"
    else:
        expect_error(reply, expected)
    if msg_type == "auth.logout" and expected == OK:
        await setting.subject.closed()
        outcome = "ok, then closed"
    else:
        after = await setting.subject.request("ping")  # still served, whatever the code
        assert after["type"] == "reply"
        outcome = expected
    print(f"{msg_type} in {state}: {outcome}")


@pytest.mark.parametrize("msg_type", sorted(EXPECTED))
async def test_request_after_logout_finds_the_connection_closed(
    clients: Clients, msg_type: str
) -> None:
    subject = await clients.user()
    setting = Setting(subject, subject.username or "")
    await subject.ok("auth.logout")
    await subject.closed()
    with contextlib.suppress(ConnectionError, RuntimeError, OSError):
        await subject.send_request(msg_type, **FIELDS[msg_type](setting))
    await subject.no_event("reply", within=0.2)
    assert subject.eof
    print(f"{msg_type} after logout: connection closed, no reply")
