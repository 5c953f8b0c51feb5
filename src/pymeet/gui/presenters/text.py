"""Small pure helpers for showing things to people: times, links, initials, colours."""

from __future__ import annotations

import re
import time
import unicodedata
import zlib

__all__ = [
    "AVATAR_COLORS",
    "avatar_color",
    "format_clock",
    "format_size",
    "initials",
    "split_links",
]

# Readable on white and on near-black, with white initials on top.
AVATAR_COLORS = (
    "#1f6feb", "#8957e5", "#bf3989", "#cf222e", "#bc4c00", "#9a6700",
    "#1a7f37", "#0f766e", "#0550ae", "#6639ba", "#b35900", "#57606a",
)

_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\""
_NAME_PARTS_RE = re.compile(r"[\s._\-]+")


def split_links(text: str) -> list[tuple[str, str | None]]:
    """``text`` cut into ``(piece, url)`` pairs; ``url`` is None for plain text.

    Links start with ``http://``, ``https://`` or ``www.``. Punctuation that ends a
    sentence is not part of a link, and a closing bracket only when it has no match
    inside the link. ``www.`` links get ``https://`` for opening.
    """
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for match in _URL_RE.finditer(text):
        url = match.group(0)
        while url and (url[-1] in _TRAILING
                       or (url[-1] == ")" and url.count("(") < url.count(")"))):
            url = url[:-1]
        if not url or url.lower() in ("http://", "https://", "www."):
            continue
        start = match.start()
        if start > position:
            pieces.append((text[position:start], None))
        target = url if url.lower().startswith("http") else f"https://{url}"
        pieces.append((url, target))
        position = start + len(url)
    if position < len(text):
        pieces.append((text[position:], None))
    return pieces


def format_clock(ts: float, now: float) -> str:
    """When a message was sent, in local time, as short as is unambiguous:
    ``14:05`` today, ``Mon 14:05`` this week, ``3 Mar 14:05`` this year, else
    ``3 Mar 2024 14:05``."""
    then = time.localtime(ts)
    today = time.localtime(now)
    clock = f"{then.tm_hour:02d}:{then.tm_min:02d}"
    if (then.tm_year, then.tm_yday) == (today.tm_year, today.tm_yday):
        return clock
    if 0 <= now - ts < 6 * 86400:
        return f"{time.strftime('%a', then)} {clock}"
    day = f"{then.tm_mday} {time.strftime('%b', then)}"
    if then.tm_year == today.tm_year:
        return f"{day} {clock}"
    return f"{day} {then.tm_year} {clock}"


def initials(name: str) -> str:
    """One or two capital letters for an avatar: ``"Nguyễn Văn"`` -> ``"NV"``,
    ``"alice"`` -> ``"A"``, ``"bob_smith"`` -> ``"BS"``."""
    parts = [part for part in _NAME_PARTS_RE.split(unicodedata.normalize("NFC", name))
             if part]
    letters = [next((ch for ch in part if ch.isalnum()), "") for part in parts[:2]]
    result = "".join(letters).upper()
    return result or "?"


def avatar_color(name: str) -> str:
    """A colour that stays the same for a name on every machine (case-insensitive)."""
    digest = zlib.crc32(unicodedata.normalize("NFC", name).casefold().encode("utf-8"))
    return AVATAR_COLORS[digest % len(AVATAR_COLORS)]


def format_size(size: int) -> str:
    """``532 bytes``, ``1.2 KB``, ``3.4 MB``, ``1.1 GB``."""
    if size < 1024:
        return f"{size} byte" + ("" if size == 1 else "s")
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")
