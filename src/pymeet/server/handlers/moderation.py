"""§3.4: room.kick, room.mute (owner only) and hand.raise."""

from __future__ import annotations

import logging
from typing import Any

from pymeet.protocol.errors import ErrorCode
from pymeet.protocol.messages import MsgType, event
from pymeet.server.handlers.base import current_user, refuse
from pymeet.server.rooms import Room
from pymeet.server.service import MeetingService
from pymeet.server.sessions import Session
from pymeet.server.validation_keys import user_key

log = logging.getLogger(__name__)


def _owned_room_and_target(
    service: MeetingService, session: Session, username: str
) -> tuple[Room, Session]:
    """The requester's room, which it must own, and the member named ``username``."""
    room = session.room
    if room is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "join your room first")
    if room.record.owner_id != current_user(session).id:
        raise refuse(ErrorCode.FORBIDDEN, "only the room's owner can do that")
    if user_key(username) == session.key:
        raise refuse(ErrorCode.INVALID_FIELD, "that is you", "username")
    target = room.members.get(user_key(username))
    if target is None:
        raise refuse(ErrorCode.USER_NOT_FOUND, f"{username} is not in this room", "username")
    return room, target


async def room_kick(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    room, target = _owned_room_and_target(service, session, fields["username"])
    service.leave_room(target)  # the others, the owner included, get room.member_left
    target.send(event(MsgType.ROOM_KICKED, room=room.name, by=session.username))
    log.info("%s removed %s from %r", session.label, target.username, room.name)
    return {}


async def room_mute(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    room, target = _owned_room_and_target(service, session, fields["username"])
    if target.mic:
        target.mic = False
        service.media_state_changed(target)  # the relay stops forwarding its audio now
        service.broadcast(
            room.others(session),
            event(MsgType.MEMBER_UPDATED, room=room.name, member=target.member()),
        )
    target.send(event(MsgType.MEDIA_MUTED, room=room.name, by=session.username))
    log.info("%s muted %s in %r", session.label, target.username, room.name)
    return {"member": target.member()}


async def hand_raise(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    room = session.room
    if room is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "join a room to raise your hand")
    up = fields["up"]
    if up != session.hand:
        session.hand = up
        room.set_hand(session, up)
        service.broadcast(
            room.others(session),
            event(MsgType.HAND_UPDATE, room=room.name, username=session.username, up=up),
        )
    return {"hands": room.raised_hands()}
