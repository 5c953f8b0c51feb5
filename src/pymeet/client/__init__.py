"""The PyMeet client core: `MeetingClient`, one asyncio object per server session.

The names below are imported on first use (PEP 562), so importing a submodule such as
``pymeet.client.chat_cli`` (which `pymeet.cli` does to build its parser) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymeet.client.errors import (
        CertificateMismatch,
        ClientError,
        ConnectionClosed,
        KnownServersError,
        RequestError,
        RequestTimeout,
        TrustError,
        UntrustedServer,
    )
    from pymeet.client.known_servers import KnownServers, format_fingerprint
    from pymeet.client.meeting_client import (
        CONNECTION_FAILED,
        CONNECTION_LOST,
        CONNECTION_RESTORED,
        JoinResult,
        MediaCredentials,
        MeetingClient,
    )

_EXPORTS: dict[str, str] = {
    "CertificateMismatch": "pymeet.client.errors",
    "ClientError": "pymeet.client.errors",
    "ConnectionClosed": "pymeet.client.errors",
    "KnownServersError": "pymeet.client.errors",
    "RequestError": "pymeet.client.errors",
    "RequestTimeout": "pymeet.client.errors",
    "TrustError": "pymeet.client.errors",
    "UntrustedServer": "pymeet.client.errors",
    "KnownServers": "pymeet.client.known_servers",
    "format_fingerprint": "pymeet.client.known_servers",
    "CONNECTION_FAILED": "pymeet.client.meeting_client",
    "CONNECTION_LOST": "pymeet.client.meeting_client",
    "CONNECTION_RESTORED": "pymeet.client.meeting_client",
    "JoinResult": "pymeet.client.meeting_client",
    "MediaCredentials": "pymeet.client.meeting_client",
    "MeetingClient": "pymeet.client.meeting_client",
}

__all__ = [
    "CONNECTION_FAILED",
    "CONNECTION_LOST",
    "CONNECTION_RESTORED",
    "CertificateMismatch",
    "ClientError",
    "ConnectionClosed",
    "JoinResult",
    "KnownServers",
    "KnownServersError",
    "MediaCredentials",
    "MeetingClient",
    "RequestError",
    "RequestTimeout",
    "TrustError",
    "UntrustedServer",
    "format_fingerprint",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
