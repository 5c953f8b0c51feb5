"""The meeting service: all control-plane state, and the operations every handler
shares (entering and leaving rooms, ending sessions, broadcasting).

The control layer owns this state (DESIGN.md). Only coroutines on the event loop
touch it, so no locks are needed beyond the per-room chat lock and the per-user
delivery lock that order durable writes with their deliveries.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from pymeet.protocol.messages import MsgType, dumps, event
from pymeet.server.blobs import BlobStore
from pymeet.server.config import ServerConfig
from pymeet.server.invitations import Invitations
from pymeet.server.lobby import LobbyNotifier
from pymeet.server.login_throttle import LoginThrottle
from pymeet.server.media_peers import MediaDirectory, MediaPeer
from pymeet.server.memory import MemoryReleaser
from pymeet.server.passwords import PasswordHasher
from pymeet.server.rate_limit import TokenBucket
from pymeet.server.rooms import Room, RoomDirectory
from pymeet.server.sessions import Session, SessionRegistry, SessionState
from pymeet.server.store import Store
from pymeet.server.validation_keys import room_key

log = logging.getLogger(__name__)

HISTORY_LIMIT = 50
MEDIA_KEY_BYTES = 32


class MeetingService:
    def __init__(
        self, config: ServerConfig, store: Store, media_port: int, blobs: BlobStore
    ) -> None:
        self.config = config
        self.blobs = blobs
        self.store = store
        self.media_port = media_port
        self.hasher = PasswordHasher(config.pbkdf2_iterations)
        self.login_throttle = LoginThrottle()
        self.room_password_throttle = LoginThrottle(per_identifier=5, per_address=50)
        self.registry = SessionRegistry()
        self.rooms = RoomDirectory()
        self.invitations = Invitations()
        self.lobby = LobbyNotifier(self._publish_lobby)
        self.memory = MemoryReleaser()
        self.media = MediaDirectory()
        self.relay_stats: Callable[[], dict[str, Any]] = dict
        self.web_port = 0
        """The web port (browser client, files), known once it is bound."""
        self.open_connections: Callable[[], int] = lambda: 0
        """Control connections of every kind (TLS and WebSocket), for the common cap."""
        self._delivery_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.started = time.time()

    async def load(self) -> None:
        """Bring the persisted rooms into memory."""
        for record in await self.store.rooms():
            self.rooms.add(record)
        log.info("loaded %d rooms", len(self.rooms))

    # -- sending -----------------------------------------------------------------------

    @staticmethod
    def broadcast(sessions: Iterable[Session], message: dict[str, Any]) -> None:
        """Encode once, queue for each session."""
        payload = dumps(message)
        for session in sessions:
            session.send_encoded(payload)

    def _publish_lobby(self) -> None:
        self.broadcast(self.registry, event(MsgType.LOBBY_UPDATE, rooms=self.rooms.infos()))

    def delivery_lock(self, user_key: str) -> asyncio.Lock:
        """Orders a user's direct-message deliveries with their offline backlog."""
        lock = self._delivery_locks.get(user_key)
        if lock is None:
            lock = asyncio.Lock()
            self._delivery_locks[user_key] = lock
        return lock

    # -- media -------------------------------------------------------------------------

    def attach_media(self, session: Session) -> None:
        """Give a newly logged-in session its ssrc, key and relay peer (§4.1)."""
        while not self.media.ssrc_is_free(ssrc := secrets.randbits(32)):
            pass
        session.ssrc = ssrc
        session.media_key = secrets.token_bytes(MEDIA_KEY_BYTES)
        config, now = self.config, time.monotonic()
        session.media = MediaPeer(
            ssrc,
            session.media_key,
            session.transport,
            session.label,
            TokenBucket(config.media_packet_rate, config.media_packet_burst, now),
            TokenBucket(config.media_byte_rate, config.media_byte_burst, now),
            sink=session.transport.media_sink,
        )
        self.media.add(session.media)

    def _room_media_changed(self, room: Room) -> None:
        self.media.set_room(m.media for m in room.members.values() if m.media is not None)

    def media_state_changed(self, session: Session) -> None:
        if session.media is not None:
            session.media.audio_on = session.mic
            session.media.video_on = session.cam

    # -- rooms -------------------------------------------------------------------------

    def enter_room(self, session: Session, room: Room) -> None:
        """Move the session into ``room`` (leaving any other first) and tell the others."""
        if session.room is room:
            return
        if session.room is not None:
            self.leave_room(session)
        room.members[session.key] = session
        session.room = room
        session.hand = False
        self.invitations.used_to_join(session.key, room_key(room.name))
        self._room_media_changed(room)
        self.broadcast(
            room.others(session),
            event(MsgType.MEMBER_JOINED, room=room.name, member=session.member()),
        )
        self.lobby.changed()
        log.info("%s joined room %r", session.label, room.name)

    def leave_room(self, session: Session) -> Room | None:
        """Take the session out of its room, telling the others; returns that room."""
        room = session.room
        if room is None:
            return None
        if room.members.get(session.key) is session:
            del room.members[session.key]
        room.set_hand(session, False)
        session.room = None
        session.hand = False
        self._room_media_changed(room)
        if session.media is not None:
            session.media.recipients = session.media.web_recipients = ()
        self.broadcast(
            room.members.values(),
            event(MsgType.MEMBER_LEFT, room=room.name, username=session.username),
        )
        self.lobby.changed()
        log.info("%s left room %r", session.label, room.name)
        return room

    def close_room(self, room: Room) -> list[Session]:
        """Empty a deleted room; its former members are in the lobby. Returns them."""
        members = list(room.members.values())
        room.members.clear()
        for member in members:
            member.room = None
            member.hand = False
            if member.media is not None:
                member.media.recipients = member.media.web_recipients = ()
        self.lobby.changed()
        return members

    def member_updated(self, session: Session) -> None:
        self.media_state_changed(session)
        if session.room is not None:
            self.broadcast(
                session.room.others(session),
                event(MsgType.MEMBER_UPDATED, room=session.room.name, member=session.member()),
            )

    # -- sessions ----------------------------------------------------------------------

    def end_session(self, session: Session, reason: str) -> None:
        """Forget a session for good (disconnect, logout, replacement or shutdown).

        Idempotent. A replaced session's user stays online, so no presence is sent."""
        if session.state is SessionState.CLOSED:
            return
        self.memory.connection_closed()
        was_authenticated = session.state is SessionState.AUTHENTICATED
        session.state = SessionState.CLOSED
        session.closing_reason = reason
        if not was_authenticated:
            return
        self.leave_room(session)
        self.registry.remove(session)
        if session.media is not None:
            self.media.remove(session.media)
        if reason not in ("replaced", "shutdown"):
            self.invitations.forget(session.key)
            self.broadcast(
                self.registry, event(MsgType.PRESENCE, username=session.username, online=False)
            )
        log.info("%s ended (%s)", session.label, reason)
