"""The room: its members as video tiles, the participant list and the grid's shape.

Fed by the ``room.join`` reply (members, with ``hand``; ``hands`` in raise order when
the server sends them) and by the member events of PROTOCOL.md §3.2–§3.4. Audio
levels come from the media engine; a speaker stays "speaking" for `SPEAKING_HOLD`
seconds after the last loud report, so the indicator does not flicker between words.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pymeet.gui.presenters.text import avatar_color, initials
from pymeet.protocol.validation import identity_key

__all__ = ["SPEAKING_HOLD", "Participant", "RoomPresenter", "Tile", "grid_shape"]

SPEAKING_HOLD = 0.6
TILE_ASPECT = 4 / 3
LAYOUT_SLACK = 0.08


def grid_shape(count: int, width: float, height: float,
               aspect: float = TILE_ASPECT) -> tuple[int, int]:
    """(columns, rows) that make ``count`` tiles of ``aspect`` about as large as possible
    in a ``width`` x ``height`` area. Layouts within `LAYOUT_SLACK` of the largest count
    as equal, and of those the one with the fewest rows wins: two people sit side by
    side on a landscape screen, as in other meeting apps."""
    if count <= 0:
        return (0, 0)
    width, height = max(width, 1.0), max(height, 1.0)
    options = []
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        if columns > 1 and math.ceil(count / (columns - 1)) == rows:
            continue  # an empty column would only shrink the tiles
        options.append((min(width / columns, height / rows * aspect), columns, rows))
    largest = max(size for size, _, _ in options)
    _, columns, rows = min((o for o in options if o[0] >= largest * (1 - LAYOUT_SLACK)),
                           key=lambda o: (o[2], -o[0]))
    return columns, rows


@dataclass(frozen=True)
class Tile:
    """One video tile."""

    username: str
    is_self: bool
    mic: bool
    cam: bool
    speaking: bool
    hand: bool

    @property
    def key(self) -> str:
        """The member's identity (case-folded)."""
        return identity_key(self.username)

    @property
    def label(self) -> str:
        """The name shown on the tile."""
        return f"{self.username} (you)" if self.is_self else self.username

    @property
    def initials(self) -> str:
        """The avatar's letters, shown while the camera is off."""
        return initials(self.username)

    @property
    def color(self) -> str:
        """The avatar's colour."""
        return avatar_color(self.username)


@dataclass(frozen=True)
class Participant:
    """One line of the participant list."""

    username: str
    is_self: bool
    is_owner: bool
    mic: bool
    cam: bool
    hand: bool
    hand_order: int | None
    """1 for the first raised hand, and so on; None when the hand is down."""

    @property
    def label(self) -> str:
        """Name with its roles."""
        roles = [role for role, on in (("you", self.is_self), ("host", self.is_owner)) if on]
        return f"{self.username} ({', '.join(roles)})" if roles else self.username

    @property
    def status(self) -> str:
        """Mic and camera in words."""
        media = f"mic {'on' if self.mic else 'off'} · cam {'on' if self.cam else 'off'}"
        return f"hand #{self.hand_order} · {media}" if self.hand_order else media


