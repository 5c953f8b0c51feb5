"""How the command-line client shows things: pure functions from values to text lines.

Every function returns text without a trailing newline and never does I/O; ``now``
(Unix seconds) is a parameter wherever the wall clock matters, and times are shown in
the local time zone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "clock",
    "describe_event",
    "format_chat",
    "format_dm",
    "format_members",
    "format_rooms",
    "format_users",
    "lobby_summary",
]


def clock(ts: float) -> str:
    """``[HH:MM:SS]`` in local time."""
    return time.strftime("[%H:%M:%S]", time.localtime(ts))


def _stamp(message: Mapping[str, Any], now: float) -> str:
    ts = message.get("ts")
    return clock(float(ts) if isinstance(ts, int | float) else now)


def _indent_continuation(text: str) -> str:
    # A multi-line message keeps its later lines visibly attached to its first one.
    return str(text).replace("\n", "\n    ")


def format_chat(message: Mapping[str, Any], now: float) -> str:
    """A room ChatMessage: ``[12:00:00] #room <alice> text``."""
    return (f"{_stamp(message, now)} #{message.get('room')} <{message.get('from')}> "
            f"{_indent_continuation(str(message.get('text', '')))}")


def format_dm(message: Mapping[str, Any], me: str | None, now: float) -> str:
    """A DirectMessage, seen from ``me``: ``[DM from bob]`` or ``[DM to bob]``."""
    sender, recipient = message.get("from"), message.get("to")
    if me is not None and str(sender).casefold() == me.casefold() and sender != recipient:
        label = f"[DM to {recipient}]"
    else:
        label = f"[DM from {sender}]"
    return f"{_stamp(message, now)} {label} {_indent_continuation(str(message.get('text', '')))}"


def _on_off(value: Any) -> str:
    return "on" if value else "off"


def format_members(members: Iterable[Mapping[str, Any]], me: str | None) -> str:
    """``alice (mic on), bob (you)``: the members of a room, one line."""
    parts = []
    for member in sorted(members, key=lambda m: str(m.get("username", "")).casefold()):
        name = str(member.get("username"))
        flags = [f"{kind} on" for kind in ("mic", "cam") if member.get(kind)]
        if member.get("hand"):
            flags.append("hand up")
        if me is not None and name.casefold() == me.casefold():
            flags.insert(0, "you")
        parts.append(f"{name} ({', '.join(flags)})" if flags else name)
    return ", ".join(parts) if parts else "(nobody)"


def format_rooms(rooms: Iterable[Mapping[str, Any]]) -> list[str]:
    """The room list, one line per room, with member counts, owners and locks."""
    lines = []
    for room in rooms:
        count = int(room.get("members", 0))
        lock = "  locked" if room.get("locked") else ""
        lines.append(f"  #{room.get('name')}  {count} member{'s' if count != 1 else ''}"
                     f"  owner {room.get('owner')}{lock}")
    return lines or ["  (no rooms yet: /create NAME)"]


def format_users(users: Iterable[Mapping[str, Any]]) -> str:
    """``online: alice (in #lounge), bob (lobby)``."""
    parts = [f"{u.get('username')} ({'in #' + str(u['room']) if u.get('room') else 'lobby'})"
             for u in users]
    return "online: " + (", ".join(parts) if parts else "nobody")


def lobby_summary(rooms: Iterable[Mapping[str, Any]]) -> str:
    """``#general 2, #quiet 0 (locked)``: the member count of every room."""
    parts = [f"#{r.get('name')} {r.get('members', 0)}{' (locked)' if r.get('locked') else ''}"
             for r in rooms]
    return ", ".join(parts) if parts else "no rooms"


def describe_event(event: Mapping[str, Any], me: str | None, now: float) -> str | None:
    """One line (or a few) for an incoming event; None when it is not worth showing.

    ``lobby.update`` is left to the caller, which shows it only when counts change.
    """
    kind = event.get("type")
    stamp = clock(now)
    room = event.get("room")
    if kind == "chat.message":
        return format_chat(event.get("message") or {}, now)
    if kind == "dm.message":
        return format_dm(event.get("message") or {}, me, now)
    if kind == "room.member_joined":
        member = event.get("member") or {}
        return f"{stamp} * {member.get('username')} joined #{room}"
    if kind == "room.member_left":
        return f"{stamp} * {event.get('username')} left #{room}"
    if kind == "room.member_updated":
        member = event.get("member") or {}
        return (f"{stamp} * {member.get('username')} in #{room}: mic "
                f"{_on_off(member.get('mic'))}, cam {_on_off(member.get('cam'))}")
    if kind == "room.deleted":
        return f"{stamp} * #{room} was deleted by its owner; you are back in the lobby"
    if kind == "room.kicked":
        return f"{stamp} * {event.get('by')} removed you from #{room}; you are in the lobby"
    if kind == "media.muted":
        return (f"{stamp} * {event.get('by')} muted your microphone in #{room} "
                "(/mic on to speak again)")
    if kind == "hand.update":
        action = "raised" if event.get("up") else "lowered"
        return f"{stamp} * {event.get('username')} {action} a hand in #{room}"
    if kind == "presence":
        state = "online" if event.get("online") else "offline"
        return f"{stamp} * {event.get('username')} is {state}"
    if kind == "call.invite":
        sender = event.get("from")
        return (f"{stamp} * {sender} invites you to #{room}: type /accept {sender} to join, "
                f"/decline {sender} to refuse")
    if kind == "call.answer":
        verdict = "accepted" if event.get("accept") else "declined"
        return f"{stamp} * {event.get('from')} {verdict} your invitation"
    if kind == "file.shared":
        info = event.get("file") or {}
        where = f"#{room}" if room else "you"
        return (f"{stamp} * {info.get('from')} shared the file \"{info.get('name')}\" "
                f"({info.get('size')} bytes) with {where}")
    if kind == "session.closed":
        reason = event.get("reason")
        detail = {"replaced": "you logged in somewhere else",
                  "shutdown": "the server is shutting down"}.get(str(reason), str(reason))
        return f"{stamp} * the server closed this session: {detail}"
    if kind == "connection.lost":
        tail = "reconnecting..." if event.get("will_reconnect") else "not reconnecting"
        return f"{stamp} * connection lost ({event.get('reason')}); {tail}"
    if kind == "connection.restored":
        if event.get("room"):
            where = f"back in #{event['room']}"
        elif event.get("rejoin_error"):
            error = event["rejoin_error"]
            where = f"could not rejoin the room: {error.get('code')}: {error.get('message')}"
        else:
            where = "in the lobby"
        return f"{stamp} * connection restored ({where})"
    if kind == "connection.failed":
        return f"{stamp} * gave up reconnecting: {event.get('reason')}"
    if kind == "lobby.update":
        return None
    return f"{stamp} * {kind}: {json.dumps(dict(event), ensure_ascii=False)}"
