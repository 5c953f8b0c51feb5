"""The decision whether to talk to a server, given the fingerprint of its certificate.

Three sources, in this order of precedence:

1. an explicit fingerprint (``fingerprint=``): the server must present exactly that
   certificate; the known-servers file is neither read nor written;
2. a pin in the known-servers file: it must match, else `CertificateMismatch`;
3. first contact: ``on_new_server(host_port, fingerprint)`` decides (it may be sync or
   async); without a callback the server is trusted. A trusted server is pinned, so
   every later connection, reconnects included, is held to the same certificate.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymeet.client.errors import CertificateMismatch, UntrustedServer
from pymeet.client.known_servers import KnownServers, format_fingerprint, normalize_fingerprint

__all__ = ["NewServerCallback", "ServerTrust"]

logger = logging.getLogger(__name__)

NewServerCallback = Callable[[str, str], "bool | Awaitable[bool]"]
"""``on_new_server(host_port, fingerprint) -> bool``: True trusts and pins the server."""


@dataclass
class ServerTrust:
    """Verifies a server's certificate fingerprint (see the module docstring)."""

    known_servers: KnownServers
    fingerprint: str | None = None
    on_new_server: NewServerCallback | None = None

    def __post_init__(self) -> None:
        if self.fingerprint is not None:
            self.fingerprint = normalize_fingerprint(self.fingerprint)

    async def verify(self, host_port: str, actual: str) -> None:
        """Return when the server may be trusted; raise a `TrustError` otherwise."""
        actual = normalize_fingerprint(actual)
        if self.fingerprint is not None:
            if actual != self.fingerprint:
                raise CertificateMismatch(
                    f"the server {host_port} presented the certificate "
                    f"{format_fingerprint(actual)}, not the expected "
                    f"{format_fingerprint(self.fingerprint)}; the connection was refused",
                    host_port=host_port, expected=self.fingerprint, actual=actual,
                )
            return
        if self.known_servers.check(host_port, actual):
            return
        if self.on_new_server is not None:
            decision = self.on_new_server(host_port, actual)
            if inspect.isawaitable(decision):
                decision = await decision
            if not decision:
                raise UntrustedServer(
                    f"the certificate of {host_port} ({format_fingerprint(actual)}) "
                    "was not trusted"
                )
        else:
            logger.info("first contact with %s: trusting its certificate", host_port)
        self.known_servers.pin(host_port, actual)
