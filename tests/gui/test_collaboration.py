"""Collaboration in the desktop app, with a second participant in another process:
shared files (cards, download verified by SHA-256, sending), raised hands, the host's
moderation, and screen sharing (PROTOCOL.md §3.4, docs/PROTOCOL.md "Screen sharing")."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pymeet.client.media import read_marker
from pymeet.gui.media_setup import sender_id
from pymeet.gui.presenters.chat import ROOM_TAB, dm_tab_key
from pymeet.gui.views.dialogs import ConfirmDialog, CreateRoomDialog, NoticeDialog
from pymeet.gui.views.pickers import TkFilePicker
from pymeet.gui.views.video import VideoTile
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
from tests.support.timeouts import timeout

ROOM = "Tài liệu chung"


class ScriptedPicker:
    """Answers the app's file and folder choosers as a person would, from a script.
    (The system dialogs are outside the app; everything after the choice is real.)"""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.folders: list[str] = []
        self.asked: list[tuple[str, str, str]] = []

    def open_file(self, parent: Any, title: str, initial_dir: str) -> str | None:
        self.asked.append(("file", title, initial_dir))
        return self.files.pop(0) if self.files else None

    def choose_folder(self, parent: Any, title: str, initial_dir: str) -> str | None:
        self.asked.append(("folder", title, initial_dir))
        return self.folders.pop(0) if self.folders else None


def answer_file_dialog(display: str, title: str, path: str) -> threading.Thread:
    """In the background, as a person would: wait for Tk's file dialog called ``title``,
    put the pointer on it (there is no window manager: the keyboard follows the
    pointer), type ``path`` and press Return."""
    env = dict(os.environ, DISPLAY=display)

    def xdotool(*args: str) -> str:
        return subprocess.run(["xdotool", *args], capture_output=True, text=True, env=env,
                              timeout=timeout(15), check=True).stdout

    def answer() -> None:
        window = xdotool("search", "--sync", "--name", f"^{title}$").split()[0]
        geometry = dict(line.split("=", 1) for line in
                        xdotool("getwindowgeometry", "--shell", window).split())
        x = int(geometry["X"]) + int(geometry["WIDTH"]) // 2
        y = int(geometry["Y"]) + int(geometry["HEIGHT"]) // 2
        xdotool("mousemove", str(x), str(y))
        time.sleep(0.2)
        xdotool("type", "--delay", "10", path)
        xdotool("key", "Return")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def own_room_with_bob(driver: Driver, server: ServerProcess,
                      remote_factory: Callable[..., RemoteParticipant]) -> RemoteParticipant:
    """Alice creates ``ROOM`` (so she is its host) and bob joins it."""
    app = driver.app
    sign_up(driver, "alice")
    app.create_room()
    dialog = driver.until(lambda: app.open_dialogs(CreateRoomDialog), "the dialog")[0]
    assert isinstance(dialog, CreateRoomDialog)
    dialog.name_var.set(ROOM)
    dialog.create_button.invoke()
    driver.until(lambda: app.room.in_room, "the room")
    bob = start_remote(driver, remote_factory, server, "bob")
    bob.send(cmd="join", room=ROOM)
    assert driver.until(bob.reply("join"), "bob to join")["event"] == "ok"
    driver.until(lambda: "bob" in app.room_view.grid_view.tiles, "bob's tile")
    return bob


def marker_on_screen(driver: Driver, tile: VideoTile) -> tuple[int, int] | None:
    """The synthetic marker read back from the pixels the tile shows on the display."""
    bbox = tile.video_bbox()
    if bbox is None:
        return None
    return read_marker(np.asarray(driver.grab(bbox))[..., ::-1])


def frames_from(remote: RemoteParticipant, user: str) -> list[dict[str, Any]]:
    return remote.find(lambda e: e.get("event") == "frame" and e.get("from") == user)


def test_files_are_cards_downloaded_verified_and_sent(
        server: ServerProcess, make_app: Callable[..., Driver],
        remote_factory: Callable[..., RemoteParticipant], tmp_path: Path) -> None:
    work = tmp_path / "files"
    work.mkdir()
    driver = make_app(server)
    app = driver.app
    picker = ScriptedPicker()
    app.picker = picker
    bob = own_room_with_bob(driver, server, remote_factory)
    chat = app.chat_view
    bob.send(cmd="chat", text="Biên bản đây:")
    driver.until(lambda: "Biên bản đây:" in chat.conversation_text(), "bob's message")

    # Bob shares a file: a card with its name, size, sender and time, live.
    payload = bytes(range(256)) * 700 + "Biên bản".encode()
    bob.send(cmd="share", room=ROOM, name="Biên bản họp.bin",
             base64=base64.b64encode(payload).decode())
    info = driver.until(bob.reply("share"), "the upload")["result"]["file"]
    card = driver.until(lambda: chat.card(info["id"]), "the file card")
    shown = chat.card_text(info["id"])
    assert shown["name"] == "Biên bản họp.bin"
    assert shown["details"].startswith("175.0 KB · bob · ")
    assert shown["button"] == "Download" and shown["status"] == ""
    assert "shared a file: Biên bản họp.bin (175.0 KB)" in chat.conversation_text()
    assert chat.conversation_text().index("Biên bản đây:") < chat.conversation_text().index(
        "shared a file"), "the timeline keeps the order things happened"

    # A folder that cannot be written to: a clear error on the card, nothing saved.
    blocked = work / "not a folder"
    blocked.write_text("x")
    picker.folders.append(str(blocked))
    card.download_button.invoke()
    assert picker.asked[-1][2] in (str(Path.home()), str(Path.home() / "Downloads")), (
        "the chooser opens at ~/Downloads or the home folder")
    driver.until(lambda: "Could not save" in chat.card_text(info["id"])["status"],
                 "the error", detail=lambda: chat.card_text(info["id"]))
    assert chat.card_text(info["id"])["status"].startswith("Could not save Biên bản họp.bin")
    assert chat.card_text(info["id"])["enabled"], "and it may be tried again"
    assert sorted(p.name for p in work.iterdir()) == ["not a folder"]

    # Download: a folder is chosen, a progress bar runs, and the card ends with
    # "verified" and where the copy is.
    downloads = work / "Tải về"
    downloads.mkdir()
    picker.folders.append(str(downloads))
    card.download_button.invoke()
    assert picker.asked[-1][0] == "folder"
    assert chat.card_text(info["id"])["progress"], "a progress bar while downloading"
    assert card.download_button.instate(["disabled"])
    saved = downloads / "Biên bản họp.bin"
    driver.until(lambda: "Verified" in chat.card_text(info["id"])["status"], "verified",
                 detail=lambda: chat.card_text(info["id"]))
    assert chat.card_text(info["id"])["status"] == (
        f"Verified (SHA-256 checked). Saved to {saved}")
    assert saved.read_bytes() == payload
    assert not chat.card_text(info["id"])["progress"]
    assert app.settings.download_dir == str(downloads), "the folder is remembered"

    # A second download of the same file never overwrites the first copy.
    picker.folders.append(str(downloads))
    card.download_button.invoke()
    assert picker.asked[-1][2] == str(downloads)
    driver.until(lambda: (downloads / "Biên bản họp (2).bin").exists()
                 and "Verified" in chat.card_text(info["id"])["status"], "a second copy")
    assert (downloads / "Biên bản họp (2).bin").read_bytes() == payload

    # Alice sends a file to the room: bob is told (file.shared) and gets the exact bytes.
    report = work / "kế hoạch quý 3.pdf"
    data = os.urandom(300_000)
    report.write_bytes(data)
    picker.files.append(str(report))
    driver.click(chat.file_button)
    shared = driver.until(lambda: bob.find(server_event("file.shared", room=ROOM)),
                          "file.shared at bob")[-1]["data"]["file"]
    assert (shared["name"], shared["size"], shared["from"]) == ("kế hoạch quý 3.pdf",
                                                                len(data), "alice")
    assert shared["sha256"] == hashlib.sha256(data).hexdigest()
    driver.until(lambda: chat.card(shared["id"]), "our own card")
    assert " · you · " in chat.card_text(shared["id"])["details"]
    bob_dir = tmp_path / "bob"
    bob_dir.mkdir()
    bob.send(cmd="download", file=shared, dest=str(bob_dir))
    got = driver.until(bob.reply("download"), "bob's download")
    assert got["event"] == "ok", got
    assert got["result"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert got["result"]["size"] == len(data)
    driver.until(lambda: not chat.upload_row.winfo_ismapped(), "the sending row to go")
    driver.screenshot("desktop-file-card")
    app.set_dark(True)
    assert chat.card_text(info["id"])["status"].startswith("Verified"), "kept across restyling"
    driver.screenshot("desktop-file-card-dark")
    app.set_dark(False)

    # In a direct conversation the file goes to that person only. This time through
    # the real file dialog.
    app.open_dm("bob")
    driver.until(lambda: app.chat.tabs[dm_tab_key("bob")].history_loaded, "the DM history")
    note = work / "ghi chú.txt"
    note.write_text("chỉ cho Bob", encoding="utf-8")
    app.picker = TkFilePicker()
    typist = answer_file_dialog(driver.display, "Send a file", str(note))
    driver.click(chat.file_button)
    typist.join(timeout(15))
    direct = driver.until(lambda: bob.find(server_event("file.shared", to="bob")),
                          "the direct file at bob")[-1]
    assert direct["data"]["room"] is None and direct["data"]["file"]["name"] == "ghi chú.txt"
    driver.until(lambda: chat.card(direct["data"]["file"]["id"]), "its card in the DM tab")
    assert app.chat.active == dm_tab_key("bob")
    app.select_tab(ROOM_TAB)
    assert chat.card(direct["data"]["file"]["id"]) is None, "not in the room's timeline"


def test_raised_hands_and_the_hosts_moderation(
        server: ServerProcess, make_app: Callable[..., Driver],
        remote_factory: Callable[..., RemoteParticipant]) -> None:
    driver = make_app(server)
    app = driver.app
    bob = own_room_with_bob(driver, server, remote_factory)
    panel = app.participants
    grid = app.room_view.grid_view

    # Bob raises his hand: a hand on his tile, and first in the list.
    bob.send(cmd="hand", up=True)
    assert driver.until(bob.reply("hand"), "bob's hand")["result"] == ["bob"]
    driver.until(lambda: panel.lines()[0].startswith("bob | hand #1"), "bob first",
                 detail=panel.lines)
    driver.until(lambda: "hand" in grid.tiles["bob"].marks(), "the hand on bob's tile")
    # Then alice: she lines up behind him, in raise order.
    driver.click(app.room_view.hand_button)
    driver.until(lambda: app.room.own_hand, "alice's hand up")
    assert [line.split(" · ")[0] for line in panel.lines()] == [
        "bob | hand #1", "alice (you, host) | hand #2"]
    assert app.room_view.hand_button.cget("text") == "Lower hand"
    assert "hand" in grid.tiles["alice"].marks()
    driver.until(lambda: bob.find(server_event("hand.update", username="alice", up=True)),
                 "alice's hand at bob")
    driver.screenshot("desktop-raised-hand")

    # The host's tools are there (they are not for others: tests/unit/gui).
    driver.until(lambda: (row := app.room.participant("bob")) is not None and row.mic,
                 "bob's microphone on")
    assert panel.moderation.winfo_ismapped()
    panel.tree.selection_set("bob")
    driver.pump(0.05)
    assert panel.mute_button.instate(["!disabled"])
    assert panel.remove_button.instate(["!disabled"])
    assert panel.build_menu("bob") and panel.menu_labels() == [
        ("Message bob", "normal"), ("Mute", "normal"), ("Remove from the room…", "normal")]

    # Mute from bob's menu: he is told, and his mic shows off.
    panel.menu.invoke(2)
    driver.until(lambda: bob.find(server_event("media.muted", by="alice")), "bob muted")
    driver.until(lambda: "mic off" in panel.lines()[0], "bob's mic off in the list",
                 detail=panel.lines)
    driver.until(lambda: panel.mute_all_button.instate(["disabled"]), "nobody left to mute")
    assert "You muted bob." in app.chat_view.conversation_text()

    # He turns it on again; Mute all turns it off again.
    bob.send(cmd="mic", on=True)
    driver.until(lambda: panel.mute_all_button.instate(["!disabled"]), "someone to mute")
    driver.click(panel.mute_all_button)
    driver.until(lambda: len(bob.find(server_event("media.muted"))) == 2, "muted again")

    # Remove, after a confirmation: bob is sent to the lobby and his tile goes.
    driver.click(panel.remove_button)
    confirm = driver.until(lambda: app.open_dialogs(ConfirmDialog), "the question")[0]
    assert isinstance(confirm, ConfirmDialog)
    assert "bob goes back to the lobby" in confirm.text
    driver.click(confirm.confirm_button)
    driver.until(lambda: bob.find(server_event("room.kicked", room=ROOM, by="alice")),
                 "room.kicked at bob")
    driver.until(lambda: "bob" not in grid.tiles, "bob's tile to go")
    assert [line.split(" | ")[0] for line in panel.lines()] == ["alice (you, host)"]
    assert "You removed bob." in app.chat_view.conversation_text()


def test_a_muted_and_removed_participant_is_told(
        server: ServerProcess, make_app: Callable[..., Driver],
        remote_factory: Callable[..., RemoteParticipant]) -> None:
    driver = make_app(server)
    app = driver.app
    sign_up(driver, "alice")
    bob = start_remote(driver, remote_factory, server, "bob")
    bob.send(cmd="join", room=ROOM, create=True)
    assert driver.until(bob.reply("join"), "bob's room")["event"] == "ok"
    app.join_room(ROOM)
    driver.until(lambda: app.room.in_room, "bob's room")
    assert not app.participants.moderation.winfo_ismapped(), "alice is not the host"
    driver.until(lambda: app.room.own_mic, "alice's microphone on")

    bob.send(cmd="mute", username="alice")
    driver.until(lambda: app.room_view.notice_text == "bob muted you.", "the notice")
    driver.until(lambda: app.room_view.mic_button.cget("text") == "Unmute", "the mic off")
    assert not app.room.own_mic
    driver.screenshot("desktop-muted-by-host")

    bob.send(cmd="kick", username="alice")
    notice = driver.until(lambda: app.open_dialogs(NoticeDialog), "the notice")[0]
    assert isinstance(notice, NoticeDialog)
    assert notice.text == f"bob removed you from “{ROOM}”."
    assert app.shell.current is app.lobby_view and not app.room.in_room


def test_a_shared_screen_is_shown_large_and_ours_reaches_the_others(
        server: ServerProcess, make_app: Callable[..., Driver],
        remote_factory: Callable[..., RemoteParticipant]) -> None:
    driver = make_app(server)
    app = driver.app
    bob = own_room_with_bob(driver, server, remote_factory)
    grid = app.room_view.grid_view
    driver.until(lambda: grid.tiles["bob"].showing_video, "bob's camera")

    # Bob presents a (synthetic) screen: his tile goes large, marked "Presenting", and
    # its pixels carry his marker.
    bob.send(cmd="screen", on=True)
    assert driver.until(bob.reply("screen"), "bob sharing")["result"] is True
    driver.until(lambda: grid.spotlight == "bob", "the spotlight on bob")
    tile, mine = grid.tiles["bob"], grid.tiles["alice"]
    driver.until(lambda: "presenting" in tile.marks(), "the presenting mark")
    assert tile.canvas.winfo_width() > 2.5 * mine.canvas.winfo_width()
    marker = driver.until(lambda: (m := marker_on_screen(driver, tile)) is not None
                          and tile._photo_size is not None
                          and tile._photo_size[0] > 1.6 * tile._photo_size[1] and m,
                          "bob's screen on the display")
    assert marker[1] == BOB_SENDER
    assert "presenting" in app.participants.lines()[0] or any(
        line.startswith("bob") and "presenting" in line for line in app.participants.lines())
    driver.screenshot("desktop-presenting")

    # Alice shares hers (a test slide under --synthetic-media): bob receives it at the
    # screen preset with screen: true; her own tile previews it.
    assert app.devices.screen().available
    driver.click(app.room_view.screen_button)
    driver.until(lambda: app.room.own_screen, "alice sharing")
    assert app.room_view.screen_button.cget("text") == "Stop sharing"
    assert app.room_view.cam_button.instate(["disabled"]), "the screen replaces the camera"
    driver.until(lambda: bob.find(lambda e: server_event("room.member_updated")(e)
                                  and e["data"]["member"]["username"] == "alice"
                                  and e["data"]["member"].get("screen") is True),
                 "screen: true at bob")
    alice_id = sender_id("alice")
    driver.until(lambda: any(f["size"] == [1280, 720] and f["marker"]
                             and f["marker"][1] == alice_id for f in frames_from(bob, "alice")),
                 "alice's screen at bob at 1280x720",
                 detail=lambda: frames_from(bob, "alice")[-3:])
    driver.until(lambda: "presenting" in mine.marks() and mine._photo_size is not None
                 and mine._photo_size[0] > 1.6 * mine._photo_size[1], "the own preview")
    assert grid.spotlight == "bob", "one's own screen is not put in the spotlight"

    # Stopping goes back to the camera, at its own preset.
    seen = len(frames_from(bob, "alice"))
    driver.click(app.room_view.screen_button)
    driver.until(lambda: not app.room.own_screen and app.room.own_cam, "the camera again")
    driver.until(lambda: any(f["size"] == [320, 240] for f in frames_from(bob, "alice")[seen:]),
                 "alice's camera at bob again")
    bob.send(cmd="screen", on=False)
    driver.until(lambda: grid.spotlight is None and grid.shape == (2, 1), "the grid again")


def test_sharing_the_real_screen_captures_the_display(
        server: ServerProcess, make_app: Callable[..., Driver],
        remote_factory: Callable[..., RemoteParticipant], tmp_path: Path) -> None:
    driver = make_app(server, synthetic=False)
    app = driver.app
    bob = own_room_with_bob(driver, server, remote_factory)
    view = app.room_view
    driver.until(lambda: app.devices.screen_probed, "the screen probe")
    view.render_controls()
    assert view.screen_button.instate(["!disabled"]), app.devices.screen()
    assert view.cam_button.instate(["disabled"]), "no camera here, and no test pattern"

    driver.click(view.screen_button)
    driver.until(lambda: app.room.own_screen, "sharing the screen",
                 detail=lambda: app.devices.problems)
    # The Xvfb screen is 1280x800: the screen preset's box (1280x720) keeps its shape.
    driver.until(lambda: any(f["size"] == [1152, 720] for f in frames_from(bob, "alice")),
                 "the display's pixels at bob", detail=lambda: frames_from(bob, "alice")[-3:])
    # What bob receives is what the display shows: compare the side panel (the part of
    # the window that stands still) once the window shows the sharing.
    driver.until(lambda: "presenting" in app.participants.lines()[0], "alice presenting")
    count = frames_from(bob, "alice")[-1]["frames"]
    driver.until(lambda: frames_from(bob, "alice")[-1]["frames"] > count + 3, "newer frames")
    frame_path = tmp_path / "received.png"
    bob.send(cmd="save_frame", path=str(frame_path), **{"from": "alice"})
    assert driver.until(bob.reply("save_frame"), "the frame saved")["event"] == "ok"
    display = driver.grab((0, 0, 1280, 800)).convert("RGB")
    received = Image.open(frame_path).convert("RGB").resize(display.size)
    side = app.shell.side
    box = (side.winfo_rootx(), side.winfo_rooty(), side.winfo_rootx() + side.winfo_width(),
           side.winfo_rooty() + side.winfo_height())
    assert image_difference(received.crop(box), display.crop(box)) < 6
    assert image_difference(received, display) < 15, "and the rest roughly"


def test_screen_sharing_says_why_it_is_unavailable(
        make_app: Callable[..., Driver], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mss", None)  # as if mss were not installed
    driver = make_app(synthetic=False)
    app = driver.app
    driver.until(lambda: app.devices.screen_probed, "the screen probe")
    app.room_view.render_controls()
    assert app.room_view.screen_button.instate(["disabled"])
    assert "mss" in app.room_view.screen_tip.text
    assert app.room_view.screen_tip.text.startswith("Screen sharing unavailable:")
    assert "Screen sharing is unavailable." in app.room_view.hint_var.get()
