"""File sharing over HTTP on the web port (PROTOCOL.md §3.4).

`POST /files?room=<room>` or `?to=<username>` streams the body to disk (never whole in
memory) while hashing it; the file is recorded durably before the 201 reply and the
`file.shared` event. `GET /files/<id>` streams the exact bytes back to those allowed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import unicodedata
import urllib.parse

from aiohttp import web

from pymeet.protocol.errors import InvalidField
from pymeet.protocol.messages import MsgType, event
from pymeet.protocol.validation import check_room_name, check_username
from pymeet.server.blobs import BlobStore, UploadTooLarge
from pymeet.server.service import MeetingService
from pymeet.server.sessions import Session
from pymeet.server.store import FileRecord
from pymeet.server.validation_keys import room_key, user_key

log = logging.getLogger(__name__)

MAX_FILENAME_LENGTH = 255


def _error(
    status: type[web.HTTPException], code: str, message: str, **headers: str
) -> web.HTTPException:
    body = json.dumps({"error": {"code": code, "message": message}})
    return status(text=body, content_type="application/json", headers=headers or None)


def clean_filename(raw: str | None) -> str:
    """The X-Filename header, percent-decoded, without directories or control characters."""
    if not raw:
        raise _error(web.HTTPBadRequest, "invalid_field", "X-Filename is required")
    try:
        name = urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise _error(web.HTTPBadRequest, "invalid_field", "X-Filename is not UTF-8") from None
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if not name or name in {".", ".."}:
        raise _error(web.HTTPBadRequest, "invalid_field", "X-Filename names no file")
    return name[:MAX_FILENAME_LENGTH]


class FileService:
    def __init__(self, service: MeetingService, blobs: BlobStore, max_bytes: int) -> None:
        self.service = service
        self.blobs = blobs
        self.max_bytes = max_bytes

    def _too_large(self) -> web.HTTPException:
        body = json.dumps(
            {
                "error": {
                    "code": "too_large",
                    "message": f"files are limited to {self.max_bytes} bytes",
                    "limit": self.max_bytes,
                }
            }
        )
        return web.HTTPRequestEntityTooLarge(
            max_size=self.max_bytes,
            actual_size=self.max_bytes + 1,
            text=body,
            content_type="application/json",
        )

    def _session(self, request: web.Request) -> Session:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        session = self.service.registry.by_token(token.strip()) if scheme == "Bearer" else None
        if session is None or session.user is None:
            raise _error(
                web.HTTPUnauthorized,
                "unauthenticated",
                "a live session token is required",
                **{"WWW-Authenticate": "Bearer"},
            )
        return session

    async def upload(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        user = session.user
        assert user is not None
        room_name, to_name = request.query.get("room"), request.query.get("to")
        if (room_name is None) == (to_name is None):
            raise _error(web.HTTPBadRequest, "bad_request", "give either room or to")
        room = recipient = None
        try:
            if room_name is not None:
                room = self.service.rooms.get(check_room_name(room_name))
                if room is None:
                    raise _error(web.HTTPNotFound, "room_not_found", "no such room")
                if session.room is not room:
                    raise _error(
                        web.HTTPForbidden,
                        "forbidden",
                        "only the room's members can share files there",
                    )
            else:
                recipient = await self.service.store.find_user(user_key(check_username(to_name)))
                if recipient is None:
                    raise _error(web.HTTPNotFound, "user_not_found", "no such user")
        except InvalidField as exc:
            raise _error(web.HTTPBadRequest, "invalid_field", exc.message) from None
        name = clean_filename(request.headers.get("X-Filename"))
        if request.content_length is not None and request.content_length > self.max_bytes:
            raise self._too_large()

        loop = asyncio.get_running_loop()
        pending = await loop.run_in_executor(None, self.blobs.begin, self.max_bytes)
        try:
            async for chunk in request.content.iter_chunked(64 * 1024):
                await loop.run_in_executor(None, pending.write, chunk)
            sha256 = await loop.run_in_executor(None, pending.finish)
            await loop.run_in_executor(None, self.blobs.commit, pending, sha256)
        except UploadTooLarge:
            raise self._too_large() from None
        finally:
            await loop.run_in_executor(None, pending.discard)

        record = FileRecord(
            secrets.token_urlsafe(12),
            name,
            pending.size,
            sha256,
            user.username,
            time.time(),
            room=room.name if room else None,
            to=recipient.username if recipient else None,
        )
        await self.service.store.add_file(record, user, room.record if room else None, recipient)
        shared = event(MsgType.FILE_SHARED, file=record.wire(), room=record.room, to=record.to)
        if room is not None and session.room is room:
            self.service.broadcast(room.others(session), shared)
        elif recipient is not None:
            target = self.service.registry.get(recipient.username)
            if target is not None and target is not session:
                target.send(shared)
        log.info(
            "%s shared a file of %d bytes in %s",
            session.label,
            record.size,
            f"room {record.room!r}" if record.room else "a direct message",
        )
        return web.json_response({"file": record.wire()}, status=201)

    async def download(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        record = await self.service.store.get_file(request.match_info["file_id"])
        if record is None:
            raise _error(web.HTTPNotFound, "not_found", "no such file")
        if not self._may_read(session, record):
            raise _error(web.HTTPForbidden, "forbidden", "this file is not shared with you")
        path = self.blobs.path_for(record.sha256)
        if not path.is_file():
            raise _error(web.HTTPGone, "gone", "the file's contents are missing")
        quoted = urllib.parse.quote(record.name, safe="")
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
                "X-Content-SHA256": record.sha256,
                "Cache-Control": "private, no-store",
            },
        )

    @staticmethod
    def _may_read(session: Session, record: FileRecord) -> bool:
        if record.room is not None:
            room = session.room
            return room is not None and room_key(room.name) == room_key(record.room)
        parties = {user_key(record.sender), user_key(record.to or "")}
        return session.key in parties
