"""The browser client end to end: Chromium (fake camera and microphone) and a Python
`MeetingClient` meet through a real server, its WebSocket gateway and its UDP relay.

What is checked is what the two people would notice: names, rooms, messages and
prompts on the page; frames and sound on each side. Screenshots go to
artifacts/screenshots/ (the path is printed).
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from playwright.async_api import expect

from pymeet.client.media import MediaEngine, RecordingSink, SyntheticCamera, ToneSource, read_marker
from tests.support.browser import PASSWORD, PythonUser, WebUser, eventually, ms
from tests.support.secrets_registry import record_password
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout

ROOM_PASSWORD = "mật khẩu đúng"
WRONG_ROOM_PASSWORD = "sai rồi"
# The end-of-run check (tests/conftest.py) makes sure no server logged these.
for _secret in (ROOM_PASSWORD, WRONG_ROOM_PASSWORD):
    record_password(_secret)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_chat_and_direct_messages_go_both_ways(
        server_factory: Callable[..., ServerProcess], python_user: PythonUser,
        web_user: WebUser) -> None:
    server = server_factory()
    bob, bob_log = await python_user(server)
    assert bob.username is not None
    alice = await web_user(server)

    # The sign-up form checks the rules of §3.5 before asking the server.
    await alice.page.get_by_role("tab", name="Create account").click()
    form = alice.page.locator("#register-form")
    await form.get_by_label("Username", exact=True).fill("x")
    await form.get_by_label("Email").fill("not-an-email")
    await form.get_by_label("Password", exact=True).fill("short")
    await form.get_by_role("button", name="Create account").click()
    await expect(alice.page.locator("#register-username-error")).to_contain_text("3 to 32")
    await expect(alice.page.locator("#register-email-error")).to_contain_text("email address")
    await expect(alice.page.locator("#register-password-error")).to_contain_text("8 to 128")

    alice_name = await alice.register_new("alice_")
    room = f"Phòng họp {uuid.uuid4().hex[:4]}"
    await alice.create_room(room)

    # The Python user sees the room in the lobby, joins, and appears on the page.
    async with asyncio.timeout(timeout(10)):
        await bob.join_room(room)
    await expect(alice.tile(bob.username)).to_be_visible()
    await expect(alice.page.locator("#participants-list")).to_contain_text(bob.username)
    await expect(alice.page.locator("#video-grid")).to_have_attribute("data-count", "2")

    # Room chat, both ways, Vietnamese intact.
    await bob.send_chat("Xin chào từ Python! Tiếng Việt có dấu: ạ ả ã ặ ẫ")
    await expect(alice.message("Xin chào từ Python! Tiếng Việt có dấu: ạ ả ã ặ ẫ")).to_be_visible()
    await alice.send_chat("Chào bạn, mình dùng trình duyệt 🙂")
    event = await bob_log.wait_for("chat.message")
    assert event["message"]["text"] == "Chào bạn, mình dùng trình duyệt 🙂"
    assert event["message"]["from"] == alice_name

    # Direct messages, both ways: the browser opens a DM tab from the people list.
    await alice.open_dm(bob.username)
    await alice.send_chat("Riêng tư: hẹn 3 giờ nhé?")
    dm = await bob_log.wait_for("dm.message")
    assert dm["message"]["text"] == "Riêng tư: hẹn 3 giờ nhé?"
    assert dm["message"]["to"] == bob.username
    await bob.send_dm(alice_name, "Được, 3 giờ.")
    await expect(alice.message("Được, 3 giờ.")).to_be_visible()

    # A DM arriving while another tab is open shows an unread badge.
    await alice.chat_tab(room).click()
    await bob.send_dm(alice_name, "Nhớ mang tài liệu.")
    await expect(alice.chat_tab(bob.username).locator(".badge")).to_have_text("1")
    await alice.chat_tab(bob.username).click()
    await expect(alice.message("Nhớ mang tài liệu.")).to_be_visible()
    await expect(alice.chat_tab(bob.username).locator(".badge")).to_have_count(0)

    # Bob leaves: his tile goes, the grid re-lays for one.
    async with asyncio.timeout(timeout(10)):
        await bob.leave_room()
    await expect(alice.tile(bob.username)).to_have_count(0)
    await expect(alice.page.locator("#video-grid")).to_have_attribute("data-count", "1")

    # Bob goes offline: he leaves the people list (presence).
    await expect(alice.person(bob.username)).to_be_visible()
    await bob.close()
    await expect(alice.person(bob.username)).to_have_count(0)


async def test_invitation_from_python_prompts_and_join_enters_the_room(
        server_factory: Callable[..., ServerProcess], python_user: PythonUser,
        web_user: WebUser) -> None:
    server = server_factory()
    bob, bob_log = await python_user(server)
    assert bob.username is not None
    alice = await web_user(server)
    alice_name = await alice.register_new("alice_")

    # A locked room: the invitation is what lets Alice in without its password.
    room = "Bàn tròn"
    async with asyncio.timeout(timeout(10)):
        await bob.create_room(room, ROOM_PASSWORD)
        await bob.join_room(room, ROOM_PASSWORD)
    card = await alice.room_card(room)
    await expect(card.locator(".room-members")).to_have_text("1 person")
    await expect(card.get_by_role("img", name="locked with a password")).to_be_visible()
    await expect(alice.person(bob.username)).to_contain_text(f"in {room}")

    async with asyncio.timeout(timeout(10)):
        await bob.invite(alice_name)
    prompt = alice.page.get_by_role("dialog", name="You are invited")
    await expect(prompt).to_be_visible()
    await expect(prompt).to_contain_text(f"{bob.username} invites you to join “{room}”")
    await prompt.get_by_role("button", name="Join").click()

    answer = await bob_log.wait_for("call.answer")
    assert answer == {"type": "call.answer", "from": alice_name, "accept": True}
    await alice.expect_in_room(room)
    await expect(alice.tile(bob.username)).to_be_visible()
    await bob_log.wait_for("room.member_joined", lambda e: e["member"]["username"] == alice_name)

    # Declining answers accept=false and leaves Alice where she is.
    async with asyncio.timeout(timeout(10)):
        await bob.leave_room()
        await bob.create_room("Phòng chờ")
        await bob.join_room("Phòng chờ")
        await bob.invite(alice_name)
    await expect(prompt).to_be_visible()
    await prompt.get_by_role("button", name="Decline").click()
    await bob_log.wait_for("call.answer", lambda e: e["accept"] is False)
    await alice.expect_in_room(room)


async def test_media_flows_between_the_browser_and_a_python_client(
        server_factory: Callable[..., ServerProcess], python_user: PythonUser,
        web_user: WebUser) -> None:
    server = server_factory()
    bob, _ = await python_user(server)
    assert bob.username is not None
    alice = await web_user(server)
    alice_name = await alice.register_new("alice_")
    room = "Media"
    await alice.create_room(room)
    async with asyncio.timeout(timeout(10)):
        await bob.join_room(room)

    frames: list[tuple[str | None, np.ndarray[Any, Any]]] = []
    recording = RecordingSink(max_seconds=30)
    engine = MediaEngine(bob, video_source=SyntheticCamera(7), audio_source=ToneSource(440),
                         speaker=recording, video_preset="low",
                         on_frame=lambda user, _ssrc, image, _fid: frames.append((user, image)))
    await engine.start()
    try:
        assert await engine.set_cam(True), engine.problems
        assert await engine.set_mic(True), engine.problems
        await alice.turn_on("Camera")
        await alice.turn_on("Microphone")

        # Python receives the browser's JPEGs (decoded by OpenCV) and its microphone.
        await eventually(lambda: len(frames) >= 5, 15, "video frames from the browser")
        sender, image = frames[-1]
        assert sender == alice_name
        assert image.shape == (240, 320, 3)
        assert float(image.std()) > 5  # a picture, not a flat fill

        def heard() -> bool:
            samples = recording.samples(seconds=2).astype(np.float64)
            return samples.size > 0 and float(np.sqrt(np.mean(samples ** 2))) > 100

        await eventually(heard, 15, "sound from the browser's microphone")
        # Chromium's fake microphone beeps at about 400 Hz: resampled right, the pitch holds.
        beeps = recording.samples(seconds=2).astype(np.float64)
        spectrum = np.abs(np.fft.rfft(beeps * np.hanning(beeps.size)))
        pitch = float(np.argmax(spectrum)) * 16000 / beeps.size
        print(f"pitch of the browser's microphone as heard by Python: {pitch:.0f} Hz")
        assert 300 < pitch < 500, pitch

        # The browser shows the Python camera: pixels change and carry the frame number.
        bob_name = bob.username
        tile = alice.tile(bob_name)
        await expect(tile).to_have_class(re.compile(r"\bhas-video\b"),
                                         timeout=ms(15))
        first = await alice.tile_image(bob_name)
        marker = read_marker(first)
        assert marker is not None, "the tile does not show a readable synthetic frame"
        first_number, sender_id = marker
        assert sender_id == 7

        async def later_frame() -> bool:
            image = await alice.tile_image(bob_name)
            found = read_marker(image)
            return (found is not None and found[0] > first_number
                    and float(np.abs(image.astype(int) - first.astype(int)).mean()) > 1)

        async with asyncio.timeout(timeout(10)):
            while not await later_frame():  # noqa: ASYNC110 - polling what the page shows
                await asyncio.sleep(0.1)

        # ... and plays its sound: the speaking ring lights up on Bob's tile.
        await expect(tile).to_have_attribute("data-speaking", "yes", timeout=ms(10))
        stats = await alice.media_stats()
        assert stats["audioReceived"] > 0 and stats["videoDecoded"] > 0
        assert stats["audioSent"] > 0 and stats["videoSent"] > 0

        await alice.screenshot("browser-room.png")

        # Video settings: a smaller picture is what Python receives next.
        await alice.page.get_by_role("button", name="Video settings").click()
        settings = alice.page.get_by_role("dialog", name="Video settings")
        await settings.get_by_label("Picture size").select_option("160x120")
        await settings.get_by_role("button", name="Done").click()
        await eventually(lambda: frames[-1][1].shape == (120, 160, 3), 10, "smaller frames")

        # A muted microphone sends nothing.
        await alice.page.get_by_role("button", name="Microphone on").click()
        await expect(alice.page.get_by_role("button", name="Microphone off")).to_be_visible()
        await expect(tile).to_have_attribute("data-mic", "on")
        await expect(alice.tile(alice_name)).to_have_attribute("data-mic", "off")
        muted_at = (await alice.media_stats())["audioSent"]
        await alice.page.wait_for_timeout(500)  # 25 frames would have gone out meanwhile
        assert (await alice.media_stats())["audioSent"] == muted_at
    finally:
        async with asyncio.timeout(timeout(10)):
            await engine.stop()


REFUSE_DEVICES = """
(() => {
  const refuse = (name, text) => Promise.reject(new DOMException(text, name));
  navigator.mediaDevices.getUserMedia = (constraints) =>
    constraints && constraints.video ? refuse("NotAllowedError", "Permission denied")
                                     : refuse("NotFoundError", "Requested device not found");
})();
"""


async def test_without_camera_or_microphone_everything_else_works(
        server_factory: Callable[..., ServerProcess], python_user: PythonUser,
        web_user: WebUser) -> None:
    server = server_factory()
    bob, bob_log = await python_user(server)
    assert bob.username is not None
    alice = await web_user(server, init_script=REFUSE_DEVICES)
    alice_name = await alice.register_new("alice_")
    await alice.create_room("Không thiết bị")

    mic = alice.page.get_by_role("button", name="No microphone")
    cam = alice.page.get_by_role("button", name="No camera")
    await expect(mic).to_be_disabled()
    await expect(cam).to_be_disabled()
    await expect(mic).to_have_attribute("title", re.compile("No microphone was found"))
    await expect(cam).to_have_attribute("title", re.compile("refused"))
    await expect(alice.page.locator("#device-note")).to_contain_text("You can still chat")

    # Own tile shows initials instead of video.
    await expect(alice.tile(alice_name).locator(".tile-avatar")).to_be_visible()
    await alice.leave_room()

    # Joining a locked room asks for its password, and says when it is wrong.
    async with asyncio.timeout(timeout(10)):
        await bob.create_room("Có khóa", ROOM_PASSWORD)
        await bob.join_room("Có khóa", ROOM_PASSWORD)
    card = await alice.room_card("Có khóa")
    await card.get_by_role("button", name="Join Có khóa").click()
    ask = alice.page.get_by_role("dialog", name="This room is locked")
    await ask.get_by_label("Room password").fill(WRONG_ROOM_PASSWORD)
    await ask.get_by_role("button", name="Join room").click()
    await expect(ask.locator("#room-password-error")).to_contain_text("not right")
    await ask.get_by_label("Room password").fill(ROOM_PASSWORD)
    await ask.get_by_role("button", name="Join room").click()
    await alice.expect_in_room("Có khóa")
    await expect(alice.tile(bob.username)).to_be_visible()

    await alice.send_chat("Mình không có micro, nhắn tin nhé")
    event = await bob_log.wait_for("chat.message")
    assert event["message"]["text"] == "Mình không có micro, nhắn tin nhé"
    await expect(mic).to_be_disabled()


async def test_reconnects_logs_in_again_and_rejoins_after_a_server_restart(
        server_factory: Callable[..., ServerProcess], web_user: WebUser) -> None:
    server = server_factory("--web-port", str(free_port()))
    alice = await web_user(server)
    alice_name = await alice.register_new("alice_")
    await alice.create_room("Bền bỉ")
    await alice.send_chat("trước khi khởi động lại")

    server.stop()
    await alice.expect_connection("Reconnecting…")
    await expect(alice.page.get_by_role("alert").filter(has_text="reconnecting")).to_be_visible()
    server.start()
    await alice.expect_connection("Connected", seconds=30)
    await alice.expect_in_room("Bền bỉ")
    await expect(alice.tile(alice_name)).to_be_visible()
    await expect(alice.message("trước khi khởi động lại")).to_have_count(1)
    await alice.send_chat("sau khi khởi động lại")
    await expect(alice.message("sau khi khởi động lại")).to_be_visible()

    # Sign out, then sign in again with the email address instead of the username.
    await alice.page.get_by_role("button", name="Sign out").click()
    await expect(alice.page.get_by_role("button", name="Sign in")).to_be_visible()
    await alice.expect_connection("Connected")
    await alice.login(f"{alice_name.upper()}@EXAMPLE.ORG", PASSWORD)
    assert alice.username == alice_name
