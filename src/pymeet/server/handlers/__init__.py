"""The request table: every request type, its handler, and the session state it needs.

Theory of operation. A session starts in AWAITING_HELLO, where only `hello` is served
(anything else: hello_required). `hello` moves it to GREETED, where `auth.register`,
`auth.login` and `ping` are served (anything else: unauthenticated). A login moves it
to AUTHENTICATED, where everything is served; being in a room is not a state of its own
but a precondition some handlers check (not_in_room). Logout, replacement, a dropped
connection or shutdown move it to CLOSED, where nothing is served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pymeet.protocol.messages import MsgType
from pymeet.server.handlers import media, messaging, moderation, rooms, session
from pymeet.server.handlers.base import Handler
from pymeet.server.sessions import SessionState


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    needs: SessionState


_GREETED, _AUTH = SessionState.GREETED, SessionState.AUTHENTICATED

ROUTES: Mapping[str, Route] = {
    MsgType.HELLO: Route(session.hello, SessionState.AWAITING_HELLO),
    MsgType.REGISTER: Route(session.register, _GREETED),
    MsgType.LOGIN: Route(session.login, _GREETED),
    MsgType.PING: Route(session.ping, _GREETED),
    MsgType.LOGOUT: Route(session.logout, _AUTH),
    MsgType.USER_LIST: Route(session.user_list, _AUTH),
    MsgType.ROOM_LIST: Route(rooms.room_list, _AUTH),
    MsgType.ROOM_CREATE: Route(rooms.room_create, _AUTH),
    MsgType.ROOM_JOIN: Route(rooms.room_join, _AUTH),
    MsgType.ROOM_LEAVE: Route(rooms.room_leave, _AUTH),
    MsgType.ROOM_DELETE: Route(rooms.room_delete, _AUTH),
    MsgType.CHAT_SEND: Route(messaging.chat_send, _AUTH),
    MsgType.DM_SEND: Route(messaging.dm_send, _AUTH),
    MsgType.DM_HISTORY: Route(messaging.dm_history, _AUTH),
    MsgType.MEDIA_UPDATE: Route(messaging.media_update, _AUTH),
    MsgType.CALL_INVITE: Route(messaging.call_invite, _AUTH),
    MsgType.CALL_ANSWER: Route(messaging.call_answer, _AUTH),
    MsgType.STATS: Route(media.stats, _AUTH),
    MsgType.ROOM_KICK: Route(moderation.room_kick, _AUTH),
    MsgType.ROOM_MUTE: Route(moderation.room_mute, _AUTH),
    MsgType.HAND_RAISE: Route(moderation.hand_raise, _AUTH),
}

# How far along the session machine each state is, for "needs at least" checks.
STATE_ORDER: Mapping[SessionState, int] = {
    SessionState.AWAITING_HELLO: 0,
    SessionState.GREETED: 1,
    SessionState.AUTHENTICATED: 2,
    SessionState.CLOSED: -1,
}
