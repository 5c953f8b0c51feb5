"""The chat panel: a tab for the room and one per direct-message partner.

Each tab holds its items (messages and shared files) in one timeline ordered by
time, without duplicates, whatever order replies and events arrive in: history,
``files`` of the join or ``dm.history`` reply and live events interleave by ``ts``
(PROTOCOL.md §3.4, "History"). It counts what arrived while it was not shown (the
unread badge), and renders to blocks that a view draws without thinking: a header
with the sender and a short time whenever the sender changes or five minutes pass,
then the text with its links marked, or a `FileCard` for a shared file.

Room messages are kept per room even before the ``room.join`` reply is handled, so a
message that overtakes the reply is merged with the history, never lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pymeet.gui.presenters.text import format_clock, format_size, split_links
from pymeet.protocol.validation import identity_key

__all__ = ["ROOM_TAB", "ChatBlock", "ChatItem", "ChatPresenter", "ChatTab", "FileCard",
           "dm_tab_key"]

ROOM_TAB = "room"
GROUP_GAP = 300.0  # seconds after which a sender's next message gets a new header

ItemKind = Literal["message", "file", "notice"]


def dm_tab_key(username: str) -> str:
    """The tab key of a direct conversation with ``username``."""
    return "dm:" + identity_key(username)


@dataclass(frozen=True)
class ChatItem:
    """One message, shared file or notice."""

    uid: str
    sender: str
    text: str
    ts: float
    kind: ItemKind = "message"
    order: float = 0.0
    file: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FileCard:
    """A shared file as a card: its name, size, who shared it and when."""

    file_id: str
    name: str
    size: str
    """Human-readable (``2.0 KB``); "" when unknown."""
    sender: str
    mine: bool
    time: str
    info: Mapping[str, Any]
    """The whole FileInfo, for downloading it."""

    @property
    def details(self) -> str:
        """The card's second line: ``2.0 KB · bob · 14:05``."""
        who = "you" if self.mine else self.sender
        return " · ".join(part for part in (self.size, who, self.time) if part)

    @property
    def summary(self) -> str:
        """The card as one line of text (copying, tests, accessibility)."""
        size = f" ({self.size})" if self.size else ""
        return f"shared a file: {self.name}{size}"


@dataclass(frozen=True)
class ChatBlock:
    """What a view draws for one item: an optional header, then pieces of text, or
    a card for a shared file.

    ``pieces`` are ``(text, url)`` pairs (``url`` None for plain text).
    """

    uid: str
    kind: ItemKind
    sender: str
    mine: bool
    header: str | None
    time: str
    pieces: tuple[tuple[str, str | None], ...]
    card: FileCard | None = None


@dataclass
class ChatTab:
    """One conversation."""

    key: str
    title: str
    peer: str | None = None
    """The other person of a direct conversation; None for the room."""
    unread: int = 0
    items: list[ChatItem] = field(default_factory=list)
    history_loaded: bool = False
    _uids: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        """The tab's text, with the unread count when there is one."""
        return f"{self.title} ({self.unread})" if self.unread else self.title

    def add(self, item: ChatItem) -> bool:
        """Insert in order; False when it was there already."""
        if item.uid in self._uids:
            return False
        self._uids.add(item.uid)
        position = len(self.items)
        while position > 0 and (self.items[position - 1].ts, self.items[position - 1].order) > (
                item.ts, item.order):
            position -= 1
        self.items.insert(position, item)
        return True


def _message_item(message: Mapping[str, Any], prefix: str) -> ChatItem | None:
    uid = message.get("id")
    text = message.get("text")
    if uid is None or not isinstance(text, str):
        return None
    ts = message.get("ts")
    order = float(uid) if isinstance(uid, int | float) else 0.0
    return ChatItem(uid=f"{prefix}{uid}", sender=str(message.get("from", "")), text=text,
                    ts=float(ts) if isinstance(ts, int | float) else 0.0, order=order)


def _file_item(info: Mapping[str, Any]) -> ChatItem | None:
    uid = info.get("id")
    if uid is None:
        return None
    ts = info.get("ts")
    name = str(info.get("name", "file"))
    size = info.get("size")
    size_text = f" ({format_size(size)})" if isinstance(size, int) else ""
    return ChatItem(uid=f"file:{uid}", sender=str(info.get("from", "")),
                    text=f"shared a file: {name}{size_text}",
                    ts=float(ts) if isinstance(ts, int | float) else 0.0, kind="file",
                    file=dict(info))


