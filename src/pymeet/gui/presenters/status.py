"""The connection's state (connected, reconnecting, gone) and the media quality badge.

The client reports ``connection.lost`` / ``connection.restored`` / ``connection.failed``
(`pymeet.client.meeting_client`); quality comes from `MediaEngine.snapshot()`:
the smoothed RTT to the server and the recent loss of what others send us.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["RESTORED_FLASH", "Banner", "ConnectionPresenter", "Quality", "quality_from_snapshot"]

RESTORED_FLASH = 3.0  # seconds the "Reconnected" banner stays
State = Literal["offline", "connected", "reconnecting", "failed"]
BannerLevel = Literal["info", "warning", "error", "ok"]


@dataclass(frozen=True)
class Banner:
    """A strip across the top of the window."""

    text: str
    level: BannerLevel


@dataclass(frozen=True)
class Quality:
    """The connection-quality badge: a level for its colour, a short text, a detail."""

    level: Literal["good", "fair", "poor", "unknown"]
    text: str
    detail: str


def quality_from_snapshot(snapshot: Mapping[str, Any] | None) -> Quality:
    """The badge for a `MediaEngine.snapshot()` (None: no media yet)."""
    if not snapshot:
        return Quality("unknown", "Measuring…", "No media statistics yet.")
    rtt = snapshot.get("rtt_ms")
    streams = snapshot.get("streams") or {}
    losses = []
    for stream in streams.values():
        idle = stream.get("idle_s")
        if stream.get("packets") and (idle is None or idle < 5):
            losses.append(float(stream.get("recent_loss_percent") or 0.0))
    loss = max(losses) if losses else None
    path = snapshot.get("path")
    via = ("over UDP" if path == "udp" else
           "through the control connection (UDP is blocked)" if path == "tunnel" else "")
    if rtt is None:
        return Quality("unknown", "Measuring…", f"Waiting for the first answer {via}".strip()
                       + ".")
    parts = [f"{rtt:.0f} ms"]
    if loss is not None:
        parts.append(f"{loss:.0f}% loss" if loss >= 1 or loss == 0 else f"{loss:.1f}% loss")
    worst_loss = loss or 0.0
    if rtt < 150 and worst_loss < 2:
        level: Literal["good", "fair", "poor"] = "good"
    elif rtt < 400 and worst_loss < 8:
        level = "fair"
    else:
        level = "poor"
    words = {"good": "Good", "fair": "Fair", "poor": "Poor"}[level]
    detail = f"Round trip to the server {rtt:.0f} ms {via}".strip() + "."
    if loss is not None:
        detail += f" {loss:.1f}% of what others send is lost on the way."
    else:
        detail += " Nobody is sending media yet."
    return Quality(level, f"{words} · {' · '.join(parts)}", detail)


class ConnectionPresenter:
    """The connection's state and the banner that shows it."""

    def __init__(self) -> None:
        self.state: State = "offline"
        self.reason: str = ""
        self._restored_at: float | None = None

    def connected(self) -> None:
        """Logged in."""
        self.state = "connected"
        self.reason = ""
        self._restored_at = None

    def offline(self) -> None:
        """Logged out, or never connected."""
        self.state = "offline"
        self.reason = ""
        self._restored_at = None

    def apply(self, event: Mapping[str, Any], now: float) -> bool:
        """Take a connection event; True when the banner may have changed."""
        kind = event.get("type")
        if kind == "connection.lost":
            self.reason = str(event.get("reason") or "")
            self.state = "reconnecting" if event.get("will_reconnect") else "failed"
            self._restored_at = None
            return True
        if kind == "connection.restored":
            self.state = "connected"
            self.reason = ""
            self._restored_at = now
            return True
        if kind == "connection.failed":
            self.state = "failed"
            self.reason = str(event.get("reason") or "")
            return True
        if kind == "session.closed":
            reason = event.get("reason")
            if reason == "replaced":
                self.state = "failed"
                self.reason = "you logged in from another window or computer"
                return True
            if reason == "shutdown":
                self.reason = "the server is shutting down"
                return True
        return False

    def banner(self, now: float) -> Banner | None:
        """What the top strip says now, or None for no strip."""
        if self.state == "reconnecting":
            return Banner("Connection lost. Reconnecting…", "warning")
        if self.state == "failed":
            because = f": {self.reason}" if self.reason else ""
            return Banner(f"Disconnected{because}.", "error")
        if self._restored_at is not None and now - self._restored_at < RESTORED_FLASH:
            return Banner("Reconnected.", "ok")
        return None

    @property
    def can_send(self) -> bool:
        """True when requests can go out."""
        return self.state == "connected"
