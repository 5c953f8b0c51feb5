"""The one exception tree of PyMeet, and the wire error codes of PROTOCOL.md §3.6.

::

    PyMeetError                     every error PyMeet raises on purpose
    ├── ProtocolError               the peer sent malformed input (remote fault)
    │   ├── FrameTooLarge           a frame length over 1 MiB (§1)  -> frame_too_large
    │   ├── InvalidField            a field breaks its rule (§3.5)  -> invalid_field
    │   ├── UnknownType             a request type nobody handles   -> unknown_type
    │   └── MediaPacketError        a datagram that cannot be used (§4.3)
    ├── RequestError                a well-formed request was refused, or the server
    │                               replied ok=false; carries any §3.6 code
    └── LocalProtocolError          this side misused the API (local fault)

Every exception maps to exactly one `ErrorCode`. The human-readable ``message`` of a
`PyMeetError` is written for the peer; internal exception text never is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The error codes of PROTOCOL.md §3.6, and nothing else."""

    BAD_REQUEST = "bad_request"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_TYPE = "unknown_type"
    HELLO_REQUIRED = "hello_required"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    UNAUTHENTICATED = "unauthenticated"
    AUTH_FAILED = "auth_failed"
    USER_EXISTS = "user_exists"
    EMAIL_EXISTS = "email_exists"
    ROOM_EXISTS = "room_exists"
    ROOM_NOT_FOUND = "room_not_found"
    WRONG_PASSWORD = "wrong_password"
    NOT_IN_ROOM = "not_in_room"
    USER_NOT_FOUND = "user_not_found"
    USER_OFFLINE = "user_offline"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    FRAME_TOO_LARGE = "frame_too_large"
    INTERNAL = "internal"


class PyMeetError(Exception):
    """Base of every deliberate PyMeet error; ``code`` is its wire error code."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_wire(self) -> dict[str, Any]:
        """The ``error`` object of an ok=false reply (§2)."""
        error: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return error


class ProtocolError(PyMeetError):
    """The peer sent something malformed. ``request_id`` is set when it could be read."""

    code = ErrorCode.BAD_REQUEST

    def __init__(
        self, message: str, *, field: str | None = None, request_id: int | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.request_id = request_id


class FrameTooLarge(ProtocolError):
    """A frame announced a length over the 1 MiB limit; the stream cannot be resynchronised."""

    code = ErrorCode.FRAME_TOO_LARGE


class InvalidField(ProtocolError):
    """One field of an otherwise well-formed request breaks its rule."""

    code = ErrorCode.INVALID_FIELD

    def __init__(self, field: str, message: str, *, request_id: int | None = None) -> None:
        super().__init__(message, field=field, request_id=request_id)


class UnknownType(ProtocolError):
    """A request whose ``type`` this side does not handle."""

    code = ErrorCode.UNKNOWN_TYPE


class MediaPacketError(ProtocolError):
    """A media datagram that is truncated, oversized, of unknown version or kind, or forged.

    ``reason`` is a short stable token used to count drops (for example ``"bad_tag"``).
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason


class RequestError(PyMeetError):
    """A request was refused with a §3.6 code, either by this server or by the peer."""

    def __init__(self, code: ErrorCode | str, message: str, *, field: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message, field=field)
        self.code = ErrorCode(code) if code in ErrorCode._value2member_map_ else ErrorCode.INTERNAL
        self.raw_code = str(code)
        self.extra = dict(extra or {})

    def to_wire(self) -> dict[str, Any]:
        error = super().to_wire()
        error.update(self.extra)
        return error

    def __str__(self) -> str:
        return f"{self.raw_code}: {self.message}"


class LocalProtocolError(PyMeetError):
    """This side misused the protocol API (for example encoding an oversize frame)."""