def _card(item: ChatItem, mine: bool, clock: str) -> FileCard:
    info = dict(item.file or {})
    size = info.get("size")
    return FileCard(file_id=str(info.get("id", "")), name=str(info.get("name", "file")),
                    size=format_size(size) if isinstance(size, int) else "",
                    sender=item.sender, mine=mine, time=clock, info=info)


class ChatPresenter:
    """Tabs, their items and unread counts (see the module docstring)."""

    def __init__(self) -> None:
        self.me: str | None = None
        self.room: str | None = None
        self.tabs: dict[str, ChatTab] = {}
        self.active: str | None = None
        self._room_items: dict[str, ChatTab] = {}

    # -- tabs ------------------------------------------------------------------------

    def set_me(self, username: str | None) -> None:
        """The logged-in user: decides which side of a direct message is "the other"."""
        self.me = username

    def _is_me(self, name: str) -> bool:
        return self.me is not None and identity_key(name) == identity_key(self.me)

    def tab_order(self) -> list[ChatTab]:
        """The room tab first, then direct conversations in the order they opened."""
        return sorted(self.tabs.values(), key=lambda tab: tab.key != ROOM_TAB)

    def select(self, key: str) -> bool:
        """Show tab ``key`` and clear its badge; False when there is no such tab."""
        tab = self.tabs.get(key)
        if tab is None:
            return False
        self.active = key
        tab.unread = 0
        return True

    def close(self, key: str) -> None:
        """Close a direct conversation (the room tab stays while in the room)."""
        if key == ROOM_TAB or key not in self.tabs:
            return
        del self.tabs[key]
        if self.active == key:
            order = self.tab_order()
            self.active = order[0].key if order else None

    @property
    def total_unread(self) -> int:
        """Everything unread, over all tabs."""
        return sum(tab.unread for tab in self.tabs.values())

    # -- the room --------------------------------------------------------------------

    def _room_store(self, room: str) -> ChatTab:
        key = identity_key(room)
        store = self._room_items.get(key)
        if store is None:
            store = self._room_items[key] = ChatTab(ROOM_TAB, room)
        return store

    def enter_room(self, room: str, history: Iterable[Mapping[str, Any]] = (),
                   files: Iterable[Mapping[str, Any]] = ()) -> None:
        """Entered ``room``: its tab shows the history and files, and becomes active."""
        self.room = room
        store = self._room_store(room)
        store.title = room
        for message in history:
            item = _message_item(message, "chat:")
            if item is not None:
                store.add(item)
        for info in files:
            item = _file_item(info)
            if item is not None:
                store.add(item)
        store.history_loaded = True
        store.unread = 0
        self.tabs = {ROOM_TAB: store, **{k: t for k, t in self.tabs.items() if k != ROOM_TAB}}
        self.active = ROOM_TAB

    def leave_room(self) -> None:
        """Back in the lobby: the room tab goes; direct conversations stay."""
        if self.room is not None:
            self._room_items.pop(identity_key(self.room), None)
        self.room = None
        self.tabs.pop(ROOM_TAB, None)
        if self.active == ROOM_TAB:
            order = self.tab_order()
            self.active = order[0].key if order else None

    def add_chat(self, message: Mapping[str, Any]) -> str | None:
        """A ChatMessage (event or own reply); returns the tab key it shows in, if any."""
        item = _message_item(message, "chat:")
        room = message.get("room")
        if item is None or not isinstance(room, str):
            return None
        store = self._room_store(room)
        if not store.add(item):
            return None
        if self.room is None or identity_key(room) != identity_key(self.room):
            return None  # kept for when the join reply is handled
        self._count_unread(store, item)
        return ROOM_TAB

    # -- direct messages -------------------------------------------------------------

    def open_dm(self, username: str, activate: bool = True) -> str:
        """The tab of the conversation with ``username`` (made if needed)."""
        key = dm_tab_key(username)
        tab = self.tabs.get(key)
        if tab is None:
            tab = self.tabs[key] = ChatTab(key, username, peer=username)
        if activate:
            self.select(key)
        return key

    def add_dm(self, message: Mapping[str, Any]) -> str | None:
        """A DirectMessage (event, own reply or history); returns its tab key."""
        item = _message_item(message, "dm:")
        sender, recipient = str(message.get("from", "")), str(message.get("to", ""))
        if item is None:
            return None
        peer = recipient if self._is_me(sender) else sender
        key = self.open_dm(peer, activate=False)
        tab = self.tabs[key]
        if not tab.add(item):
            return None
        self._count_unread(tab, item)
        return key

    def load_dm_history(self, username: str, messages: Iterable[Mapping[str, Any]],
                        files: Iterable[Mapping[str, Any]] = ()) -> str:
        """A ``dm.history`` reply for the conversation with ``username``."""
        key = self.open_dm(username, activate=False)
        tab = self.tabs[key]
        for message in messages:
            item = _message_item(message, "dm:")
            if item is not None:
                tab.add(item)
        for info in files:
            item = _file_item(info)
            if item is not None:
                tab.add(item)
        tab.history_loaded = True
        return key

    def add_file(self, event: Mapping[str, Any]) -> str | None:
        """A ``file.shared`` event; returns the tab key it shows in, if any."""
        info = event.get("file")
        if not isinstance(info, Mapping):
            return None
        item = _file_item(info)
        if item is None:
            return None
        room, to = event.get("room"), event.get("to")
        if isinstance(room, str) and room:
            store = self._room_store(room)
            if not store.add(item):
                return None
            if self.room is None or identity_key(room) != identity_key(self.room):
                return None
            self._count_unread(store, item)
            return ROOM_TAB
        peer = str(to) if self._is_me(item.sender) and isinstance(to, str) else item.sender
        key = self.open_dm(peer, activate=False)
        if not self.tabs[key].add(item):
            return None
        self._count_unread(self.tabs[key], item)
        return key

    def file_info(self, file_id: str) -> Mapping[str, Any] | None:
        """The FileInfo of a file shown in any tab (None when it is not shown)."""
        for tab in self.tabs.values():
            for item in tab.items:
                if item.kind == "file" and item.uid == f"file:{file_id}":
                    return item.file
        return None

    def notice(self, key: str, text: str, ts: float) -> None:
        """A line from the app itself (for example "bob left") in tab ``key``."""
        tab = self.tabs.get(key)
        if tab is not None:
            tab.add(ChatItem(uid=f"notice:{ts}:{len(tab.items)}", sender="", text=text, ts=ts,
                             kind="notice", order=float("inf")))

    def _count_unread(self, tab: ChatTab, item: ChatItem) -> None:
        if self.active is None:
            self.active = tab.key  # the only conversation: show it rather than badge it
            return
        if tab.key != self.active and not self._is_me(item.sender) and item.kind != "notice":
            tab.unread += 1

    # -- rendering -------------------------------------------------------------------

    def blocks(self, key: str, now: float) -> list[ChatBlock]:
        """Tab ``key`` as blocks, oldest first (see the module docstring)."""
        tab = self.tabs.get(key)
        if tab is None:
            return []
        blocks: list[ChatBlock] = []
        previous: ChatItem | None = None
        for item in tab.items:
            new_group = (item.kind == "notice" or previous is None or previous.kind == "notice"
                         or identity_key(previous.sender) != identity_key(item.sender)
                         or item.ts - previous.ts > GROUP_GAP)
            mine = self._is_me(item.sender)
            header = None
            if new_group and item.kind != "notice":
                header = "You" if mine else item.sender
            clock = format_clock(item.ts, now) if item.ts else ""
            blocks.append(ChatBlock(
                uid=item.uid, kind=item.kind, sender=item.sender, mine=mine, header=header,
                time=clock,
                pieces=tuple(split_links(item.text)) if item.kind == "message"
                else ((item.text, None),),
                card=_card(item, mine, clock) if item.kind == "file" else None))
            previous = item
        return blocks

    def placeholder(self, key: str | None) -> str:
        """What an empty tab says."""
        if key is None:
            return ("Direct messages show up here. Choose someone under "
                    "“People online” and press Message.")
        tab = self.tabs.get(key)
        if tab is None:
            return ""
        if tab.peer is not None:
            return f"This is the start of your conversation with {tab.peer}."
        return f"No messages in {tab.title} yet. Say hello!"
