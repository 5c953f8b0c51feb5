"""The app with a second participant (another process) in the same room."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pymeet.client.media import read_marker
from pymeet.gui.media_setup import sender_id
from pymeet.gui.presenters.chat import ROOM_TAB, dm_tab_key
from pymeet.gui.views.dialogs import IncomingInviteDialog, InvitePickerDialog, NoticeDialog
from tests.gui.conftest import (
    BOB_SENDER,
    Driver,
    RemoteParticipant,
    image_difference,
    server_event,
    sign_up,
    start_remote,
)
from tests.support.server_process import ServerProcess

ROOM = "Daily stand-up"


def remote_frames_of(remote: RemoteParticipant, user: str) -> list[int]:
    """Frame numbers of ``user``'s camera that the remote participant decoded."""
    return [e["marker"][0] for e in remote.find(
        lambda e: e.get("event") == "frame" and e.get("from") == user and e.get("marker")
        and e["marker"][1] == sender_id(user))]


def test_two_participants_see_and_chat_with_each_other(
        server: ServerProcess, make_app: Callable[..., Driver],
        remote_factory: Callable[..., RemoteParticipant]) -> None:
    driver = make_app(server)
    app = driver.app
    sign_up(driver, "alice")
    bob = start_remote(driver, remote_factory, server, "bob")
    bob.send(cmd="join", room=ROOM, create=True)
    assert driver.until(bob.reply("join"), "bob to join")["event"] == "ok"

    # The lobby counts bob in the room, live (lobby.update).
    driver.until(lambda: (row := app.lobby.room(ROOM)) is not None and row.members == 1,
                 "the room with one person")
    driver.until(lambda: "in " + ROOM in app.lobby_view.people.item("bob", "values"),
                 "where bob is")
    app.lobby_view.select_room(ROOM)
    driver.screenshot("lobby")
    driver.click(app.lobby_view.join_button)
    driver.until(lambda: app.room.in_room, "the room")

    # Two tiles, side by side; bob's shows his moving synthetic camera.
    grid = app.room_view.grid_view
    tile = driver.until(lambda: grid.tiles.get("bob"), "bob's tile")
    assert set(grid.tiles) == {"alice", "bob"}
    driver.until(lambda: grid.shape == (2, 1), "two tiles side by side")
    driver.until(lambda: tile.showing_video, "bob's video",
                 detail=lambda: (tile.tile, tile.frames_shown))

    def marker_on_screen() -> tuple[int, int] | None:
        bbox = tile.video_bbox()
        if bbox is None:
            return None
        return read_marker(np.asarray(driver.grab(bbox))[..., ::-1])

    first = driver.until(marker_on_screen, "bob's frame on the screen")
    assert first[1] == BOB_SENDER, "the pixels are bob's camera"
    before = driver.grab_widget(tile.canvas)
    later = driver.until(lambda: (m := marker_on_screen()) is not None and m[0] > first[0]
                         and m, "a later frame of bob's on the screen")
    assert later[1] == BOB_SENDER
    assert image_difference(before, driver.grab_widget(tile.canvas)) > 1

    # ... and bob sees alice's camera move forward.
    driver.until(lambda: len(set(remote_frames_of(bob, "alice"))) >= 2, "bob to see alice")
    frames = remote_frames_of(bob, "alice")
    assert frames[-1] > frames[0]

    # Bob's tone lights his speaking indicator; the quality badge measures the path.
    driver.until(lambda: grid.tiles["bob"].tile.speaking, "bob speaking")
    quality = driver.until(lambda: app.room_view.quality.level != "unknown"
                           and app.room_view.quality, "a quality measurement")
    assert " ms" in quality.text and "loss" in quality.text
    assert app.room_view.quality_var.get() == quality.text

    # Chat in both directions, with the history of the room.
    chat = app.chat_view
    bob.send(cmd="chat", text="Chào Alice! Agenda: https://example.org/agenda")
    driver.until(lambda: "Chào Alice!" in chat.conversation_text(), "bob's message")
    chat.entry_var.set("Hi Bob, see you there.")
    chat.entry.event_generate("<Return>")
    driver.until(lambda: bob.find(server_event("chat.message")), "alice's message at bob")
    got = bob.find(server_event("chat.message"))[-1]["data"]["message"]
    assert got["text"] == "Hi Bob, see you there." and got["from"] == "alice"

    # The participant list shows raised hands first.
    assert [line.split(" | ")[0] for line in app.participants.lines()] == [
        "alice (you)", "bob (host)"]
    bob.send(cmd="hand", up=True)
    driver.until(lambda: "hand #1" in app.participants.lines()[0], "bob's raised hand")
    assert app.participants.lines()[0].startswith("bob")
    assert grid.tiles["bob"].tile.hand

    # A direct message opens a tab with an unread badge, cleared when shown.
    bob.send(cmd="dm", to="alice", text="psst, are you ready?")
    key = dm_tab_key("bob")
    driver.until(lambda: chat.tab_badge(key) == "1", "the unread badge")
    assert app.chat.active == ROOM_TAB
    driver.screenshot("room")
    driver.click(app.chat_view.chips[key].button)
    driver.until(lambda: "psst, are you ready?" in chat.conversation_text(), "the DM")
    assert chat.tab_badge(key) == ""
    chat.entry_var.set("Yes!")
    chat.send_button.invoke()
    driver.until(lambda: bob.find(server_event("dm.message")), "alice's reply at bob")

    # Bob leaves: his tile goes and the grid lays itself out again.
    bob.send(cmd="leave")
    driver.until(lambda: "bob" not in grid.tiles, "bob's tile to go")
    driver.until(lambda: grid.shape == (1, 1), "a one-tile layout")
    assert "bob left." in chat.conversation_text() or app.chat.active != ROOM_TAB

    # From inside the room, alice can invite bob back.
    app.pick_invitee()
    picker = driver.until(lambda: app.open_dialogs(InvitePickerDialog), "the picker")[0]
    assert isinstance(picker, InvitePickerDialog)
    assert picker.tree.exists("bob")
    picker.tree.selection_set("bob")
    picker.invite_button.invoke()
    driver.until(lambda: bob.find(server_event("call.invite", room=ROOM)), "the invitation")
    driver.until(lambda: "Invitation sent to bob." in picker.status_var.get(), "the status")


