"""Pending call invitations (§3.3 call.invite / call.answer). Pure: time is passed in.

An invitation lets the invitee answer the inviter and join the inviter's room without
its password until it expires, is declined, or is used to join.
"""

from __future__ import annotations

from dataclasses import dataclass

INVITATION_LIFETIME = 120.0
MAX_PER_INVITEE = 64


@dataclass(frozen=True, slots=True)
class Invitation:
    inviter: str  # user key
    room: str  # room key
    expires: float


class Invitations:
    def __init__(self, lifetime: float = INVITATION_LIFETIME) -> None:
        self.lifetime = lifetime
        self._by_invitee: dict[str, dict[str, Invitation]] = {}

    def _live(self, invitee: str, now: float) -> dict[str, Invitation]:
        pending = self._by_invitee.get(invitee, {})
        for inviter in [k for k, inv in pending.items() if inv.expires <= now]:
            del pending[inviter]
        if not pending:
            self._by_invitee.pop(invitee, None)
        return pending

    def add(self, invitee: str, inviter: str, room: str, now: float) -> None:
        pending = self._live(invitee, now)
        if len(pending) >= MAX_PER_INVITEE and inviter not in pending:
            del pending[min(pending, key=lambda k: pending[k].expires)]
        pending[inviter] = Invitation(inviter, room, now + self.lifetime)
        self._by_invitee[invitee] = pending

    def pending(self, invitee: str, inviter: str, now: float) -> Invitation | None:
        return self._live(invitee, now).get(inviter)

    def decline(self, invitee: str, inviter: str) -> None:
        pending = self._by_invitee.get(invitee)
        if pending is not None:
            pending.pop(inviter, None)
            if not pending:
                del self._by_invitee[invitee]

    def admits(self, invitee: str, room: str, now: float) -> bool:
        """True when some live invitation names this room."""
        return any(inv.room == room for inv in self._live(invitee, now).values())

    def used_to_join(self, invitee: str, room: str) -> None:
        pending = self._by_invitee.get(invitee)
        if pending is None:
            return
        for inviter in [k for k, inv in pending.items() if inv.room == room]:
            del pending[inviter]
        if not pending:
            del self._by_invitee[invitee]

    def forget(self, user: str) -> None:
        """Drop everything addressed to a user who went offline."""
        self._by_invitee.pop(user, None)
