from __future__ import annotations

import pytest

from pymeet.gui.presenters.room import SPEAKING_HOLD, RoomPresenter, grid_shape

ROOM = {"name": "Phòng họp 1", "owner": "bob", "members": 2, "locked": False}


def member(name: str, mic: bool = False, cam: bool = False, **extra: object) -> dict:
    return {"username": name, "ssrc": 1, "mic": mic, "cam": cam, **extra}


def entered() -> RoomPresenter:
    room = RoomPresenter()
    room.enter(ROOM, [member("bob", mic=True), member("alice")], "alice")
    return room


def test_tiles_put_me_first_then_arrival_order() -> None:
    room = entered()
    assert [t.label for t in room.tiles(0)] == ["alice (you)", "bob"]
    assert room.apply({"type": "room.member_joined", "room": "phòng họp 1",
                       "member": member("carol", cam=True)})
    assert room.member_names() == ["alice", "bob", "carol"]
    carol = room.tiles(0)[2]
    assert carol.cam and carol.initials == "C" and carol.color.startswith("#")
    assert room.title == "Phòng họp 1 · 3 people"


def test_events_of_other_rooms_are_ignored() -> None:
    room = entered()
    assert not room.apply({"type": "room.member_joined", "room": "elsewhere",
                           "member": member("eve")})
    assert not room.apply({"type": "room.member_left", "room": "elsewhere",
                           "username": "bob"})
    assert room.member_names() == ["alice", "bob"]


def test_updates_and_departures() -> None:
    room = entered()
    assert room.apply({"type": "room.member_updated", "room": ROOM["name"],
                       "member": member("bob", mic=False, cam=True)})
    bob = room.tiles(0)[1]
    assert (bob.mic, bob.cam) == (False, True)
    assert room.apply({"type": "room.member_left", "room": ROOM["name"], "username": "BOB"})
    assert room.member_names() == ["alice"]
    assert not room.apply({"type": "room.member_left", "room": ROOM["name"],
                           "username": "bob"})


def test_raised_hands_keep_their_order_in_the_participant_list() -> None:
    room = RoomPresenter()
    room.enter(ROOM, [member("alice"), member("bob"), member("carol", hand=True)], "alice",
               hands=["carol"])
    assert room.apply({"type": "hand.update", "room": ROOM["name"], "username": "bob",
                       "up": True})
    rows = room.participants()
    assert [(p.username, p.hand_order) for p in rows] == [
        ("carol", 1), ("bob", 2), ("alice", None)]
    assert rows[1].label == "bob (host)" and rows[2].label == "alice (you)"
    assert rows[0].status == "hand #1 · mic off · cam off"
    room.set_own_hand(True)
    assert room.own_hand
    room.set_own_hand(False, hands=["bob"])
    assert [p.username for p in room.participants() if p.hand] == ["bob"]
    assert room.tiles(0)[1].hand is True  # bob


def test_hands_from_members_when_the_reply_has_no_order() -> None:
    room = RoomPresenter()
    room.enter(ROOM, [member("alice"), member("bob", hand=True)], "alice")
    assert [p.username for p in room.participants() if p.hand] == ["bob"]


def test_own_media_and_being_muted() -> None:
    room = entered()
    room.set_own_media(True, True)
    assert room.own_mic and room.own_cam
    assert room.apply({"type": "media.muted", "room": ROOM["name"], "by": "bob"})
    assert not room.own_mic and room.own_cam
    assert not room.is_owner


def test_speaking_holds_for_a_moment() -> None:
    room = entered()
    room.set_level("bob", 0.3, True, now=10.0)
    assert room.speaking("bob", 10.0)
    assert room.tiles(10.0)[1].speaking
    room.set_level("bob", 0.0, False, now=10.1)
    assert room.speaking("bob", 10.0 + SPEAKING_HOLD - 0.01)
    assert not room.speaking("bob", 10.0 + SPEAKING_HOLD + 0.01)


def test_leaving_forgets_everything() -> None:
    room = entered()
    room.leave()
    assert not room.in_room and room.tiles(0) == [] and room.participants() == []


@pytest.mark.parametrize(("count", "width", "height", "shape"), [
    (0, 800, 600, (0, 0)),
    (1, 800, 600, (1, 1)),
    (2, 800, 600, (2, 1)),
    (2, 787, 592, (2, 1)),
    (5, 1000, 1000, (2, 3)),
    (2, 400, 900, (1, 2)),
    (3, 800, 600, (2, 2)),
    (4, 800, 600, (2, 2)),
    (5, 1200, 600, (3, 2)),
    (9, 800, 600, (3, 3)),
])
def test_grid_shape_makes_tiles_as_large_as_possible(count: int, width: int, height: int,
                                                     shape: tuple[int, int]) -> None:
    assert grid_shape(count, width, height) == shape
