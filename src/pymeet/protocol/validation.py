"""Field rules of PROTOCOL.md §3.5, shared by the server (which enforces them) and the
clients (which mirror them to show inline messages before a round trip).

Each ``check_*`` function returns the normalised value or raises `InvalidField`.
Names are NFC-normalised first, so ``Phòng họp 1`` typed as decomposed Unicode is the same
room as its precomposed spelling (docs/PROTOCOL.md, "Choices").
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pymeet.protocol.errors import InvalidField

USERNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
ROOM_RE = re.compile(r"^\w[\w .-]{0,39}$")
EMAIL_MAX_LENGTH = 254
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
TEXT_MAX_LENGTH = 4000
ALLOWED_CONTROL_CHARACTERS = frozenset("\n\t")


def _require_str(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidField(field, f"{field} must be a string")
    return value


def _fullmatch(pattern: re.Pattern[str], value: str) -> bool:
    # `$` also matches before a final newline; fullmatch does not (§3.5 means the whole value).
    return pattern.fullmatch(value) is not None


def check_username(value: Any, field: str = "username") -> str:
    """A username: 3 to 32 of ``A-Z a-z 0-9 _ . -``, not starting with ``.`` or ``-``."""
    text = _require_str(field, value)
    if not _fullmatch(USERNAME_RE, text):
        raise InvalidField(
            field,
            "a username has 3 to 32 letters, digits, '_', '.' or '-' and starts with a "
            "letter, digit or '_'",
        )
    return text


def check_email(value: Any, field: str = "email") -> str:
    """An email address of at most 254 characters, ``local@domain.tld``."""
    text = _require_str(field, value)
    if len(text) > EMAIL_MAX_LENGTH or not _fullmatch(EMAIL_RE, text):
        raise InvalidField(field, "enter an email address like name@example.org")
    return text


def check_password(value: Any, field: str = "password") -> str:
    """A new password: 8 to 128 characters."""
    text = _require_str(field, value)
    if not PASSWORD_MIN_LENGTH <= len(text) <= PASSWORD_MAX_LENGTH:
        raise InvalidField(
            field, f"a password has {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters"
        )
    return text


def check_password_attempt(value: Any, field: str = "password") -> str:
    """A password offered for comparison: any string up to 128 characters.

    Its minimum length is not checked, so a wrong guess is always reported as a wrong
    password, never as a malformed one.
    """
    text = _require_str(field, value)
    if len(text) > PASSWORD_MAX_LENGTH:
        raise InvalidField(field, f"a password has at most {PASSWORD_MAX_LENGTH} characters")
    return text


def check_room_name(value: Any, field: str = "room") -> str:
    """A room name: 1 to 40 Unicode letters, digits, ``_``, space, ``.`` or ``-``."""
    raw = _require_str(field, value)
    text = unicodedata.normalize("NFC", raw)
    # The rule holds for the name as sent or for its NFC form: decomposed input (NFD
    # Vietnamese) passes once composed, and a few letters that NFC decomposes
    # (composition exclusions) pass as sent. Either way the NFC form is kept.
    if not (_fullmatch(ROOM_RE, text) or _fullmatch(ROOM_RE, raw)) or text.endswith(" "):
        raise InvalidField(
            field,
            "a room name has 1 to 40 letters, digits, spaces, '_', '.' or '-', starts with "
            "a letter or digit and does not end with a space",
        )
    return text


def check_login_identifier(value: Any, field: str = "username") -> str:
    """What a user logs in with: a username or an email address."""
    text = _require_str(field, value)
    if _fullmatch(USERNAME_RE, text):
        return text
    if len(text) <= EMAIL_MAX_LENGTH and _fullmatch(EMAIL_RE, text):
        return text
    raise InvalidField(field, "enter your username or your email address")


def check_text(value: Any, field: str = "text") -> str:
    """Message text: 1 to 4000 characters after trimming, no control characters but
    newline and tab. Returns the trimmed text."""
    text = _require_str(field, value).strip()
    if not text:
        raise InvalidField(field, "a message cannot be empty")
    if len(text) > TEXT_MAX_LENGTH:
        raise InvalidField(field, f"a message has at most {TEXT_MAX_LENGTH} characters")
    for char in text:
        if unicodedata.category(char) == "Cc" and char not in ALLOWED_CONTROL_CHARACTERS:
            raise InvalidField(field, "a message cannot contain control characters")
    return text


def check_bool(value: Any, field: str) -> bool:
    """A JSON boolean (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise InvalidField(field, f"{field} must be true or false")
    return value


def identity_key(name: str) -> str:
    """The key under which names are unique: NFC, then case-folded."""
    return unicodedata.normalize("NFC", name).casefold()