class RoomPresenter:
    """What the room view shows (see the module docstring)."""

    def __init__(self) -> None:
        self.room: str | None = None
        self.owner: str = ""
        self.me: str | None = None
        self._members: dict[str, dict[str, Any]] = {}
        self._hands: list[str] = []
        self._speaking_until: dict[str, float] = {}
        self._levels: dict[str, float] = {}

    # -- feeding ---------------------------------------------------------------------

    def enter(self, room: Mapping[str, Any], members: Iterable[Mapping[str, Any]],
              me: str, hands: Iterable[str] | None = None) -> None:
        """The ``room.join`` reply: the room, its members (me included), raised hands."""
        self.room = str(room.get("name", ""))
        self.owner = str(room.get("owner") or "")
        self.me = me
        self._members = {}
        self._speaking_until = {}
        self._levels = {}
        for member in members:
            self._put(member)
        if identity_key(me) not in self._members:
            self._put({"username": me, "mic": False, "cam": False})
        if hands is not None:
            self._hands = [identity_key(name) for name in hands
                           if isinstance(name, str) and identity_key(name) in self._members]
        else:
            self._hands = [key for key, m in self._members.items() if m.get("hand")]
        for key, member in self._members.items():
            member["hand"] = key in self._hands

    def leave(self) -> None:
        """Back in the lobby."""
        self.room = None
        self.owner = ""
        self._members = {}
        self._hands = []
        self._speaking_until = {}
        self._levels = {}

    def _put(self, member: Mapping[str, Any]) -> str | None:
        name = member.get("username")
        if not isinstance(name, str) or not name:
            return None
        key = identity_key(name)
        previous = self._members.get(key, {})
        merged = {**previous, **member}
        merged["mic"] = bool(merged.get("mic"))
        merged["cam"] = bool(merged.get("cam"))
        self._members[key] = merged
        return key

    def _for_this_room(self, event: Mapping[str, Any]) -> bool:
        room = event.get("room")
        return (self.room is not None and isinstance(room, str)
                and identity_key(room) == identity_key(self.room))

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Take one event; True when members or their state changed."""
        if not self._for_this_room(event):
            return False
        kind = event.get("type")
        if kind in ("room.member_joined", "room.member_updated"):
            member = event.get("member")
            if not isinstance(member, Mapping):
                return False
            key = self._put(member)
            if key is not None and "hand" in member:
                self._set_hand(key, bool(member.get("hand")))
            return key is not None
        if kind == "room.member_left":
            key = identity_key(str(event.get("username", "")))
            if self._members.pop(key, None) is None:
                return False
            self._hands = [k for k in self._hands if k != key]
            self._speaking_until.pop(key, None)
            self._levels.pop(key, None)
            return True
        if kind == "hand.update":
            key = identity_key(str(event.get("username", "")))
            if key not in self._members:
                return False
            self._set_hand(key, bool(event.get("up")))
            return True
        if kind == "media.muted" and self.me is not None:
            me = self._members.get(identity_key(self.me))
            if me is not None:
                me["mic"] = False
                return True
        return False

    def _set_hand(self, key: str, up: bool) -> None:
        member = self._members.get(key)
        if member is not None:
            member["hand"] = up
        if up and key not in self._hands:
            self._hands.append(key)
        elif not up:
            self._hands = [k for k in self._hands if k != key]

    def set_own_media(self, mic: bool, cam: bool) -> None:
        """What the server confirmed for this session (a ``media.update`` reply)."""
        if self.me is not None and self.room is not None:
            self._put({"username": self.me, "mic": mic, "cam": cam})

    def set_own_hand(self, up: bool, hands: Iterable[str] | None = None) -> None:
        """The reply to ``hand.raise``; ``hands`` is the server's raise order if sent."""
        if self.me is None:
            return
        if hands is not None:
            self._hands = [identity_key(n) for n in hands
                           if isinstance(n, str) and identity_key(n) in self._members]
            for key, member in self._members.items():
                member["hand"] = key in self._hands
        else:
            self._set_hand(identity_key(self.me), up)

    def set_level(self, username: str, level: float, speaking: bool, now: float) -> None:
        """An audio level report (0..1) for ``username``."""
        key = identity_key(username)
        self._levels[key] = level
        if speaking:
            self._speaking_until[key] = now + SPEAKING_HOLD

    # -- reading ---------------------------------------------------------------------

    @property
    def in_room(self) -> bool:
        """True while in a room."""
        return self.room is not None

    @property
    def own_mic(self) -> bool:
        """This session's mic as the server knows it."""
        me = self._members.get(identity_key(self.me)) if self.me else None
        return bool(me and me.get("mic"))

    @property
    def own_cam(self) -> bool:
        """This session's camera as the server knows it."""
        me = self._members.get(identity_key(self.me)) if self.me else None
        return bool(me and me.get("cam"))

    @property
    def own_hand(self) -> bool:
        """True while this user's hand is up."""
        return self.me is not None and identity_key(self.me) in self._hands

    @property
    def is_owner(self) -> bool:
        """True when this user owns the room."""
        return bool(self.me and self.owner
                    and identity_key(self.me) == identity_key(self.owner))

    def member_names(self) -> list[str]:
        """Everyone in the room, me first, then in order of arrival."""
        return [tile.username for tile in self.tiles(0.0)]

    def has_member(self, username: str) -> bool:
        """True when ``username`` is in the room."""
        return identity_key(username) in self._members

    def speaking(self, username: str, now: float) -> bool:
        """True while ``username`` spoke within the last `SPEAKING_HOLD` seconds."""
        return self._speaking_until.get(identity_key(username), -1.0) > now

    def tiles(self, now: float) -> list[Tile]:
        """One tile per member: me first, then the others in order of arrival."""
        me = identity_key(self.me) if self.me else None
        order = sorted(self._members, key=lambda key: key != me)
        return [Tile(username=str(m["username"]), is_self=key == me, mic=bool(m.get("mic")),
                     cam=bool(m.get("cam")),
                     speaking=self._speaking_until.get(key, -1.0) > now,
                     hand=key in self._hands)
                for key in order for m in (self._members[key],)]

    def participants(self) -> list[Participant]:
        """The participant list: raised hands first (in raise order), then by name."""
        me = identity_key(self.me) if self.me else None
        owner = identity_key(self.owner) if self.owner else None
        rows = []
        for key, member in self._members.items():
            order = self._hands.index(key) + 1 if key in self._hands else None
            rows.append(Participant(
                username=str(member["username"]), is_self=key == me, is_owner=key == owner,
                mic=bool(member.get("mic")), cam=bool(member.get("cam")),
                hand=order is not None, hand_order=order))
        return sorted(rows, key=lambda p: (p.hand_order is None, p.hand_order or 0,
                                           not p.is_self, identity_key(p.username)))

    @property
    def title(self) -> str:
        """The room's name and head count."""
        count = len(self._members)
        return f"{self.room} · {count} {'person' if count == 1 else 'people'}"
