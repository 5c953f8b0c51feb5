"""The room: its members as video tiles, the participant list and the tiles' layout.

Fed by the ``room.join`` reply (members, with ``hand`` and ``screen``; ``hands`` in
raise order) and by the member events of PROTOCOL.md §3.2–§3.4. Audio levels come
from the media engine; a speaker stays "speaking" for `SPEAKING_HOLD` seconds after
the last loud report, so the indicator does not flicker between words.

Layouts: a grid of equal tiles (`grid_shape`), or, while someone else shares a screen,
the spotlight (`spotlight_key`, `spotlight_layout`): the presenter's tile large above a
strip of the others. Moderation (§3.4 ``room.kick``, ``room.mute``) is offered only to
the room's owner (`Participant.can_remove`, `can_mute`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pymeet.gui.presenters.text import avatar_color, initials
from pymeet.protocol.validation import identity_key

__all__ = ["SCREEN_ASPECT", "SPEAKING_HOLD", "Participant", "Rect", "RoomPresenter", "Tile",
           "grid_shape", "spotlight_key", "spotlight_layout"]

SPEAKING_HOLD = 0.6
TILE_ASPECT = 4 / 3
SCREEN_ASPECT = 16 / 9  # the "screen" preset, 1280x720 (docs/PROTOCOL.md "Screen sharing")
LAYOUT_SLACK = 0.08
STRIP_SHARE = 0.24  # at most this part of the height goes to the strip under a spotlight
MIN_STRIP_TILE_HEIGHT = 45.0


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
class Rect:
    """A tile's place in the video area, in pixels."""

    x: int
    y: int
    width: int
    height: int

    def overlaps(self, other: Rect) -> bool:
        """True when the two share any pixel."""
        return (self.x < other.x + other.width and other.x < self.x + self.width
                and self.y < other.y + other.height and other.y < self.y + self.height)


def spotlight_layout(others: int, width: float, height: float,
                     gap: float = 8.0) -> tuple[Rect, list[Rect]]:
    """The presenter's tile, as large as fits at `SCREEN_ASPECT`, above a centred strip
    of ``others`` tiles at `TILE_ASPECT` (at most `STRIP_SHARE` of the height and half
    the screen's height), all inside ``width`` x ``height`` with ``gap`` between and
    around them; the block is centred."""
    width, height = max(width, 1.0), max(height, 1.0)
    strip_h = strip_w = 0.0
    if others > 0:
        strip_h = min(height * STRIP_SHARE, (width - gap * (others + 1)) / others / TILE_ASPECT)
        strip_h = max(strip_h, min(MIN_STRIP_TILE_HEIGHT, height * STRIP_SHARE))
        strip_w = strip_h * TILE_ASPECT
    below = strip_h + gap if others > 0 else 0.0
    main_w = max(1.0, min(width - 2 * gap, (height - 2 * gap - below) * SCREEN_ASPECT))
    main_h = main_w / SCREEN_ASPECT
    if others > 0:  # in a tall, narrow area the strip must not rival the screen
        strip_h = min(strip_h, main_h / 2)
        strip_w = strip_h * TILE_ASPECT
        below = strip_h + gap
    top = (height - (main_h + below)) / 2
    main = Rect(int((width - main_w) / 2), int(top), int(main_w), int(main_h))
    row_w = others * strip_w + max(0, others - 1) * gap
    left = (width - row_w) / 2
    strip_y = int(top + main_h + gap)
    strip = [Rect(int(left + index * (strip_w + gap)), strip_y, int(strip_w), int(strip_h))
             for index in range(others)]
    return main, strip


@dataclass(frozen=True)
class Tile:
    """One video tile."""

    username: str
    is_self: bool
    mic: bool
    cam: bool
    speaking: bool
    hand: bool
    screen: bool = False
    """The video is a shared screen (the member is presenting)."""

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

    @property
    def presenting_label(self) -> str:
        """The mark on a tile that shows a shared screen ("" when none)."""
        if not self.screen:
            return ""
        return "You are presenting" if self.is_self else "Presenting"


