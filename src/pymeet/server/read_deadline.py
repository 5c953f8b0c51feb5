"""How long a control connection (TLS or WebSocket) may wait for its next message."""

from __future__ import annotations

from pymeet.server.config import ServerConfig
from pymeet.server.sessions import Session, SessionState


class ReadDeadline:
    """Until ``hello`` arrives, the time left before the hello deadline; after it, the
    idle timeout afresh for every read (docs/PROTOCOL.md, Limits). Time is passed in."""

    def __init__(self, session: Session, config: ServerConfig, now: float) -> None:
        self._session = session
        self._idle_timeout = config.idle_timeout
        self._hello_by = now + config.hello_timeout

    def remaining(self, now: float) -> float:
        if self._session.state is SessionState.AWAITING_HELLO:
            return max(0.0, self._hello_by - now)
        return self._idle_timeout

    def reason(self) -> str:
        """Why a read that ran out of time ended the connection, for the log."""
        return "no hello" if self._session.state is SessionState.AWAITING_HELLO else "idle"
