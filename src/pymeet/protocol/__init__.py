"""The sans-I/O core of PyMeet: bytes and values in, bytes and values out.

Nothing in this package performs I/O, reads a clock or imports asyncio, socket,
sqlite3 or tkinter (a test asserts it). Time, where it matters, is a parameter.
"""

from __future__ import annotations

from pymeet.protocol.errors import (
    ErrorCode,
    FrameTooLarge,
    InvalidField,
    LocalProtocolError,
    MediaPacketError,
    ProtocolError,
    PyMeetError,
    RequestError,
    UnknownType,
)

__all__ = [
    "ErrorCode",
    "FrameTooLarge",
    "InvalidField",
    "LocalProtocolError",
    "MediaPacketError",
    "ProtocolError",
    "PyMeetError",
    "RequestError",
    "UnknownType",
]
