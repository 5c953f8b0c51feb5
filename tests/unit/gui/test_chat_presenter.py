from __future__ import annotations

from pymeet.gui.presenters.chat import ROOM_TAB, ChatPresenter, dm_tab_key

NOW = 1_750_000_000.0


def chat(mid: int, sender: str, text: str, ts: float = NOW, room: str = "Lounge") -> dict:
    return {"id": mid, "room": room, "from": sender, "text": text, "ts": ts}


def dm(mid: int, sender: str, to: str, text: str, ts: float = NOW) -> dict:
    return {"id": mid, "from": sender, "to": to, "text": text, "ts": ts}


def presenter() -> ChatPresenter:
    p = ChatPresenter()
    p.set_me("alice")
    return p


def test_history_then_events_without_duplicates() -> None:
    p = presenter()
    p.enter_room("Lounge", [chat(1, "bob", "hi"), chat(2, "alice", "hello")])
    assert p.active == ROOM_TAB and p.tabs[ROOM_TAB].title == "Lounge"
    assert p.add_chat(chat(2, "alice", "hello")) is None, "a duplicate"
    assert p.add_chat(chat(3, "bob", "news", NOW + 1)) == ROOM_TAB
    assert [i.text for i in p.tabs[ROOM_TAB].items] == ["hi", "hello", "news"]
    assert p.tabs[ROOM_TAB].unread == 0, "the shown tab has nothing unread"


def test_a_message_that_overtakes_the_join_reply_is_kept() -> None:
    p = presenter()
    assert p.add_chat(chat(5, "bob", "early", NOW + 5)) is None
    p.enter_room("lounge", [chat(4, "bob", "older", NOW + 4)])
    assert [i.text for i in p.tabs[ROOM_TAB].items] == ["older", "early"]


def test_messages_of_another_room_do_not_show() -> None:
    p = presenter()
    p.enter_room("Lounge")
    assert p.add_chat(chat(9, "bob", "elsewhere", room="Kitchen")) is None
    assert p.tabs[ROOM_TAB].items == []


def test_direct_messages_open_tabs_with_unread_counts() -> None:
    p = presenter()
    p.enter_room("Lounge")
    key = p.add_dm(dm(1, "Bob", "alice", "psst"))
    assert key == dm_tab_key("bob")
    tab = p.tabs[key]
    assert (tab.title, tab.peer, tab.unread, tab.label) == ("Bob", "Bob", 1, "Bob (1)")
    assert p.add_dm(dm(2, "alice", "Bob", "yes?")) == key, "my own goes to the same tab"
    assert tab.unread == 1, "my own messages are never unread"
    assert p.total_unread == 1
    assert p.select(key) and tab.unread == 0 and p.active == key
    p.add_chat(chat(7, "carol", "meanwhile"))
    assert p.tabs[ROOM_TAB].unread == 1
    assert [t.key for t in p.tab_order()] == [ROOM_TAB, key]


def test_dm_history_and_files_interleave_by_time() -> None:
    p = presenter()
    key = p.load_dm_history("bob", [dm(1, "bob", "alice", "first", NOW),
                                    dm(2, "alice", "bob", "third", NOW + 20)],
                            [{"id": "f1", "name": "plan.pdf", "size": 2048, "from": "bob",
                              "ts": NOW + 10}])
    items = p.tabs[key].items
    assert [i.kind for i in items] == ["message", "file", "message"]
    assert items[1].text == "shared a file: plan.pdf (2.0 KB)"
    assert p.tabs[key].history_loaded


def test_shared_files_reach_their_conversation() -> None:
    p = presenter()
    p.enter_room("Lounge")
    info = {"id": "x", "name": "notes.txt", "size": 5, "from": "bob", "ts": NOW}
    assert p.add_file({"file": info, "room": "Lounge", "to": None}) == ROOM_TAB
    assert p.add_file({"file": info, "room": "Lounge", "to": None}) is None
    other = {**info, "id": "y"}
    assert p.add_file({"file": other, "room": None, "to": "alice"}) == dm_tab_key("bob")


def test_blocks_group_by_sender_and_mark_links() -> None:
    p = presenter()
    p.enter_room("Lounge", [chat(1, "bob", "see https://example.org", NOW),
                            chat(2, "bob", "and this", NOW + 30),
                            chat(3, "bob", "much later", NOW + 1000),
                            chat(4, "alice", "ok", NOW + 1001)])
    blocks = p.blocks(ROOM_TAB, NOW + 2000)
    assert [b.header for b in blocks] == ["bob", None, "bob", "You"]
    assert blocks[0].pieces == (("see ", None), ("https://example.org", "https://example.org"))
    assert blocks[3].mine
    p.notice(ROOM_TAB, "bob left.", NOW + 1002)
    assert p.blocks(ROOM_TAB, NOW)[-1].kind == "notice"


