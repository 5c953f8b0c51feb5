"""§3.2: room.list, room.create, room.join, room.leave, room.delete."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from pymeet.protocol.errors import ErrorCode
from pymeet.protocol.messages import MsgType, event
from pymeet.server.handlers.base import current_user, refuse
from pymeet.server.rooms import Room
from pymeet.server.service import HISTORY_LIMIT, MeetingService
from pymeet.server.sessions import Session
from pymeet.server.store import DuplicateError
from pymeet.server.validation_keys import room_key

log = logging.getLogger(__name__)


def _room_or_refuse(service: MeetingService, name: str) -> Room:
    room = service.rooms.get(name)
    if room is None:
        raise refuse(ErrorCode.ROOM_NOT_FOUND, f"there is no room named {name!r}", "room")
    return room


async def room_list(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    return {"rooms": service.rooms.infos()}


async def room_create(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    name, password = fields["room"], fields["password"]
    if service.rooms.get(name) is not None:
        raise refuse(ErrorCode.ROOM_EXISTS, f"a room named {name!r} exists", "room")
    password_hash = await service.hasher.hash(password) if password is not None else None
    try:
        record = await service.store.create_room(
            name, room_key(name), current_user(session), password_hash, time.time()
        )
    except DuplicateError:
        raise refuse(ErrorCode.ROOM_EXISTS, f"a room named {name!r} exists", "room") from None
    room = service.rooms.add(record)
    service.lobby.changed()
    log.info("%s created room %r%s", session.label, name, " (locked)" if room.locked else "")
    return {"room": room.info()}


async def _check_password(
    service: MeetingService, session: Session, room: Room, password: str | None
) -> None:
    if not room.locked:
        return
    if service.invitations.admits(session.key, room_key(room.name), time.time()):
        return
    throttle_key = f"{session.key}\x00{room_key(room.name)}"
    wait = service.room_password_throttle.retry_after(
        throttle_key, session.address, time.monotonic()
    )
    if wait > 0:
        error = refuse(ErrorCode.RATE_LIMITED, "too many wrong room passwords; wait a while")
        error.extra["retry_after"] = math.ceil(wait)
        raise error
    if password is None or not await service.hasher.verify(password, room.record.password_hash):
        service.room_password_throttle.record_failure(
            throttle_key, session.address, time.monotonic()
        )
        raise refuse(ErrorCode.WRONG_PASSWORD, "this room needs the right password", "password")


async def room_join(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    room = _room_or_refuse(service, fields["room"])
    if session.room is not room:
        await _check_password(service, session, room, fields["password"])
    # Under the chat lock no message can be committed between the history read and the
    # moment this session starts receiving the room's messages: none lost, none twice.
    async with room.chat_lock:
        history = await service.store.room_history(room.record, HISTORY_LIMIT)
        files = await service.store.room_files(room.record, HISTORY_LIMIT)
        if service.rooms.get(room.name) is not room:
            raise refuse(ErrorCode.ROOM_NOT_FOUND, "the room was just deleted", "room")
        service.enter_room(session, room)
    return {
        "room": room.info(),
        "members": [member.member() for member in room.members.values()],
        "history": [message.chat_wire() for message in history],
        "files": [file.wire() for file in files],
        "hands": room.raised_hands(),
    }


async def room_leave(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    if service.leave_room(session) is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "you are not in a room")
    return {}


async def room_delete(
    service: MeetingService, session: Session, fields: dict[str, Any]
) -> dict[str, Any]:
    room = _room_or_refuse(service, fields["room"])
    if room.record.owner_id != current_user(session).id:
        raise refuse(ErrorCode.FORBIDDEN, "only the room's owner can delete it", "room")
    async with room.chat_lock:
        if service.rooms.get(room.name) is not room:
            raise refuse(ErrorCode.ROOM_NOT_FOUND, "the room was just deleted", "room")
        orphans = await service.store.delete_room(room.record.id)
        service.rooms.remove(room)
    service.blobs.remove(orphans)
    members = service.close_room(room)
    service.broadcast(
        [m for m in members if m is not session], event(MsgType.ROOM_DELETED, room=room.name)
    )
    log.info("%s deleted room %r", session.label, room.name)
    return {}