def spotlight_key(tiles: Iterable[Tile]) -> str | None:
    """Whose tile goes large: the first other member who shares a screen. One's own
    shared screen stays in its own (small) tile: shown large, a real screen capture
    would show itself again and again."""
    for tile in tiles:
        if tile.screen and not tile.is_self:
            return tile.key
    return None


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
    screen: bool = False
    moderator: bool = False
    """True when the one looking at the list owns the room (and may mute or remove)."""

    @property
    def label(self) -> str:
        """Name with its roles."""
        roles = [role for role, on in (("you", self.is_self), ("host", self.is_owner)) if on]
        return f"{self.username} ({', '.join(roles)})" if roles else self.username

    @property
    def status(self) -> str:
        """Mic and camera (or the shared screen) in words."""
        video = "presenting" if self.screen else f"cam {'on' if self.cam else 'off'}"
        media = f"mic {'on' if self.mic else 'off'} · {video}"
        return f"hand #{self.hand_order} · {media}" if self.hand_order else media

    @property
    def can_remove(self) -> bool:
        """The owner may remove anyone but themself (§3.4 ``room.kick``)."""
        return self.moderator and not self.is_self

    @property
    def can_mute(self) -> bool:
        """The owner may mute anyone else whose microphone is on (§3.4 ``room.mute``)."""
        return self.moderator and not self.is_self and self.mic


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
        # A screen is sent instead of the camera, so it is shown only while cam is on.
        merged["screen"] = bool(merged.get("screen")) and merged["cam"]
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

    def set_own_media(self, mic: bool, cam: bool, screen: bool = False) -> None:
        """What this session sends now (announced with ``media.update``)."""
        if self.me is not None and self.room is not None:
            self._put({"username": self.me, "mic": mic, "cam": cam, "screen": screen})

    def set_muted(self, username: str) -> bool:
        """This owner's ``room.mute`` of ``username`` succeeded: the server turned that
        microphone off, and tells everyone but the owner (§3.4), so the owner's list is
        updated here. False when ``username`` is not in the room."""
        member = self._members.get(identity_key(username))
        if member is None:
            return False
        member["mic"] = False
        return True

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
    def own_screen(self) -> bool:
        """True while this session shares its screen."""
        me = self._members.get(identity_key(self.me)) if self.me else None
        return bool(me and me.get("screen"))

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
                     hand=key in self._hands, screen=bool(m.get("screen")))
                for key in order for m in (self._members[key],)]

    def participants(self) -> list[Participant]:
        """The participant list: raised hands first (in raise order), then by name."""
        me = identity_key(self.me) if self.me else None
        owner = identity_key(self.owner) if self.owner else None
        moderator = self.is_owner
        rows = []
        for key, member in self._members.items():
            order = self._hands.index(key) + 1 if key in self._hands else None
            rows.append(Participant(
                username=str(member["username"]), is_self=key == me, is_owner=key == owner,
                mic=bool(member.get("mic")), cam=bool(member.get("cam")),
                hand=order is not None, hand_order=order, screen=bool(member.get("screen")),
                moderator=moderator))
        return sorted(rows, key=lambda p: (p.hand_order is None, p.hand_order or 0,
                                           not p.is_self, identity_key(p.username)))

    def participant(self, username: str) -> Participant | None:
        """The list's line for ``username``, if in the room."""
        key = identity_key(username)
        return next((p for p in self.participants() if identity_key(p.username) == key), None)

    def mute_all_targets(self) -> list[str]:
        """Whom "Mute all" mutes: everyone else with the microphone on (owner only;
        docs/PROTOCOL.md: one ``room.mute`` per member)."""
        return [p.username for p in self.participants() if p.can_mute]

    @property
    def title(self) -> str:
        """The room's name and head count."""
        count = len(self._members)
        return f"{self.room} · {count} {'person' if count == 1 else 'people'}"
