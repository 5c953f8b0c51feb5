from __future__ import annotations

from pymeet.server.invitations import Invitations


def test_invitation_admits_until_used_declined_or_expired() -> None:
    book = Invitations(lifetime=10)
    book.add("bob", "alice", "lab", now=0)
    assert book.pending("bob", "alice", now=1) is not None
    assert book.admits("bob", "lab", now=1)
    assert not book.admits("bob", "other", now=1)
    assert not book.admits("bob", "lab", now=11)
    book.add("bob", "alice", "lab", now=20)
    book.used_to_join("bob", "lab")
    assert not book.admits("bob", "lab", now=21)
    book.add("bob", "alice", "lab", now=30)
    book.decline("bob", "alice")
    assert book.pending("bob", "alice", now=31) is None


def test_forget_drops_everything_for_a_user() -> None:
    book = Invitations()
    book.add("bob", "alice", "lab", now=0)
    book.add("bob", "carol", "den", now=0)
    book.forget("bob")
    assert book.pending("bob", "carol", now=1) is None
