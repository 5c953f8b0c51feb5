"""The JSON envelope (PROTOCOL.md §2) and the request table (§3).

Server side: `parse_request` turns a frame payload into a `Request`, then
`validate_fields` checks its fields against `REQUEST_FIELDS` and returns them
normalised. Client side: `parse_server_message` checks an incoming object and
`request` / `reply_ok` / `reply_error` / `event` build outgoing ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pymeet.protocol import validation as v
from pymeet.protocol.errors import InvalidField, ProtocolError, PyMeetError, UnknownType
from pymeet.protocol.framing import encode_frame

MAX_REQUEST_ID: Final = 2**53 - 1
CLIENT_NAME_MAX_LENGTH: Final = 100


class MsgType:
    """Every message type of the protocol, in one place."""

    # requests, §3.1
    HELLO = "hello"
    REGISTER = "auth.register"
    LOGIN = "auth.login"
    LOGOUT = "auth.logout"
    PING = "ping"
    USER_LIST = "user.list"
    # §3.2
    ROOM_LIST = "room.list"
    ROOM_CREATE = "room.create"
    ROOM_JOIN = "room.join"
    ROOM_LEAVE = "room.leave"
    ROOM_DELETE = "room.delete"
    # §3.3
    CHAT_SEND = "chat.send"
    DM_SEND = "dm.send"
    DM_HISTORY = "dm.history"
    MEDIA_UPDATE = "media.update"
    CALL_INVITE = "call.invite"
    CALL_ANSWER = "call.answer"
    # §3.4
    ROOM_KICK = "room.kick"
    ROOM_MUTE = "room.mute"
    HAND_RAISE = "hand.raise"
    # implementation-defined (docs/PROTOCOL.md)
    STATS = "stats"

    # replies and events
    REPLY = "reply"
    SESSION_CLOSED = "session.closed"
    PRESENCE = "presence"
    LOBBY_UPDATE = "lobby.update"
    MEMBER_JOINED = "room.member_joined"
    MEMBER_LEFT = "room.member_left"
    MEMBER_UPDATED = "room.member_updated"
    ROOM_DELETED = "room.deleted"
    ROOM_KICKED = "room.kicked"
    MEDIA_MUTED = "media.muted"
    HAND_UPDATE = "hand.update"
    CHAT_MESSAGE = "chat.message"
    DM_MESSAGE = "dm.message"
    FILE_SHARED = "file.shared"


def _check_client_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= CLIENT_NAME_MAX_LENGTH:
        raise InvalidField(field, f"client is a name of 1 to {CLIENT_NAME_MAX_LENGTH} characters")
    return value


def _check_protocol_version(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidField(field, "protocol must be an integer")
    return value


def _check_optional_bool(value: Any, field: str) -> bool:
    return False if value is None else v.check_bool(value, field)


def _check_new_room_password(value: Any, field: str) -> str | None:
    # null or "" means "no password" (docs/PROTOCOL.md, Choices).
    if value is None or value == "":
        return None
    return v.check_password(value, field)


def _check_room_password_attempt(value: Any, field: str) -> str | None:
    if value is None:
        return None
    return v.check_password_attempt(value, field)


@dataclass(frozen=True, slots=True)
class Field:
    """One request field: its name, its rule, and whether it must be present."""

    name: str
    check: Callable[[Any, str], Any]
    required: bool = True


REQUEST_FIELDS: Final[Mapping[str, tuple[Field, ...]]] = {
    MsgType.HELLO: (Field("client", _check_client_name),
                    Field("protocol", _check_protocol_version)),
    MsgType.REGISTER: (Field("username", v.check_username), Field("email", v.check_email),
                       Field("password", v.check_password)),
    MsgType.LOGIN: (Field("username", v.check_login_identifier),
                    Field("password", v.check_password_attempt)),
    MsgType.LOGOUT: (),
    MsgType.PING: (),
    MsgType.USER_LIST: (),
    MsgType.ROOM_LIST: (),
    MsgType.ROOM_CREATE: (Field("room", v.check_room_name),
                          Field("password", _check_new_room_password, required=False)),
    MsgType.ROOM_JOIN: (Field("room", v.check_room_name),
                        Field("password", _check_room_password_attempt, required=False)),
    MsgType.ROOM_LEAVE: (),
    MsgType.ROOM_DELETE: (Field("room", v.check_room_name),),
    MsgType.CHAT_SEND: (Field("text", v.check_text),),
    MsgType.DM_SEND: (Field("to", v.check_username), Field("text", v.check_text)),
    MsgType.DM_HISTORY: (Field("with", v.check_username),),
    MsgType.MEDIA_UPDATE: (
        Field("mic", v.check_bool),
        Field("cam", v.check_bool),
        # Implementation-defined: the video stream carries a shared screen (docs/PROTOCOL.md).
        Field("screen", _check_optional_bool, required=False),
    ),
    MsgType.CALL_INVITE: (Field("to", v.check_username),),
    MsgType.CALL_ANSWER: (Field("to", v.check_username), Field("accept", v.check_bool)),
    MsgType.ROOM_KICK: (Field("username", v.check_username),),
    MsgType.ROOM_MUTE: (Field("username", v.check_username),),
    MsgType.HAND_RAISE: (Field("up", v.check_bool),),
    MsgType.STATS: (),
}


@dataclass(frozen=True, slots=True)
class Request:
    """A request whose envelope is valid; its fields are not yet checked."""

    type: str
    id: int
    body: Mapping[str, Any]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _is_unicode_text(payload: bytes, obj: Any) -> bool:
    """False when JSON escapes smuggled in a lone UTF-16 surrogate, which is not text."""
    if b"\\u" not in payload:
        return True
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads_object(payload: bytes) -> dict[str, Any]:
    """Decode one UTF-8 JSON object. Raises ProtocolError for anything else."""
    try:
        obj = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ProtocolError("a frame must hold UTF-8 JSON") from None
    except (ValueError, RecursionError):
        raise ProtocolError("a frame must hold one valid JSON object") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a frame must hold a JSON object")
    return obj


def _read_id(obj: Mapping[str, Any]) -> int | None:
    value = obj.get("id")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_REQUEST_ID:
        return value
    return None


def parse_request(payload: bytes) -> Request:
    """Check the envelope of a client request (§2). Raises ProtocolError (bad_request),
    with ``request_id`` set when the id could be read."""
    obj = loads_object(payload)
    request_id = _read_id(obj)
    if request_id is None:
        raise ProtocolError("a request needs an integer id between 1 and 2^53-1")
    kind = obj.get("type")
    if not isinstance(kind, str) or not kind:
        raise ProtocolError("a request needs a string type", request_id=request_id)
    if not _is_unicode_text(payload, obj):
        raise ProtocolError("a request must hold Unicode text (no lone surrogates)",
                            request_id=request_id)
    return Request(kind, request_id, obj)


def validate_fields(request: Request) -> dict[str, Any]:
    """The request's fields per `REQUEST_FIELDS`, normalised. Raises UnknownType or
    InvalidField (with ``field``) for the first field at fault; other keys are ignored."""
    spec = REQUEST_FIELDS.get(request.type)
    if spec is None:
        raise UnknownType(f"unknown request type {request.type[:64]!r}",
                          request_id=request.id)
    fields: dict[str, Any] = {}
    for field in spec:
        if field.name not in request.body:
            if field.required:
                raise InvalidField(field.name, f"{field.name} is required",
                                   request_id=request.id)
            fields[field.name] = None
            continue
        try:
            fields[field.name] = field.check(request.body[field.name], field.name)
        except InvalidField as exc:
            exc.request_id = request.id
            raise
    return fields


def parse_server_message(payload: bytes) -> dict[str, Any]:
    """Check a message from the server: a JSON object with a string ``type``; a reply
    also has a boolean ``ok`` and, unless it reports an unreadable request, an ``id``."""
    obj = loads_object(payload)
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("a server message needs a string type")
    if kind == MsgType.REPLY:
        ok = obj.get("ok")
        if not isinstance(ok, bool) or (ok and _read_id(obj) is None):
            raise ProtocolError("a reply needs an ok flag, and an id when ok")
        if not ok and not isinstance(obj.get("error"), dict):
            raise ProtocolError("a failed reply needs an error object")
    return obj


def dumps(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def frame(obj: Mapping[str, Any]) -> bytes:
    """One JSON message as a complete control frame."""
    return encode_frame(dumps(obj))


def request(kind: str, request_id: int, **fields: Any) -> dict[str, Any]:
    """A request object (§2)."""
    return {"type": kind, "id": request_id, **fields}


def reply_ok(request_id: int, **result: Any) -> dict[str, Any]:
    """A successful reply (§2)."""
    return {"type": MsgType.REPLY, "id": request_id, "ok": True, **result}


def reply_error(request_id: int | None, error: PyMeetError) -> dict[str, Any]:
    """A failed reply (§2); without an id when none could be read."""
    message: dict[str, Any] = {"type": MsgType.REPLY}
    if request_id is not None:
        message["id"] = request_id
    message["ok"] = False
    message["error"] = error.to_wire()
    return message


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """An unsolicited event (§2): no id."""
    return {"type": kind, **fields}
