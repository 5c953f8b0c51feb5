"""Rooms and their members: in-memory state over the persisted room records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pymeet.server.store import RoomRecord
from pymeet.server.validation_keys import room_key

if TYPE_CHECKING:
    from pymeet.server.sessions import Session


class Room:
    """A room: its record, its members in join order, and a lock that keeps its chat
    in id order (§3.3: stored, then delivered, one message at a time)."""

    def __init__(self, record: RoomRecord) -> None:
        self.record = record
        self.members: dict[str, Session] = {}
        self._hands: dict[str, str] = {}  # user key -> username, in the order raised
        self.chat_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def owner(self) -> str:
        return self.record.owner

    @property
    def locked(self) -> bool:
        return self.record.password_hash is not None

    def info(self) -> dict[str, Any]:
        """The room as `RoomInfo` (§3)."""
        return {
            "name": self.name,
            "owner": self.owner,
            "members": len(self.members),
            "locked": self.locked,
        }

    def set_hand(self, session: Session, up: bool) -> None:
        self._hands.pop(session.key, None)
        if up:
            self._hands[session.key] = session.username

    def raised_hands(self) -> list[str]:
        """Usernames with a raised hand, first raised first (§3.4)."""
        return list(self._hands.values())

    def others(self, session: Session) -> list[Session]:
        return [member for member in self.members.values() if member is not session]


class RoomDirectory:
    """All rooms by case-insensitive name. Room placement lives behind this one class,
    so rooms could later be pinned to other nodes without touching the handlers."""

    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}

    def __iter__(self) -> Iterator[Room]:
        return iter(list(self._rooms.values()))

    def __len__(self) -> int:
        return len(self._rooms)

    def get(self, name: str) -> Room | None:
        return self._rooms.get(room_key(name))

    def add(self, record: RoomRecord) -> Room:
        room = Room(record)
        self._rooms[room_key(record.name)] = room
        return room

    def remove(self, room: Room) -> None:
        self._rooms.pop(room_key(room.name), None)

    def infos(self) -> list[dict[str, Any]]:
        """Every room as RoomInfo, sorted by name."""
        return [
            room.info() for room in sorted(self._rooms.values(), key=lambda r: room_key(r.name))
        ]
