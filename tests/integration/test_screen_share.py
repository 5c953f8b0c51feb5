"""Screen sharing end to end: a shared screen is ordinary video (§4.2 kind 4) from
another source at another preset, marked `screen` in the member's state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from pymeet.client import MeetingClient
from pymeet.client.media import (
    PRESETS,
    MediaEngine,
    SyntheticCamera,
    SyntheticScreen,
    read_marker,
)
from tests.support.server_process import ServerProcess
from tests.support.timeouts import timeout

PASSWORD = "correct horse battery"


async def logged_in(server: ServerProcess, name: str, known: str) -> MeetingClient:
    client = await MeetingClient.connect(server.host, server.port, fingerprint=server.fingerprint,
                                         known_servers=known)
    await client.register(name, f"{name}@example.org", PASSWORD)
    await client.login(name, PASSWORD)
    return client


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout(15)
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_screen_share_reuses_the_video_path(server: ServerProcess, tmp_path: Any) -> None:
    known = str(tmp_path / "known.json")
    presenter_name, viewer_name = f"pres{uuid.uuid4().hex[:6]}", f"view{uuid.uuid4().hex[:6]}"
    presenter = await logged_in(server, presenter_name, known)
    viewer = await logged_in(server, viewer_name, known)
    room = f"Demo {uuid.uuid4().hex[:6]}"
    await presenter.create_room(room)
    await presenter.join_room(room)
    await viewer.join_room(room)

    frames: list[tuple[int, int, tuple[int, int] | None]] = []  # (width, height, marker)
    updates: list[dict[str, Any]] = []
    viewer.on("room.member_updated", lambda event: updates.append(event["member"]))

    def on_frame(username: str | None, ssrc: int, image: Any, frame_id: int) -> None:
        if username == presenter_name:
            frames.append((image.shape[1], image.shape[0], read_marker(image)))

    sharing = MediaEngine(presenter, video_source=SyntheticCamera(7, 320, 240),
                          screen_source=SyntheticScreen(7), video_preset="low")
    watching = MediaEngine(viewer, on_frame=on_frame)
    await sharing.start()
    await watching.start()
    try:
        assert await sharing.set_cam(True)
        await wait_until(lambda: any(w == 320 for w, _, _ in frames), "camera frames")
        assert await sharing.set_screen(True)
        await wait_until(lambda: any(u.get("screen") for u in updates), "screen: true")
        screen = PRESETS["screen"]
        await wait_until(lambda: sum(w == screen.width for w, _, _ in frames) >= 3,
                         "screen frames")
        shared = [(w, h, m) for w, h, m in frames if w == screen.width]
        assert all(h == screen.height and m is not None and m[1] == 7 for w, h, m in shared)
        numbers = [m[0] for _, _, m in shared if m is not None]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        assert viewer.members[presenter_name]["screen"] is True
        assert sharing.cam and sharing.screen  # the screen is sent as video

        # Stopping goes back to the camera, on the same stream.
        count = len(frames)
        assert not await sharing.set_screen(False)
        await wait_until(lambda: any(w == 320 for w, _, _ in frames[count:]), "camera again")
        await wait_until(lambda: updates[-1].get("screen") is False, "screen: false")
        assert sharing.cam and not sharing.screen
        print(f"screen share: {len(shared)} frames at {screen.width}x{screen.height}, "
              f"{len(frames) - len(shared)} camera frames, one video stream")
    finally:
        await sharing.stop()
        await watching.stop()
        await presenter.close()
        await viewer.close()


async def test_sharing_without_a_screen_source_is_explained(server: ServerProcess,
                                                            tmp_path: Any) -> None:
    client = await logged_in(server, f"nos{uuid.uuid4().hex[:6]}", str(tmp_path / "k.json"))
    engine = MediaEngine(client)
    await engine.start()
    try:
        assert await engine.set_screen(True) is False
        assert "screen" in engine.problems and not engine.cam
    finally:
        await engine.stop()
        await client.close()
