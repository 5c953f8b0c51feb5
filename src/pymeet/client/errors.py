"""Errors raised by the client side, grafted onto the one PyMeet exception tree.

::

    PyMeetError                         (pymeet.protocol.errors)
    ├── RequestError                    the server replied ok=false (re-exported here)
    └── ClientError                     something went wrong on this side of the wire
        ├── ConnectionClosed            no live control connection (dropped, closed, replaced)
        ├── RequestTimeout              no reply arrived in time
        └── TrustError                  the server's certificate was not accepted
            ├── CertificateMismatch     it differs from the pinned fingerprint
            ├── UntrustedServer         first contact, and the user declined to trust it
            └── KnownServersError       the known-servers file cannot be read

None of these is ever sent to a peer; their messages are written for the local user.
"""

from __future__ import annotations

from pymeet.protocol.errors import PyMeetError, RequestError

__all__ = [
    "CertificateMismatch",
    "ClientError",
    "ConnectionClosed",
    "KnownServersError",
    "RequestError",
    "RequestTimeout",
    "TrustError",
    "UntrustedServer",
]


class ClientError(PyMeetError):
    """A failure on the client side (as opposed to an ok=false reply)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ConnectionClosed(ClientError):
    """The control connection is gone, or was never there; pending requests fail with it."""


class RequestTimeout(ClientError):
    """The server did not reply to a request within its timeout."""


class TrustError(ClientError):
    """The server's identity could not be established; never retried automatically."""


class CertificateMismatch(TrustError):
    """The server presented a certificate other than the one pinned for its address."""

    def __init__(self, message: str, *, host_port: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.host_port = host_port
        self.expected = expected
        self.actual = actual


class UntrustedServer(TrustError):
    """First contact with a server whose fingerprint the user did not accept."""


class KnownServersError(TrustError):
    """The known-servers file exists but is unreadable or malformed."""
