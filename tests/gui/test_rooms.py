"""One app on a real display: lobby, creating and joining rooms, chat, leaving."""

from __future__ import annotations

from collections.abc import Callable

from pymeet.gui.presenters.chat import ROOM_TAB
from pymeet.gui.views.dialogs import CreateRoomDialog, DevicesDialog, PasswordDialog
from tests.gui.conftest import Driver, image_difference, sign_up
from tests.support.server_process import ServerProcess

ROOM = "Phòng họp 1"


def test_create_join_chat_and_leave(server: ServerProcess,
                                    make_app: Callable[..., Driver]) -> None:
    driver = make_app(server)
    app = driver.app
    sign_up(driver, "alice")
    lobby = app.lobby_view
    assert lobby.rooms.get_children() == ()
    assert lobby.empty_rooms.winfo_ismapped(), "an empty lobby says so"
    driver.screenshot("lobby-empty")

    # Create a room with a Vietnamese name; a bad name is explained inline first.
    driver.click(lobby.create_button)
    dialog = driver.until(lambda: app.open_dialogs(CreateRoomDialog), "the dialog")[0]
    assert isinstance(dialog, CreateRoomDialog)
    dialog.name_var.set("  ")
    dialog.create_button.invoke()
    assert dialog.name_error.get() == "Give the room a name."
    dialog.name_var.set("bad/name")
    dialog.create_button.invoke()
    assert "letters" in dialog.name_error.get()
    dialog.name_var.set(ROOM)
    driver.click(dialog.create_button)

    # Created and joined: the room view with our own tile and the synthetic preview.
    driver.until(lambda: app.room.in_room, "the room")
    assert app.room.room == ROOM
    assert app.shell.current is app.room_view
    grid = app.room_view.grid_view
    tile = grid.tiles["alice"]
    driver.until(lambda: tile.showing_video, "our own preview")
    assert app.room.own_cam and app.room.own_mic, "synthetic media starts on"
    first = driver.grab_widget(tile.canvas)
    driver.until(lambda: image_difference(first, driver.grab_widget(tile.canvas)) > 1,
                 "the preview to move")

    # Chat: Enter sends; Vietnamese text and links are shown as typed.
    chat = app.chat_view
    assert chat.tab_title(ROOM_TAB) == ROOM
    chat.entry_var.set("Xin chào mọi người! Tài liệu: https://example.org/họp.")
    chat.entry.event_generate("<Return>")
    driver.until(lambda: "Xin chào mọi người!" in chat.conversation_text(), "our message")
    assert chat.entry_var.get() == "", "the box is emptied"
    assert "https://example.org/họp" in chat._links.values(), "the link is clickable"
    assert chat.conversation_text().startswith("You  ")
    driver.screenshot("room-alone")

    # Dark mode, remembered in the settings.
    app.shell.dark_switch.invoke()
    assert app.theme.dark and app.settings.dark
    driver.screenshot("room-dark")
    app.shell.dark_switch.invoke()
    assert not app.theme.dark

    # An empty message is not sent; one over 4000 characters is explained.
    chat.entry_var.set("x" * 4001)
    chat.send_button.invoke()
    assert "4000" in chat.error_var.get()

    # The lobby shows the room with its member count, live.
    driver.click(app.room_view.leave_button)
    driver.until(lambda: app.shell.current is app.lobby_view, "the lobby")
    row = driver.until(lambda: app.lobby.room(ROOM), "the room in the lobby")
    assert row.owner == "alice"
    driver.until(lambda: app.lobby.room(ROOM) and app.lobby.room(ROOM).members == 0,
                 "the count to drop to 0")
    assert lobby.rooms.item(row.key, "values")[0] == "empty"
    assert ROOM_TAB not in app.chat.tabs

    # Join again from the list: the history is there.
    assert lobby.select_room(ROOM)
    driver.click(lobby.join_button)
    driver.until(lambda: app.room.in_room, "the room again")
    driver.until(lambda: "Xin chào mọi người!" in chat.conversation_text(), "the history")


def test_locked_room_asks_for_the_password(server: ServerProcess,
                                           make_app: Callable[..., Driver]) -> None:
    driver = make_app(server, synthetic=False)
    app = driver.app
    sign_up(driver, "bob")
    app.create_room()
    dialog = driver.until(lambda: app.open_dialogs(CreateRoomDialog), "the dialog")[0]
    dialog.name_var.set("Secret")
    dialog.locked_check.invoke()
    dialog.password_var.set("short")
    dialog.create_button.invoke()
    assert "8" in dialog.password_error.get()
    dialog.password_var.set("open sesame")
    dialog.create_button.invoke()
    driver.until(lambda: app.room.in_room, "the locked room")
    # Without camera or microphone here, their buttons are disabled and say why.
    driver.until(lambda: app.devices.report is not None, "device probing")
    app.render_room()
    view = app.room_view
    assert view.cam_button.instate(["disabled"])
    assert view.mic_button.instate(["disabled"])
    assert "camera" in view.hint_var.get().lower()
    assert "microphone" in view.hint_var.get().lower()
    assert not app.room_view.grid_view.tiles["bob"].showing_video, "an initials avatar"
    driver.screenshot("room-without-devices")

    # The device chooser explains what is missing and offers a test pattern instead.
    driver.click(view.devices_button)
    chooser = driver.until(lambda: app.open_dialogs(DevicesDialog), "the chooser")[0]
    assert isinstance(chooser, DevicesDialog)
    camera_box = chooser._rows["camera"][0]
    assert camera_box.get() == "Test pattern (no camera needed)", "no camera to choose"
    driver.screenshot("devices-dialog")
    chooser._rows["microphone"][0].set("Test tone (no microphone needed)")
    chooser.apply_button.invoke()
    driver.until(lambda: view.cam_button.instate(["!disabled"]), "an enabled camera button")
    driver.click(view.cam_button)
    tile = app.room_view.grid_view.tiles["bob"]
    driver.until(lambda: tile.showing_video, "the test pattern as our video")
    assert app.settings.synthetic_media, "the choice is remembered"
    app.leave_room()
    driver.until(lambda: app.shell.current is app.lobby_view, "the lobby")

    row = driver.until(lambda: app.lobby.room("secret"), "the room listed")
    assert row.locked
    assert app.lobby_view.rooms.item(row.key, "image"), "a lock mark"
    app.lobby_view.select_room("Secret")
    app.lobby_view.join_button.invoke()
    prompt = driver.until(lambda: app.open_dialogs(PasswordDialog), "the password")[0]
    assert isinstance(prompt, PasswordDialog)
    prompt.var.set("wrong guess")
    prompt.join_button.invoke()
    driver.until(lambda: prompt.error_text, "the refusal")
    assert prompt.error_text == "Wrong password. Try again."
    assert not prompt.closed and not app.room.in_room
    prompt.var.set("open sesame")
    driver.click(prompt.join_button)
    driver.until(lambda: app.room.in_room, "the room")
    assert prompt.closed
