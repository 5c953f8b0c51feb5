"""Sessions: one per control connection (TLS or WebSocket), and the registry of the
logged-in ones. Owned by the control layer; the media relay only reads it."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pymeet.protocol.messages import dumps
from pymeet.server.rate_limit import TokenBucket
from pymeet.server.store import UserRecord
from pymeet.server.validation_keys import user_key

if TYPE_CHECKING:
    from pymeet.server.media_peers import MediaPeer, WebMediaSink
    from pymeet.server.rooms import Room


class Transport(Protocol):
    """What a session needs of its connection, whatever carries it."""

    @property
    def media_sink(self) -> WebMediaSink | None:
        """Where relayed media goes unsealed (browsers); None when it is sealed per §4."""

    def send_payload(self, payload: bytes) -> None:
        """Queue one JSON message (unframed UTF-8) for the peer; never blocks."""

    def send_media(self, packet: bytes) -> None:
        """Queue one sealed media packet on the control channel (§4.6)."""

    def close(self) -> None:
        """Close after what is queued has been sent."""


class SessionState(enum.Enum):
    """The states of the session machine; handlers name the one they need."""

    AWAITING_HELLO = "awaiting_hello"
    GREETED = "greeted"  # hello done, not logged in
    AUTHENTICATED = "authenticated"  # logged in (in the lobby or in a room)
    CLOSED = "closed"


@dataclass(eq=False)
class Session:
    transport: Transport
    number: int
    address: str
    requests: TokenBucket
    state: SessionState = SessionState.AWAITING_HELLO
    user: UserRecord | None = None
    token: str = ""
    ssrc: int = 0
    media_key: bytes = b""
    room: Room | None = None
    mic: bool = False
    cam: bool = False
    hand: bool = False
    screen: bool = False
    media: MediaPeer | None = None
    closing_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def username(self) -> str:
        return self.user.username if self.user else ""

    @property
    def key(self) -> str:
        """The user's identity key (case-folded username)."""
        return user_key(self.user.username) if self.user else ""

    @property
    def label(self) -> str:
        """How logs name this session: never a secret."""
        return f"#{self.number} {self.user.username}" if self.user else f"#{self.number}"

    def member(self) -> dict[str, Any]:
        """The session as a room `Member` (§3)."""
        return {
            "username": self.username,
            "ssrc": self.ssrc,
            "mic": self.mic,
            "cam": self.cam,
            "hand": self.hand,
            "screen": self.screen,
        }

    def send(self, message: dict[str, Any]) -> None:
        self.transport.send_payload(dumps(message))

    def send_encoded(self, payload: bytes) -> None:
        self.transport.send_payload(payload)


class SessionRegistry:
    """The logged-in sessions by user and by bearer token."""

    def __init__(self) -> None:
        self._by_user: dict[str, Session] = {}
        self._by_token: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._by_user)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._by_user.values()))

    def others(self, session: Session) -> list[Session]:
        return [s for s in self._by_user.values() if s is not session]

    def get(self, username: str) -> Session | None:
        return self._by_user.get(user_key(username))

    def by_token(self, token: str) -> Session | None:
        return self._by_token.get(token)

    def add(self, session: Session) -> None:
        self._by_user[session.key] = session
        self._by_token[session.token] = session

    def remove(self, session: Session) -> None:
        if self._by_user.get(session.key) is session:
            del self._by_user[session.key]
        if self._by_token.get(session.token) is session:
            del self._by_token[session.token]
