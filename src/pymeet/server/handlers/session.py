"""§3.1: hello, register, login, logout, ping, user.list."""

from __future__ import annotations

import base64
import logging
import math
import secrets
import time
from typing import Any

from pymeet import PROTOCOL_VERSION, __version__
from pymeet.protocol.errors import ErrorCode
from pymeet.protocol.messages import MsgType, event
from pymeet.server.handlers.base import Outcome, current_user, refuse
from pymeet.server.service import MeetingService
from pymeet.server.sessions import Session, SessionState
from pymeet.server.store import DuplicateError
from pymeet.server.validation_keys import user_key

log = logging.getLogger(__name__)

FEATURES = [
    "rooms",
    "room_passwords",
    "chat",
    "dm",
    "invite",
    "media.udp",
    "media.tunnel",
    "media.websocket",
    "files",
    "moderation",
    "hands",
    "screen",
    "stats",
]


async def hello(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    if fields["protocol"] != PROTOCOL_VERSION:
        raise refuse(
            ErrorCode.UNSUPPORTED_PROTOCOL,
            f"this server speaks protocol {PROTOCOL_VERSION}",
            "protocol",
        )
    if session.state is SessionState.AWAITING_HELLO:
        session.state = SessionState.GREETED
    log.debug("%s hello from client %r", session.label, fields["client"][:40])
    return {
        "server": f"pymeet/{__version__}",
        "protocol": PROTOCOL_VERSION,
        "features": FEATURES,
        # Implementation-defined: where the browser client and file sharing are.
        "web": {"port": service.web_port, "tls": service.config.web_tls},
    }


async def register(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    username, email = fields["username"], fields["email"]
    password_hash = await service.hasher.hash(fields["password"])
    try:
        user = await service.store.create_user(
            username, user_key(username), email, user_key(email), password_hash, time.time()
        )
    except DuplicateError as exc:
        if exc.column == "email":
            raise refuse(
                ErrorCode.EMAIL_EXISTS, "that email address is already registered", "email"
            ) from None
        raise refuse(ErrorCode.USER_EXISTS, "that username is taken", "username") from None
    log.info("%s registered user %s", session.label, user.username)
    return {"user": {"username": user.username, "email": user.email}}


async def login(service: MeetingService, session: Session, fields: dict[str, Any]) -> Outcome:
    if session.state is SessionState.AUTHENTICATED:
        raise refuse(ErrorCode.FORBIDDEN, "this connection is already logged in; log out first")
    identifier = user_key(fields["username"])
    wait = service.login_throttle.retry_after(identifier, session.address, time.monotonic())
    if wait > 0:
        error = refuse(ErrorCode.RATE_LIMITED, "too many failed logins; wait before trying again")
        error.extra["retry_after"] = math.ceil(wait)
        raise error
    user = await service.store.find_user(identifier)
    ok = await service.hasher.verify(fields["password"], user.password_hash if user else None)
    if not ok or user is None:
        service.login_throttle.record_failure(identifier, session.address, time.monotonic())
        log.info("%s failed login", session.label)
        raise refuse(ErrorCode.AUTH_FAILED, "wrong username, email or password")
    service.login_throttle.record_success(identifier)
    if session.state is not SessionState.GREETED:  # closed while the hash was computed
        raise refuse(ErrorCode.UNAUTHENTICATED, "the connection is closing")

    previous = service.registry.get(user.username)
    if previous is not None:
        previous.send(event(MsgType.SESSION_CLOSED, reason="replaced"))
        service.end_session(previous, "replaced")
        previous.transport.close()

    session.user = user
    session.token = secrets.token_urlsafe(32)
    service.attach_media(session)
    session.mic = session.cam = session.hand = session.screen = False
    session.state = SessionState.AUTHENTICATED
    service.registry.add(session)
    service.media_state_changed(session)
    if previous is None:
        service.broadcast(
            service.registry.others(session),
            event(MsgType.PRESENCE, username=user.username, online=True),
        )
    log.info("%s logged in (ssrc %d)", session.label, session.ssrc)

    async def deliver_backlog() -> None:
        async with service.delivery_lock(session.key):
            backlog = await service.store.undelivered_direct_messages(user)
            if session.state is not SessionState.AUTHENTICATED:
                return
            for message in backlog:
                session.send(event(MsgType.DM_MESSAGE, message=message.dm_wire()))
            await service.store.mark_delivered([m.id for m in backlog])
            session.extra["dm_ready"] = True

    result = {
        "user": {"username": user.username, "email": user.email},
        "session": session.token,
        "media": {
            "port": service.media_port,
            "ssrc": session.ssrc,
            "key": base64.b64encode(session.media_key).decode("ascii"),
        },
    }
    return Outcome(result, deliver_backlog)


async def logout(service: MeetingService, session: Session, fields: dict[str, Any]) -> Outcome:
    async def close() -> None:
        service.end_session(session, "logout")
        session.transport.close()

    return Outcome({}, close)


async def ping(service: MeetingService, session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    return {"time": time.time()}


async def user_list(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    current_user(session)
    users = sorted(service.registry, key=lambda s: s.key)
    return {
        "users": [{"username": s.username, "room": s.room.name if s.room else None} for s in users]
    }
