"""Implementation-defined requests about the media plane (docs/PROTOCOL.md): `stats`."""

from __future__ import annotations

import time
from typing import Any

from pymeet.server.service import MeetingService
from pymeet.server.sessions import Session


async def stats(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    """Relay counters (received, forwarded, sent, dropped by reason) and server totals.
    Counters carry no secrets and no other user's data, so any logged-in user may read them."""
    return {
        "relay": service.relay_stats(),
        "sessions": len(service.registry),
        "rooms": len(service.rooms),
        "uptime": time.time() - service.started,
    }
