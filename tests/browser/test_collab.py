"""Collaboration in the browser, end to end: shared files, raised hands, the owner's
Remove and Mute, and screen sharing, between Chromium and Python `MeetingClient`s
through a real server (PROTOCOL.md §3.4; docs/PROTOCOL.md "Files, moderation, raised
hands" and "Screen sharing").

Screen sharing uses the real `getDisplayMedia`: with Chromium's
`--use-fake-ui-for-media-stream` and `--use-fake-device-for-media-stream` (already in
tests/support/browser.py) it picks a fake 1280×720 screen without a prompt, headless.
Screenshots go to artifacts/screenshots/ (the path is printed).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import numpy as np
from playwright.async_api import FilePayload, expect

from pymeet.client import MeetingClient
from pymeet.client.media import MediaEngine, SyntheticCamera, SyntheticScreen, read_marker
from tests.support.browser import (
    BrowserUser,
    PythonUser,
    WebUser,
    eventually,
    ms,
)
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout


def files_url(server: ServerProcess) -> str:
    return f"http://{server.host}:{server.web_port}/files"


async def python_upload(server: ServerProcess, client: MeetingClient, data: bytes, name: str,
                        **target: str) -> dict[str, Any]:
    """What a Python user does to share a file: POST it with its session token."""
    headers = {"Authorization": f"Bearer {client.session_token}",
               "X-Filename": urllib.parse.quote(name)}
    async with (aiohttp.ClientSession() as http,
                http.post(files_url(server), params=target, data=data, headers=headers,
                          timeout=aiohttp.ClientTimeout(total=timeout(10))) as response):
        assert response.status == 201, await response.text()
        info: dict[str, Any] = (await response.json())["file"]
        return info


async def python_download(server: ServerProcess, client: MeetingClient, file_id: str) -> bytes:
    headers = {"Authorization": f"Bearer {client.session_token}"}
    async with (aiohttp.ClientSession() as http,
                http.get(f"{files_url(server)}/{file_id}", headers=headers,
                         timeout=aiohttp.ClientTimeout(total=timeout(10))) as response):
        assert response.status == 200, await response.text()
        return await response.read()


async def choose_files(user: BrowserUser, *files: tuple[str, bytes]) -> None:
    """Press "Send file" and pick ``files`` in the file chooser that opens."""
    async with user.page.expect_file_chooser(timeout=ms(10)) as chooser:
        await user.page.get_by_role("button", name="Send file").click()
    payloads: list[FilePayload] = [
        {"name": name, "mimeType": "application/octet-stream", "buffer": data}
        for name, data in files]
    await (await chooser.value).set_files(payloads)


DROP_FILE = """
async ({name, bytes, phase}) => {
  // What the browser does when a person drags a file from the desktop onto the chat.
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name, { type: 'text/plain' }));
  const target = document.querySelector('#chat-messages');
  const types = phase === 'hover' ? ['dragenter', 'dragover'] : ['drop'];
  for (const type of types) {
    target.dispatchEvent(
      new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
  }
}
"""


async def test_files_go_both_ways_verified_and_interleaved_with_chat(
        server_factory: Callable[..., ServerProcess], python_user: PythonUser,
        web_user: WebUser) -> None:
    server = server_factory("--max-file-mb", "1")
    bob, bob_log = await python_user(server)
    assert bob.username is not None
    alice = await web_user(server)
    alice_name = await alice.register_new("alice_")
    room = f"Tài liệu {uuid.uuid4().hex[:4]}"
    await alice.create_room(room)
    async with asyncio.timeout(timeout(10)):
        await bob.join_room(room)
    await expect(alice.tile(bob.username)).to_be_visible()

    # The Send-file button: Bob hears file.shared and downloads exactly those bytes.
    report = os.urandom(300_000) + "Báo cáo".encode()
    await choose_files(alice, ("Báo cáo quý 3.pdf", report))
    shared = await bob_log.wait_for("file.shared")
    assert shared["room"] == room and shared["to"] is None
    info = shared["file"]
    assert info["name"] == "Báo cáo quý 3.pdf" and info["from"] == alice_name
    assert info["size"] == len(report) and info["sha256"] == hashlib.sha256(report).hexdigest()
    assert await python_download(server, bob, info["id"]) == report
    card = alice.file_card("Báo cáo quý 3.pdf")
    await expect(card).to_contain_text("293 KB")
    await expect(card).to_contain_text(f"{alice_name} (you)")

    # Drag and drop onto the chat panel: a drop zone says where the file goes.
    notes = "ghi chú kéo thả\n".encode() * 300
    await alice.page.evaluate(DROP_FILE, {"name": "kéo thả.txt", "bytes": list(notes),
                                          "phase": "hover"})
    await expect(alice.page.locator("#drop-zone")).to_have_text(
        f"Drop to send to everyone in {room}")
    await alice.page.evaluate(DROP_FILE, {"name": "kéo thả.txt", "bytes": list(notes),
                                          "phase": "drop"})
    await expect(alice.page.locator("#drop-zone")).to_be_hidden()
    dropped = await bob_log.wait_for("file.shared", lambda e: e["file"]["name"] == "kéo thả.txt")
    assert await python_download(server, bob, dropped["file"]["id"]) == notes
    await expect(alice.file_card("kéo thả.txt")).to_contain_text("5.9 KB")  # 6000 bytes

    # Over the server's limit (--max-file-mb 1): a clear error that names the limit.
    alice.expect_problem("status of 413")  # Chromium logs every refused request
    await choose_files(alice, ("phim.mp4", b"\0" * 1_200_000))
    await expect(alice.page.locator("#uploads .upload.error")).to_have_text(
        "“phim.mp4” is too large: files are limited to 1 MB.")
    await alice.page.locator("#uploads").get_by_role("button", name="Dismiss").click()
    await expect(alice.page.locator("#uploads .upload")).to_have_count(0)

    # Bob shares a file between two messages: the card sits between them, by time.
    async with asyncio.timeout(timeout(10)):
        await bob.send_chat("trước tệp")
    await expect(alice.message("trước tệp")).to_be_visible()
    minutes = os.urandom(50_000) + "Biên bản họp".encode()
    bob_file = await python_upload(server, bob, minutes, "Biên bản.bin", room=room)
    async with asyncio.timeout(timeout(10)):
        await bob.send_chat("sau tệp")
    await expect(alice.message("sau tệp")).to_be_visible()
    bob_card = alice.file_card("Biên bản.bin")
    await expect(bob_card).to_contain_text(bob.username)
    await expect(bob_card).to_contain_text("49 KB")
    timeline = await alice.timeline()
    assert timeline[-3:] == ["message:trước tệp", "file:Biên bản.bin", "message:sau tệp"]

    # Downloading in the page: progress, SHA-256 verified, saved with its name and bytes.
    async with alice.page.expect_download(timeout=ms(10)) as saving:
        await bob_card.get_by_role("button", name="Download Biên bản.bin").click()
    download = await saving.value
    assert download.suggested_filename == "Biên bản.bin"
    saved = await download.path()
    assert saved is not None and saved.read_bytes() == minutes
    await expect(bob_card.locator(".file-status")).to_have_text(
        "Verified: the SHA-256 matches. Saved to your downloads.")
    await alice.screenshot("browser-file-card.png", clear_toasts=True)

    # A file whose bytes do not match the announced SHA-256 is refused, not saved.
    await alice.page.evaluate(
        "(id) => { window.pymeet.app.chat.conversations.get('room').files.get(id).sha256 ="
        " '0'.repeat(64); }", bob_file["id"])
    await bob_card.get_by_role("button", name="Download Biên bản.bin").click()
    await expect(bob_card.locator(".file-status")).to_contain_text(
        "did not arrive intact: its SHA-256 does not match")

    # History: leaving and joining again shows the files from the join reply, in place.
    await alice.leave_room()
    await (await alice.room_card(room)).get_by_role("button", name=f"Join {room}").click()
    await alice.expect_in_room(room)
    await expect(alice.file_card("Biên bản.bin")).to_be_visible()
    after_rejoin = await alice.timeline()
    assert after_rejoin[-3:] == timeline[-3:]
    assert "file:Báo cáo quý 3.pdf" in after_rejoin and "file:kéo thả.txt" in after_rejoin

    # Direct files: the DM tab sends with ?to=, and dm.history brings them back.
    await alice.open_dm(bob.username)
    private = os.urandom(2048)
    await choose_files(alice, ("riêng tư.bin", private))
    direct = await bob_log.wait_for("file.shared", lambda e: e["to"] == bob.username)
    assert direct["room"] is None and direct["file"]["name"] == "riêng tư.bin"
    assert await python_download(server, bob, direct["file"]["id"]) == private
    await python_upload(server, bob, b"tra loi", "trả lời.txt", to=alice_name)
    await expect(alice.file_card("trả lời.txt")).to_be_visible()
    await alice.page.get_by_role(
        "button", name=f"Close the conversation with {bob.username}").click()
    await alice.open_dm(bob.username)
    await expect(alice.file_card("trả lời.txt")).to_be_visible()  # from dm.history
    assert await alice.timeline() == ["file:riêng tư.bin", "file:trả lời.txt"]


async def test_raised_hands_and_moderation_both_ways(
        server_factory: Callable[..., ServerProcess], python_user: PythonUser,
        web_user: WebUser) -> None:
    server = server_factory()
    bob, bob_log = await python_user(server)
    carol, carol_log = await python_user(server)
    assert bob.username is not None and carol.username is not None
    alice = await web_user(server)
    alice_name = await alice.register_new("alice_")
    room = "Họp tổ"
    await alice.create_room(room)
    async with asyncio.timeout(timeout(10)):
        await bob.join_room(room)
        await carol.join_room(room)
    await expect(alice.page.locator("#video-grid")).to_have_attribute("data-count", "3")

    # Raised hands come first in the list, in the order they were raised.
    async with asyncio.timeout(timeout(10)):
        await carol.raise_hand(True)
        await bob.raise_hand(True)
    await expect(alice.tile(bob.username)).to_have_attribute("data-hand", "up")
    await expect(alice.tile(carol.username).get_by_role("img", name="hand raised")).to_be_visible()
    await expect(alice.tile(alice_name)).to_have_attribute("data-hand", "down")
    assert await alice.participants() == [carol.username, bob.username, alice_name]
    await expect(alice.page.locator("#participants-list > li").first).to_contain_text(
        "Hand raised first")

    await alice.page.get_by_role("button", name="Raise hand").click()
    await expect(alice.page.get_by_role("button", name="Lower hand")).to_be_visible()
    await bob_log.wait_for("hand.update", lambda e: e["username"] == alice_name and e["up"])
    await expect(alice.tile(alice_name)).to_have_attribute("data-hand", "up")
    await expect(alice.person(bob.username)).to_contain_text(f"in {room}")
    await alice.screenshot("browser-raised-hand.png", clear_toasts=True)
    async with asyncio.timeout(timeout(10)):
        await bob.raise_hand(False)
    await expect(alice.tile(bob.username)).to_have_attribute("data-hand", "down")
    assert await alice.participants() == [carol.username, alice_name, bob.username]

    # The owner mutes one person, then everyone whose microphone is on.
    async with asyncio.timeout(timeout(10)):
        await bob.update_media(True, False)
    mute_bob = alice.page.get_by_role("button", name=f"Mute {bob.username}")
    await expect(mute_bob).to_be_enabled()
    await mute_bob.click()
    muted = await bob_log.wait_for("media.muted")
    assert muted == {"type": "media.muted", "room": room, "by": alice_name}
    assert bob.mic is False
    await expect(mute_bob).to_be_disabled()

    bob_log.events.clear()
    async with asyncio.timeout(timeout(10)):
        await bob.update_media(True, False)
        await carol.update_media(True, False)
    await expect(mute_bob).to_be_enabled()
    await alice.page.get_by_role("button", name="Mute all").click()
    await bob_log.wait_for("media.muted")
    await carol_log.wait_for("media.muted", lambda e: e["by"] == alice_name)
    await expect(alice.tile(carol.username)).to_have_attribute("data-mic", "off")

    # Removing someone: they are back in the lobby, gone from the room here.
    await alice.page.get_by_role("button", name=f"Remove {carol.username}").click()
    kicked = await carol_log.wait_for("room.kicked")
    assert kicked == {"type": "room.kicked", "room": room, "by": alice_name}
    assert carol.room is None
    await expect(alice.tile(carol.username)).to_have_count(0)
    assert carol.username not in await alice.participants()

    # The other way round: in Bob's room, Alice has no moderation buttons, and Bob
    # mutes and then removes her.
    await alice.leave_room()
    bobs_room = "Phòng của Bob"
    async with asyncio.timeout(timeout(10)):
        await bob.create_room(bobs_room)
        await bob.join_room(bobs_room)
        await bob.raise_hand(True)
    await (await alice.room_card(bobs_room)).get_by_role(
        "button", name=f"Join {bobs_room}").click()
    await alice.expect_in_room(bobs_room)
    # A hand raised before Alice came in: from the join reply's `hands`.
    await expect(alice.tile(bob.username)).to_have_attribute("data-hand", "up")
    assert await alice.participants() == [bob.username, alice_name]
    await expect(alice.page.get_by_role("button", name=f"Remove {bob.username}")).to_have_count(0)
    await expect(alice.page.get_by_role("button", name="Mute all")).to_be_hidden()
    await alice.turn_on("Microphone")
    await eventually(lambda: bob.members.get(alice_name, {}).get("mic") is True, 10,
                     "Alice's microphone on")

    async with asyncio.timeout(timeout(10)):
        await bob.mute(alice_name)
    await expect(alice.page.locator("#toasts")).to_contain_text(
        f"{bob.username} muted you. You can turn your microphone on again.")
    await expect(alice.page.get_by_role("button", name="Microphone off")).to_be_visible()
    await expect(alice.tile(alice_name)).to_have_attribute("data-mic", "off")
    await alice.turn_on("Microphone")  # allowed after being muted
    await eventually(lambda: bob.members.get(alice_name, {}).get("mic") is True, 10,
                     "Alice's microphone on again")

    async with asyncio.timeout(timeout(10)):
        await bob.kick(alice_name)
    await alice.expect_lobby()
    await expect(alice.page.locator("#lobby-notice")).to_contain_text(
        f"{bob.username} removed you from the room “{bobs_room}”.")
    await alice.page.get_by_role("button", name="Dismiss the notice").click()
    await expect(alice.page.locator("#lobby-notice")).to_be_hidden()


REFUSE_SCREEN = """
() => {
  window.realGetDisplayMedia = navigator.mediaDevices.getDisplayMedia;
  navigator.mediaDevices.getDisplayMedia = () =>
    Promise.reject(new DOMException('Permission denied by user', 'NotAllowedError'));
}
"""


async def test_screen_sharing_from_the_browser_and_from_python(
        server_factory: Callable[..., ServerProcess], python_user: PythonUser,
        web_user: WebUser) -> None:
    server = server_factory()
    bob, bob_log = await python_user(server)
    assert bob.username is not None
    alice = await web_user(server)
    alice_name = await alice.register_new("alice_")
    room = "Trình chiếu"
    await alice.create_room(room)
    async with asyncio.timeout(timeout(10)):
        await bob.join_room(room)

    frames: list[tuple[str | None, np.ndarray[Any, Any]]] = []
    engine = MediaEngine(bob, video_source=SyntheticCamera(7), screen_source=SyntheticScreen(9),
                         video_preset="low",
                         on_frame=lambda user, _ssrc, image, _fid: frames.append((user, image)))
    async with asyncio.timeout(timeout(10)):
        await engine.start()
    try:
        await alice.turn_on("Camera")
        await eventually(lambda: frames and frames[-1][1].shape == (240, 320, 3), 15,
                         "camera frames from the browser")

        # A refused prompt: nothing changes, and the page says why.
        await alice.page.evaluate(REFUSE_SCREEN)
        await alice.page.get_by_role("button", name="Share screen").click()
        await expect(alice.page.locator("#screen-note")).to_contain_text("cancelled or refused")
        await expect(alice.page.get_by_role("button", name="Camera on")).to_be_visible()
        await alice.page.evaluate(
            "() => { navigator.mediaDevices.getDisplayMedia = window.realGetDisplayMedia; }")

        # Sharing: the screen replaces the camera, at the screen preset, marked screen: true.
        await alice.page.get_by_role("button", name="Share screen").click()
        await expect(alice.page.get_by_role("button", name="Stop sharing")).to_be_visible()
        await expect(alice.page.locator("#screen-note")).to_be_hidden()
        await expect(alice.page.get_by_role("button", name="Camera paused")).to_be_disabled()
        update = await bob_log.wait_for(
            "room.member_updated", lambda e: e["member"]["username"] == alice_name
            and e["member"]["screen"])
        assert update["member"]["cam"] is True
        await eventually(lambda: frames[-1][1].shape == (720, 1280, 3), 15,
                         "1280×720 screen frames from the browser")
        assert frames[-1][0] == alice_name
        await expect(alice.tile(alice_name)).to_have_attribute("data-presenting", "yes")

        # The browser's own "Stop sharing" ends the track: back to the camera.
        bob_log.events.clear()
        await alice.page.evaluate(
            "() => window.pymeet.media.screenStream.getVideoTracks()[0]"
            ".dispatchEvent(new Event('ended'))")
        stopped = await bob_log.wait_for(
            "room.member_updated", lambda e: e["member"]["username"] == alice_name)
        assert stopped["member"]["screen"] is False and stopped["member"]["cam"] is True
        await eventually(lambda: frames[-1][1].shape == (240, 320, 3), 15,
                         "camera frames again after sharing stopped")
        await expect(alice.page.get_by_role("button", name="Camera on")).to_be_visible()
        await expect(alice.tile(alice_name)).to_have_attribute("data-presenting", "no")

        # The button stops it too.
        await alice.page.get_by_role("button", name="Share screen").click()
        await bob_log.wait_for("room.member_updated", lambda e: e["member"]["screen"])
        bob_log.events.clear()
        await alice.page.get_by_role("button", name="Stop sharing").click()
        stopped = await bob_log.wait_for("room.member_updated")
        assert stopped["member"]["screen"] is False and stopped["member"]["cam"] is True

        # Python shares a synthetic screen: the browser shows it large, as presenting.
        async with asyncio.timeout(timeout(10)):
            assert await engine.set_screen(True), engine.problems
        tile = alice.tile(bob.username)
        await expect(tile).to_have_attribute("data-presenting", "yes")
        await expect(tile.locator(".tile-badge")).to_have_text("Presenting")
        grid = alice.page.locator("#video-grid")
        await expect(grid).to_have_attribute("data-layout", "spotlight")
        await expect(tile).to_have_class(re.compile(r"\bhas-video\b"), timeout=ms(15))
        await expect(tile.locator("canvas")).to_have_attribute("width", "1280")
        big = await tile.bounding_box()
        small = await alice.tile(alice_name).bounding_box()
        assert big is not None and small is not None
        assert big["width"] > 1.5 * small["width"]
        marker = read_marker(await alice.tile_image(bob.username))
        assert marker is not None and marker[1] == 9  # the screen's marker, not the camera's
        await alice.screenshot("browser-presenting.png", clear_toasts=True)

        async with asyncio.timeout(timeout(10)):
            assert await engine.set_screen(False) is False
        await expect(tile).to_have_attribute("data-presenting", "no")
        await expect(grid).to_have_attribute("data-layout", "grid")
    finally:
        async with asyncio.timeout(timeout(10)):
            await engine.stop()
