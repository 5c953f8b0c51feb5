"""What a request handler is, and the helpers every handler uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pymeet.protocol.errors import ErrorCode, RequestError
from pymeet.server.service import MeetingService
from pymeet.server.sessions import Session
from pymeet.server.store import UserRecord


@dataclass(frozen=True, slots=True)
class Outcome:
    """A handler's result fields, and optionally work to run after the reply is queued
    (for example delivering offline messages after a login reply, §3.3)."""

    result: dict[str, Any]
    then: Callable[[], Awaitable[None]] | None = None


Handler = Callable[[MeetingService, Session, dict[str, Any]], Awaitable["dict[str, Any] | Outcome"]]


def refuse(code: ErrorCode, message: str, field: str | None = None) -> RequestError:
    return RequestError(code, message, field=field)


def current_user(session: Session) -> UserRecord:
    """The logged-in user; the dispatcher guarantees there is one."""
    assert session.user is not None
    return session.user
