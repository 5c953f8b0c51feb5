from __future__ import annotations

from pymeet.gui.presenters.lobby import (
    LobbyPresenter,
    join_error_text,
    people_label,
    validate_new_room,
)


def rooms() -> list[dict[str, object]]:
    return [{"name": "zeta", "owner": "bob", "members": 2, "locked": False},
            {"name": "Phòng họp 1", "owner": "alice", "members": 1, "locked": True},
            {"name": "alpha", "owner": "carol", "members": 0, "locked": False}]


def test_rooms_are_sorted_with_counts_and_locks() -> None:
    lobby = LobbyPresenter()
    lobby.set_rooms(rooms())
    rows = lobby.room_rows()
    assert [row.name for row in rows] == ["alpha", "Phòng họp 1", "zeta"]
    assert [row.people for row in rows] == ["empty", "1 person", "2 people"]
    assert rows[1].locked and not rows[0].locked
    assert lobby.room("PHÒNG HỌP 1") == rows[1]


def test_lobby_update_replaces_the_list_and_says_when_it_changed() -> None:
    lobby = LobbyPresenter()
    lobby.set_rooms(rooms())
    assert lobby.apply({"type": "lobby.update", "rooms": rooms()}) == set()
    changed = [dict(r) for r in rooms()]
    changed[0]["members"] = 3
    assert lobby.apply({"type": "lobby.update", "rooms": changed}) == {"rooms"}
    assert lobby.room("zeta") is not None and lobby.room("zeta").members == 3  # type: ignore[union-attr]
    assert lobby.apply({"type": "lobby.update", "rooms": []}) == {"rooms"}
    assert lobby.room_rows() == []
    assert lobby.apply({"type": "lobby.update", "rooms": "garbage"}) == set()


def test_people_online_follow_presence_and_leave_me_out() -> None:
    lobby = LobbyPresenter()
    lobby.set_me("Alice")
    lobby.set_users([{"username": "alice", "room": None}, {"username": "bob", "room": "zeta"}])
    assert [(u.username, u.where) for u in lobby.user_rows()] == [("bob", "in zeta")]
    assert lobby.apply({"type": "presence", "username": "carol", "online": True}) == {"users"}
    assert lobby.apply({"type": "presence", "username": "carol", "online": True}) == set()
    assert [u.username for u in lobby.user_rows()] == ["bob", "carol"]
    assert lobby.user_rows()[1].where == "in the lobby"
    assert lobby.apply({"type": "presence", "username": "BOB", "online": False}) == {"users"}
    assert [u.username for u in lobby.user_rows()] == ["carol"]
    lobby.set_user_room("carol", "alpha")
    assert lobby.user_rows()[0].room == "alpha"
    assert lobby.summary == "0 rooms · 1 other person online"


def test_new_room_form_mirrors_the_server_rules() -> None:
    assert validate_new_room("Phòng họp 1", False, "") == {}
    assert validate_new_room("  ", False, "") == {"room": "Give the room a name."}
    assert set(validate_new_room("bad/name", True, "short")) == {"room", "password"}
    assert validate_new_room("ok", True, "long enough") == {}


def test_join_errors_and_labels() -> None:
    assert join_error_text("wrong_password", "x") == "Wrong password. Try again."
    assert join_error_text("forbidden", "not allowed") == "Not allowed"
    assert people_label(0) == "empty" and people_label(1) == "1 person"