def test_closing_and_leaving() -> None:
    p = presenter()
    p.enter_room("Lounge")
    key = p.open_dm("bob")
    assert p.active == key
    p.close(key)
    assert p.active == ROOM_TAB and key not in p.tabs
    p.close(ROOM_TAB)
    assert ROOM_TAB in p.tabs, "the room tab stays while in the room"
    p.open_dm("bob", activate=False)
    p.leave_room()
    assert list(p.tabs) == [dm_tab_key("bob")] and p.active == dm_tab_key("bob")
    assert "start of your conversation with bob" in p.placeholder(dm_tab_key("bob"))
    assert "Message" in p.placeholder(None)


def test_a_first_conversation_in_the_lobby_is_shown_at_once() -> None:
    p = presenter()
    key = p.add_dm(dm(1, "bob", "alice", "hi"))
    assert p.active == key and p.tabs[key].unread == 0
    other = p.add_dm(dm(2, "carol", "alice", "hey"))
    assert p.active == key and other is not None and p.tabs[other].unread == 1


def shared(fid: str, sender: str, ts: float, name: str = "notes.txt", size: int = 5) -> dict:
    return {"id": fid, "name": name, "size": size, "sha256": "ab" * 32, "from": sender,
            "ts": ts}


def test_the_timeline_merges_messages_and_file_cards_by_time() -> None:
    p = presenter()
    # A live file and a live message overtake the join reply; the reply's history and
    # files (each oldest first, as the server sends them) then fill in around them.
    assert p.add_file({"file": shared("f3", "bob", NOW + 30), "room": "Lounge",
                       "to": None}) is None
    assert p.add_chat(chat(4, "carol", "after the file", NOW + 40)) is None
    p.enter_room("Lounge",
                 [chat(1, "bob", "first", NOW), chat(2, "alice", "third", NOW + 20),
                  chat(4, "carol", "after the file", NOW + 40)],
                 [shared("f1", "carol", NOW + 10, "a.pdf", 2048),
                  shared("f3", "bob", NOW + 30)])
    items = p.tabs[ROOM_TAB].items
    assert [(i.kind, i.uid) for i in items] == [
        ("message", "chat:1"), ("file", "file:f1"), ("message", "chat:2"),
        ("file", "file:f3"), ("message", "chat:4")]
    # A file shared live later goes to the end, a duplicate nowhere.
    assert p.add_file({"file": shared("f5", "bob", NOW + 50), "room": "lounge",
                       "to": None}) == ROOM_TAB
    assert p.add_file({"file": shared("f5", "bob", NOW + 50), "room": "Lounge",
                       "to": None}) is None
    assert [i.uid for i in p.tabs[ROOM_TAB].items][-1] == "file:f5"


def test_file_blocks_carry_a_card() -> None:
    p = presenter()
    p.enter_room("Lounge", [chat(1, "bob", "here it is", NOW)],
                 [shared("f1", "bob", NOW + 10, "Biên bản.pdf", 3 * 1024 * 1024),
                  shared("f2", "alice", NOW + 20, "mine.txt", 1)])
    blocks = p.blocks(ROOM_TAB, NOW + 60)
    assert [b.kind for b in blocks] == ["message", "file", "file"]
    assert blocks[0].card is None
    card = blocks[1].card
    assert card is not None and blocks[1].header is None, "bob's message and file group"
    assert (card.file_id, card.name, card.size, card.sender) == (
        "f1", "Biên bản.pdf", "3.0 MB", "bob")
    assert card.details == f"3.0 MB · bob · {blocks[1].time}"
    assert card.summary == "shared a file: Biên bản.pdf (3.0 MB)"
    assert card.info["sha256"] == "ab" * 32, "everything needed to download it"
    mine = blocks[2].card
    assert mine is not None and mine.mine and blocks[2].header == "You"
    assert mine.details.startswith("1 byte · you · ")
    assert p.file_info("f2") == shared("f2", "alice", NOW + 20, "mine.txt", 1)
    assert p.file_info("missing") is None


def test_own_files_sent_to_one_person_show_in_their_tab() -> None:
    p = presenter()
    key = p.add_file({"file": shared("d1", "alice", NOW), "room": None, "to": "Bob"})
    assert key == dm_tab_key("bob") and p.tabs[key].peer == "Bob"
    assert p.tabs[key].unread == 0, "one's own file is never unread"
