"""§3.3: chat.send, dm.send, dm.history, media.update, call.invite, call.answer."""

from __future__ import annotations

import logging
import time
from typing import Any

from pymeet.protocol.errors import ErrorCode
from pymeet.protocol.messages import MsgType, dumps, event
from pymeet.server.handlers.base import current_user, refuse
from pymeet.server.service import HISTORY_LIMIT, MeetingService
from pymeet.server.sessions import Session
from pymeet.server.store import UserRecord
from pymeet.server.validation_keys import room_key, user_key

log = logging.getLogger(__name__)


async def _existing_user(service: MeetingService, username: str, field: str) -> UserRecord:
    user = await service.store.find_user(user_key(username))
    if user is None:
        raise refuse(ErrorCode.USER_NOT_FOUND, f"there is no user named {username!r}", field)
    return user


async def chat_send(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    room = session.room
    if room is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "join a room to chat")
    async with room.chat_lock:
        if session.room is not room:
            raise refuse(ErrorCode.NOT_IN_ROOM, "you left the room before the message was sent")
        message = await service.store.add_room_message(
            room.record, current_user(session), fields["text"], time.time()
        )
        payload = dumps(event(MsgType.CHAT_MESSAGE, message=message.chat_wire()))
        for member in room.others(session):
            member.send_encoded(payload)
    return {"message": message.chat_wire()}


async def dm_send(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    recipient = await _existing_user(service, fields["to"], "to")
    async with service.delivery_lock(user_key(recipient.username)):
        message = await service.store.add_direct_message(
            current_user(session), recipient, fields["text"], time.time()
        )
        target = service.registry.get(recipient.username)
        if target is not None and target.extra.get("dm_ready"):
            target.send(event(MsgType.DM_MESSAGE, message=message.dm_wire()))
            await service.store.mark_delivered([message.id])
    return {"message": message.dm_wire()}


async def dm_history(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    other = await _existing_user(service, fields["with"], "with")
    messages = await service.store.dm_history(current_user(session), other, HISTORY_LIMIT)
    files = await service.store.dm_files(current_user(session), other, HISTORY_LIMIT)
    return {
        "messages": [message.dm_wire() for message in messages],
        "files": [file.wire() for file in files],
    }


async def media_update(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    session.mic, session.cam = fields["mic"], fields["cam"]
    session.screen = bool(fields["screen"]) and session.cam  # a screen travels as video
    service.member_updated(session)
    return {"member": session.member()}


async def call_invite(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    room = session.room
    if room is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "join a room before inviting someone to it")
    if user_key(fields["to"]) == session.key:
        raise refuse(ErrorCode.INVALID_FIELD, "you cannot invite yourself", "to")
    invitee = await _existing_user(service, fields["to"], "to")
    target = service.registry.get(invitee.username)
    if target is None:
        raise refuse(ErrorCode.USER_OFFLINE, f"{invitee.username} is not online", "to")
    if session.room is not room:
        raise refuse(ErrorCode.NOT_IN_ROOM, "you left the room")
    service.invitations.add(target.key, session.key, room_key(room.name), time.time())
    target.send(event(MsgType.CALL_INVITE, **{"from": session.username, "room": room.name}))
    log.info("%s invited %s to %r", session.label, invitee.username, room.name)
    return {}


async def call_answer(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    inviter_key = user_key(fields["to"])
    if service.invitations.pending(session.key, inviter_key, time.time()) is None:
        raise refuse(
            ErrorCode.FORBIDDEN, f"there is no pending invitation from {fields['to']}", "to"
        )
    target = service.registry.get(fields["to"])
    if target is None:
        service.invitations.decline(session.key, inviter_key)
        raise refuse(ErrorCode.USER_OFFLINE, f"{fields['to']} is no longer online", "to")
    if not fields["accept"]:
        service.invitations.decline(session.key, inviter_key)
    target.send(
        event(MsgType.CALL_ANSWER, **{"from": session.username, "accept": fields["accept"]})
    )
    return {}
