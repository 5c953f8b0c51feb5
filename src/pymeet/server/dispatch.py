"""From a frame payload to a reply: envelope, type, session state, rate limit, fields,
handler — in that order, the first failure being the reply (docs/PROTOCOL.md)."""

from __future__ import annotations

import logging
import time
from typing import Any

from pymeet.protocol.errors import (
    ErrorCode,
    ProtocolError,
    PyMeetError,
    RequestError,
    UnknownType,
)
from pymeet.protocol.messages import parse_request, reply_error, reply_ok, validate_fields
from pymeet.server.handlers import ROUTES, STATE_ORDER
from pymeet.server.handlers.base import Outcome
from pymeet.server.service import MeetingService
from pymeet.server.sessions import Session, SessionState

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_GARBAGE = 16
"""Malformed payloads in a row after which a connection is closed (docs/PROTOCOL.md)."""


def _state_error(session: Session, needs: SessionState) -> RequestError | None:
    have = STATE_ORDER[session.state]
    if have >= STATE_ORDER[needs]:
        return None
    if session.state is SessionState.AWAITING_HELLO:
        return RequestError(ErrorCode.HELLO_REQUIRED, "send hello first")
    if session.state is SessionState.CLOSED:
        return RequestError(ErrorCode.UNAUTHENTICATED, "the session has ended")
    return RequestError(ErrorCode.UNAUTHENTICATED, "log in first")


async def handle_payload(service: MeetingService, session: Session, payload: bytes) -> bool:
    """Serve one JSON payload and queue its reply. Returns False when the payload was
    malformed (bad_request), so the caller can count consecutive garbage."""
    try:
        request = parse_request(payload)
    except ProtocolError as exc:
        session.send(reply_error(exc.request_id, exc))
        return False

    result: dict[str, Any] | Outcome
    try:
        route = ROUTES.get(request.type)
        if route is None:
            raise UnknownType(f"unknown request type {request.type[:64]!r}")
        state_error = _state_error(session, route.needs)
        if state_error is not None:
            raise state_error
        if not session.requests.take(time.monotonic()):
            raise RequestError(ErrorCode.RATE_LIMITED, "too many requests; slow down")
        fields = validate_fields(request)
        result = await route.handler(service, session, fields)
    except PyMeetError as exc:
        session.send(reply_error(request.id, exc))
        return True
    except Exception:
        log.exception("%s: %s failed", session.label, request.type)
        session.send(
            reply_error(
                request.id, RequestError(ErrorCode.INTERNAL, "the server failed to do that")
            )
        )
        return True

    outcome = result if isinstance(result, Outcome) else Outcome(result)
    session.send(reply_ok(request.id, **outcome.result))
    if outcome.then is not None:
        await outcome.then()
    return True
