"""The lobby: the rooms with their member counts and locks, and who is online.

Fed by ``room.list`` / ``lobby.update`` (the full list each time, PROTOCOL.md §3.2) and
by ``user.list`` / ``presence`` (§3.1). Names compare case-insensitively, as the
server's do (docs/PROTOCOL.md, "Sessions").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pymeet.protocol.errors import InvalidField
from pymeet.protocol.validation import check_password, check_room_name, identity_key

__all__ = [
    "LobbyPresenter",
    "RoomRow",
    "UserRow",
    "join_error_text",
    "people_label",
    "validate_new_room",
]


def people_label(count: int) -> str:
    """``empty``, ``1 person``, ``3 people``."""
    if count <= 0:
        return "empty"
    return "1 person" if count == 1 else f"{count} people"


@dataclass(frozen=True)
class RoomRow:
    """One line of the room list."""

    name: str
    owner: str
    members: int
    locked: bool

    @property
    def key(self) -> str:
        """The room's identity (NFC, case-folded)."""
        return identity_key(self.name)

    @property
    def people(self) -> str:
        """The member count in words."""
        return people_label(self.members)


@dataclass(frozen=True)
class UserRow:
    """One online user."""

    username: str
    room: str | None

    @property
    def key(self) -> str:
        """The user's identity (case-folded)."""
        return identity_key(self.username)

    @property
    def where(self) -> str:
        """Where the user is, in words."""
        return f"in {self.room}" if self.room else "in the lobby"


class LobbyPresenter:
    """What the lobby shows (see the module docstring)."""

    def __init__(self) -> None:
        self.me: str | None = None
        self._rooms: dict[str, RoomRow] = {}
        self._users: dict[str, UserRow] = {}

    # -- feeding ---------------------------------------------------------------------

    def set_me(self, username: str | None) -> None:
        """The logged-in user, left out of the people list."""
        self.me = username

    def set_rooms(self, rooms: Iterable[Mapping[str, Any]]) -> None:
        """Replace the room list (a ``room.list`` reply or a ``lobby.update``)."""
        rows: dict[str, RoomRow] = {}
        for room in rooms:
            name = room.get("name")
            if not isinstance(name, str) or not name:
                continue
            members = room.get("members")
            row = RoomRow(name=name, owner=str(room.get("owner") or ""),
                          members=members if isinstance(members, int) else 0,
                          locked=bool(room.get("locked")))
            rows[row.key] = row
        self._rooms = rows

    def set_users(self, users: Iterable[Mapping[str, Any]]) -> None:
        """Replace the online users (a ``user.list`` reply)."""
        rows: dict[str, UserRow] = {}
        for user in users:
            name = user.get("username")
            if not isinstance(name, str) or not name:
                continue
            room = user.get("room")
            row = UserRow(name, room if isinstance(room, str) and room else None)
            rows[row.key] = row
        self._users = rows

    def set_user_room(self, username: str, room: str | None) -> None:
        """Record where an online user is (for example after they joined our room)."""
        key = identity_key(username)
        if key in self._users:
            self._users[key] = UserRow(self._users[key].username, room)

    def apply(self, event: Mapping[str, Any]) -> set[str]:
        """Take one event; returns what changed: a subset of ``{"rooms", "users"}``."""
        kind = event.get("type")
        if kind == "lobby.update":
            rooms = event.get("rooms")
            if isinstance(rooms, list):
                before = self.room_rows()
                self.set_rooms(rooms)
                return {"rooms"} if self.room_rows() != before else set()
        elif kind == "presence":
            name = event.get("username")
            if not isinstance(name, str) or not name:
                return set()
            key = identity_key(name)
            if event.get("online"):
                if key not in self._users:
                    self._users[key] = UserRow(name, None)
                    return {"users"}
            elif self._users.pop(key, None) is not None:
                return {"users"}
        return set()

    # -- reading ---------------------------------------------------------------------

    def room_rows(self) -> list[RoomRow]:
        """Every room, by name."""
        return sorted(self._rooms.values(), key=lambda row: (row.key, row.name))

    def room(self, name: str) -> RoomRow | None:
        """The room called ``name`` (any case), if listed."""
        return self._rooms.get(identity_key(name))

    def user_rows(self) -> list[UserRow]:
        """Everyone online but me, by name."""
        me = identity_key(self.me) if self.me else None
        return sorted((row for key, row in self._users.items() if key != me),
                      key=lambda row: (row.key, row.username))

    def is_online(self, username: str) -> bool:
        """True when ``username`` is online."""
        return identity_key(username) in self._users

    @property
    def empty_rooms_hint(self) -> str:
        """What the room list says when there is no room yet."""
        return "No rooms yet. Create the first one!"

    @property
    def summary(self) -> str:
        """A one-line count for the lobby's header."""
        rooms = len(self._rooms)
        others = len(self.user_rows())
        room_text = "1 room" if rooms == 1 else f"{rooms} rooms"
        people = "nobody else online" if others == 0 else (
            "1 other person online" if others == 1 else f"{others} other people online")
        return f"{room_text} · {people}"


def validate_new_room(name: str, with_password: bool, password: str) -> dict[str, str]:
    """Field -> message for the "Create room" form (PROTOCOL.md §3.5 rules)."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["room"] = "Give the room a name."
    else:
        try:
            check_room_name(name)
        except InvalidField as exc:
            errors["room"] = exc.message[0].upper() + exc.message[1:] + "."
    if with_password:
        try:
            check_password(password)
        except InvalidField as exc:
            errors["password"] = exc.message[0].upper() + exc.message[1:] + "."
    return errors


def join_error_text(code: str, message: str) -> str:
    """A sentence for a refused ``room.join`` (shown inline)."""
    return {
        "wrong_password": "Wrong password. Try again.",
        "room_not_found": "This room does not exist any more.",
        "rate_limited": "Too many attempts. Wait a moment and try again.",
    }.get(code, message[:1].upper() + message[1:] if message else code)
