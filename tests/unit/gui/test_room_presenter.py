from __future__ import annotations

import pytest

from pymeet.gui.presenters.room import (
    SCREEN_ASPECT,
    SPEAKING_HOLD,
    RoomPresenter,
    grid_shape,
    spotlight_key,
    spotlight_layout,
)

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


def test_hands_follow_raise_order_through_events_and_replies() -> None:
    room = RoomPresenter()
    room.enter(ROOM, [member("alice"), member("bob", hand=True), member("carol", hand=True),
                      member("dan")], "alice", hands=["carol", "bob"])
    order = lambda: [p.username for p in room.participants() if p.hand]  # noqa: E731
    assert order() == ["carol", "bob"], "the reply's order, not the members' order"
    room.apply({"type": "hand.update", "room": ROOM["name"], "username": "dan", "up": True})
    room.apply({"type": "hand.update", "room": ROOM["name"], "username": "carol",
                "up": False})
    assert order() == ["bob", "dan"]
    room.set_own_hand(True, ["bob", "dan", "alice"])
    assert order() == ["bob", "dan", "alice"] and room.own_hand
    assert [p.hand_order for p in room.participants()][:3] == [1, 2, 3]
    room.apply({"type": "room.member_left", "room": ROOM["name"], "username": "bob"})
    assert order() == ["dan", "alice"], "leaving lowers the hand"
    # Raising again puts one at the end of the line.
    room.apply({"type": "room.member_joined", "room": ROOM["name"], "member": member("bob")})
    room.apply({"type": "hand.update", "room": ROOM["name"], "username": "bob", "up": True})
    assert order() == ["dan", "alice", "bob"]
    assert [t.hand for t in room.tiles(0)] == [True, False, True, True]  # alice, carol, dan, bob


def test_only_the_owner_gets_moderation() -> None:
    guest = entered()  # bob owns the room
    assert not guest.is_owner
    assert not any(p.can_mute or p.can_remove for p in guest.participants())
    assert guest.mute_all_targets() == []

    host = RoomPresenter()
    host.enter({**ROOM, "owner": "Alice"}, [member("alice", mic=True), member("bob", mic=True),
                                             member("carol")], "alice")
    assert host.is_owner
    rows = {p.username: p for p in host.participants()}
    assert not rows["alice"].can_mute and not rows["alice"].can_remove, "not oneself"
    assert rows["bob"].can_mute and rows["bob"].can_remove
    assert not rows["carol"].can_mute and rows["carol"].can_remove, "carol's mic is off"
    assert host.mute_all_targets() == ["bob"]
    # The server tells everyone but the owner that bob is muted: the owner's reply does.
    assert host.set_muted("bob")
    bob = host.participant("bob")
    assert bob is not None and not bob.mic
    assert host.mute_all_targets() == []
    assert not host.set_muted("nobody")


def test_a_shared_screen_goes_in_the_spotlight() -> None:
    room = entered()
    assert spotlight_key(room.tiles(0)) is None
    # screen without cam cannot be (a screen is sent instead of the camera)
    room.apply({"type": "room.member_updated", "room": ROOM["name"],
                "member": member("bob", cam=False, screen=True)})
    assert spotlight_key(room.tiles(0)) is None
    room.apply({"type": "room.member_updated", "room": ROOM["name"],
                "member": member("bob", mic=True, cam=True, screen=True)})
    tiles = room.tiles(0)
    assert spotlight_key(tiles) == "bob"
    assert tiles[1].presenting_label == "Presenting"
    bob = room.participant("bob")
    assert bob is not None and bob.status == "mic on · presenting"
    # One's own screen shows in one's own tile, never in the spotlight.
    room.set_own_media(False, True, True)
    assert room.own_screen and room.tiles(0)[0].presenting_label == "You are presenting"
    room.apply({"type": "room.member_updated", "room": ROOM["name"],
                "member": member("bob", cam=True, screen=False)})
    assert spotlight_key(room.tiles(0)) is None


@pytest.mark.parametrize(("others", "width", "height"), [
    (1, 795, 600), (3, 795, 600), (8, 795, 600), (1, 1600, 500), (2, 400, 900), (0, 800, 600),
])
def test_the_spotlight_layout_fits_and_shows_the_screen_largest(others: int, width: int,
                                                                 height: int) -> None:
    main, strip = spotlight_layout(others, width, height, gap=8)
    assert len(strip) == others
    assert abs(main.width / main.height - SCREEN_ASPECT) < 0.02
    for rect in (main, *strip):
        assert rect.x >= 0 and rect.y >= 0
        assert rect.x + rect.width <= width and rect.y + rect.height <= height
    for index, rect in enumerate(strip):
        assert not rect.overlaps(main)
        assert rect.y >= main.y + main.height, "the strip is below the screen"
        assert rect.width * rect.height < main.width * main.height / 4
        assert all(not rect.overlaps(other) for other in strip[index + 1:])
    if strip:
        left, right = strip[0].x, width - (strip[-1].x + strip[-1].width)
        assert abs(left - right) <= 2, "the strip is centred"
    # The screen takes the width or the height it is given.
    assert main.width >= width - 2 * 8 - 1 or main.height >= height * 0.6