def test_an_invitation_can_be_declined_or_accepted(
        server: ServerProcess, make_app: Callable[..., Driver],
        remote_factory: Callable[..., RemoteParticipant]) -> None:
    driver = make_app(server)
    app = driver.app
    sign_up(driver, "alice")
    bob = start_remote(driver, remote_factory, server, "bob")
    bob.send(cmd="join", room="Góc của Bob", password="only for friends", create=True)
    assert driver.until(bob.reply("join"), "bob to join")["event"] == "ok"
    bob.send(cmd="share", room="Góc của Bob", name="ghi chú.txt", text="hello")
    assert driver.until(bob.reply("share"), "the upload")["event"] == "ok"

    # From the lobby: Message opens a conversation with bob.
    assert app.lobby_view.select_person("bob")
    driver.click(app.lobby_view.message_button)
    key = dm_tab_key("bob")
    driver.until(lambda: app.chat.active == key, "the conversation with bob")
    driver.until(lambda: "start of your conversation with bob" in
                 app.chat_view.conversation_text(), "the empty conversation")
    app.chat_view.entry_var.set("Are you free?")
    app.chat_view.entry.event_generate("<Return>")
    driver.until(lambda: bob.find(server_event("dm.message")), "the DM at bob")
    assert app.lobby_view.invite_button.instate(["disabled"]), "inviting needs a room"

    bob.send(cmd="invite", to="alice")
    dialog = driver.until(lambda: app.open_dialogs(IncomingInviteDialog), "the invitation")[0]
    assert isinstance(dialog, IncomingInviteDialog)
    assert (dialog.inviter, dialog.room) == ("bob", "Góc của Bob")
    driver.click(dialog.heading)
    driver.key("Escape")
    driver.until(lambda: bob.find(server_event("call.answer", accept=False)), "the refusal")
    assert not app.room.in_room

    bob.send(cmd="invite", to="alice")
    dialog = driver.until(lambda: [d for d in app.open_dialogs(IncomingInviteDialog)],
                          "the second invitation")[0]
    driver.screenshot("invite-dialog")
    driver.click(dialog.join_button)
    # The room is locked, but the invitation lets alice in without its password.
    driver.until(lambda: app.room.in_room, "the room")
    assert app.room.room == "Góc của Bob"
    driver.until(lambda: bob.find(server_event("call.answer", accept=True)), "the answer")
    driver.until(lambda: "bob" in app.room_view.grid_view.tiles, "bob's tile")
    # The file bob shared before is in the room's history; the DM tab stays open.
    app.select_tab(ROOM_TAB)
    driver.until(lambda: "shared a file: ghi chú.txt (5 bytes)" in
                 app.chat_view.conversation_text(), "the shared file")
    assert key in app.chat_view.chips

    # The host mutes alice, then removes her from the room.
    driver.until(lambda: app.room.own_mic, "alice's microphone on")
    bob.send(cmd="mute", username="alice")
    driver.until(lambda: not app.room.own_mic, "alice muted")
    driver.until(lambda: app.room_view.mic_button.cget("text") == "Unmute", "the button")
    assert "bob muted your microphone." in app.chat_view.conversation_text()
    bob.send(cmd="kick", username="alice")
    notice = driver.until(lambda: app.open_dialogs(NoticeDialog), "the notice")[0]
    assert isinstance(notice, NoticeDialog)
    assert notice.text == "bob removed you from “Góc của Bob”."
    assert app.shell.current is app.lobby_view and not app.room.in_room
