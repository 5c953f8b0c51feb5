"""Identity keys: the case-insensitive forms under which names are unique."""

from __future__ import annotations

from pymeet.protocol.validation import identity_key


def user_key(username_or_email: str) -> str:
    return identity_key(username_or_email)


def room_key(room_name: str) -> str:
    return identity_key(room_name)
