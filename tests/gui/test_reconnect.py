"""A lost connection shows "Reconnecting…" and recovers by itself."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from pymeet.gui.views.dialogs import CreateRoomDialog, NoticeDialog
from tests.gui.conftest import Driver, sign_up
from tests.support.server_process import ServerProcess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_server_restart_shows_reconnecting_and_restores_the_room(
        server_factory: Callable[..., ServerProcess], make_app: Callable[..., Driver]) -> None:
    server = server_factory("--port", str(free_port()))
    driver = make_app(server)
    app = driver.app
    sign_up(driver, "alice")
    app.create_room()
    dialog = driver.until(lambda: app.open_dialogs(CreateRoomDialog), "the dialog")[0]
    dialog.name_var.set("Resilient")
    dialog.create_button.invoke()
    driver.until(lambda: app.room.in_room, "the room")
    chat = app.chat_view
    chat.entry_var.set("before the outage")
    chat.submit()
    driver.until(lambda: "before the outage" in chat.conversation_text(), "the message")

    server.stop()
    driver.until(lambda: "Reconnecting" in app.shell.banner_text, "the reconnecting banner")
    assert app.shell.banner_level == "warning"
    chat.entry_var.set("into the void")
    chat.submit()
    assert "Not connected" in chat.error_var.get()
    driver.screenshot("reconnecting")

    server.start()
    driver.until(lambda: app.shell.banner_text == "Reconnected.", "the reconnected banner",
                 seconds=40, detail=lambda: app.shell.banner_text)
    assert app.room.in_room and app.room.room == "Resilient"
    driver.until(lambda: app.room.own_cam, "the camera to be on again")
    chat.entry_var.set("after the outage")
    chat.submit()
    driver.until(lambda: "after the outage" in chat.conversation_text(), "a message after")
    assert chat.error_var.get() == ""
    driver.until(lambda: app.shell.banner_text == "", "the banner to go", seconds=10,
                 detail=lambda: (app.shell.banner_text, app.connection.state))


def test_a_server_with_another_certificate_ends_the_session(
        server_factory: Callable[..., ServerProcess], make_app: Callable[..., Driver],
        tmp_path: Path) -> None:
    port = str(free_port())
    original = server_factory("--port", port)
    driver = make_app(original)
    app = driver.app
    sign_up(driver, "alice")
    original.stop()
    driver.until(lambda: "Reconnecting" in app.shell.banner_text, "the reconnecting banner")

    # Same address, new identity (a fresh data directory makes a new certificate).
    impostor = server_factory("--port", port, data_dir=tmp_path / "impostor")
    assert impostor.fingerprint != original.fingerprint
    notice = driver.until(lambda: app.open_dialogs(NoticeDialog), "the warning",
                          seconds=40, detail=lambda: app.shell.banner_text)[0]
    assert isinstance(notice, NoticeDialog)
    assert "has changed" in notice.text
    assert app.login_view.winfo_ismapped() and app.me is None
    assert "Disconnected" in app.login_view.status_var.get()
