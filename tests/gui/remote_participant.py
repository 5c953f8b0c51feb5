"""A second participant for the GUI tests, in its own process.

It is a `MeetingClient` with a `MediaEngine` sending a synthetic camera and a tone,
driven by JSON lines on stdin and reporting JSON lines on stdout::

    python -m tests.gui.remote_participant --server 127.0.0.1:7400 --user bob \
        --known-servers /tmp/pins.json

Commands: ``{"cmd": "join", "room": NAME, "password": P, "create": true}``,
``{"cmd": "chat", "text": T}``, ``{"cmd": "dm", "to": U, "text": T}``,
``{"cmd": "invite", "to": U}``, ``{"cmd": "hand", "up": true}``,
``{"cmd": "share", "room": R, "name": N, "text": T}`` (a file over HTTP; ``"base64"``
instead of ``"text"`` for binary contents),
``{"cmd": "download", "file": FileInfo, "dest": DIR}`` (with `download_file`, which
checks the SHA-256; the result carries the bytes' SHA-256 and size),
``{"cmd": "screen", "on": true}`` (share a `SyntheticScreen` instead of the camera),
``{"cmd": "mic", "on": true}``, ``{"cmd": "save_frame", "from": U, "path": P}`` (the
newest frame received from ``U``, as an image file),
``{"cmd": "mute", "username": U}``, ``{"cmd": "kick", "username": U}``,
``{"cmd": "leave"}``, ``{"cmd": "quit"}``. Each is answered by
``{"event": "ok", "cmd": ..., "result": ...}`` or
``{"event": "error", "cmd": ..., "code": ..., "message": ...}``.

Reports: ``{"event": "ready"}`` after login; every server event as
``{"event": "server", "data": {...}}``; and, at most five times a second per sender,
``{"event": "frame", "from": NAME, "marker": [frame_number, sender_id] | null,
"frames": N, "size": [width, height]}`` for the video it receives.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import sys
import time
import urllib.parse
import urllib.request
from typing import Any

import numpy as np

from pymeet.client.errors import ClientError
from pymeet.client.files import download_file
from pymeet.client.known_servers import KnownServers
from pymeet.client.media import (
    MediaEngine,
    SyntheticCamera,
    SyntheticScreen,
    ToneSource,
    read_marker,
)
from pymeet.client.meeting_client import MeetingClient
from pymeet.protocol.errors import RequestError

PASSWORD = "remote-password-1"
REPORT_INTERVAL = 0.2


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


class Remote:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client: MeetingClient | None = None
        self.engine: MediaEngine | None = None
        self._frames: dict[str, int] = {}
        self._last_report: dict[str, float] = {}
        self._last_image: dict[str, np.ndarray[Any, Any]] = {}

    async def run(self) -> None:
        host, _, port = self.args.server.rpartition(":")
        self.client = client = await MeetingClient.connect(
            host, int(port), known_servers=KnownServers(self.args.known_servers),
            on_new_server=lambda _hp, _fp: True, client_name="pymeet-test-remote/0.1")
        with contextlib.suppress(RequestError):
            await client.register(self.args.user, f"{self.args.user}@example.org", PASSWORD)
        await client.login(self.args.user, PASSWORD)
        client.on("*", lambda event: emit({"event": "server", "data": event}))
        emit({"event": "ready", "username": client.username})
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            command = json.loads(line)
            if command.get("cmd") == "quit":
                break
            try:
                result = await self.handle(command)
            except (RequestError, ClientError) as exc:
                emit({"event": "error", "cmd": command.get("cmd"),
                      "code": getattr(exc, "raw_code", type(exc).__name__),
                      "message": str(exc)})
            else:
                emit({"event": "ok", "cmd": command.get("cmd"), "result": result})
        await self.stop()

    async def handle(self, command: dict[str, Any]) -> Any:
        client = self.client
        assert client is not None
        kind = command["cmd"]
        if kind == "join":
            if command.get("create"):
                with contextlib.suppress(RequestError):
                    await client.create_room(command["room"], command.get("password"))
            await self.stop_media()
            result = await client.join_room(command["room"], command.get("password"))
            self.engine = engine = MediaEngine(
                client, video_source=SyntheticCamera(self.args.sender_id),
                screen_source=SyntheticScreen(self.args.sender_id),
                audio_source=ToneSource(330.0, 0.3), on_frame=self.on_frame,
                video_preset="low")
            await engine.start()
            await engine.set_cam(True)
            await engine.set_mic(True)
            return {"room": result.name, "members": sorted(client.members)}
        if kind == "chat":
            return await client.send_chat(command["text"])
        if kind == "dm":
            return await client.send_dm(command["to"], command["text"])
        if kind == "invite":
            await client.invite(command["to"])
            return None
        if kind == "hand":
            return await client.raise_hand(bool(command.get("up", True)))
        if kind == "screen":
            assert self.engine is not None
            return await self.engine.set_screen(bool(command.get("on", True)))
        if kind == "download":
            path = await download_file(client, command["file"], command["dest"])
            data = await asyncio.to_thread(path.read_bytes)
            return {"path": str(path), "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()}
        if kind == "mute":
            await client.mute(command["username"])
            return None
        if kind == "kick":
            await client.kick(command["username"])
            return None
        if kind == "share":
            data = (base64.b64decode(command["base64"]) if "base64" in command
                    else command["text"].encode())
            return await asyncio.to_thread(self.share, command["room"], command["name"], data)
        if kind == "mic":
            assert self.engine is not None
            return await self.engine.set_mic(bool(command.get("on", True)))
        if kind == "save_frame":
            import cv2

            image = self._last_image[command["from"]]
            return bool(await asyncio.to_thread(cv2.imwrite, command["path"], image))
        if kind == "leave":
            await self.stop_media()
            await client.leave_room()
            return None
        raise ValueError(f"unknown command {kind!r}")

    def share(self, room: str, name: str, data: bytes) -> Any:
        """Upload a file to ``room`` over HTTP (PROTOCOL.md §3.4)."""
        assert self.client is not None and self.client.session_token is not None
        url = (f"http://127.0.0.1:{self.args.web_port}/files?"
               + urllib.parse.urlencode({"room": room}))
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Authorization": f"Bearer {self.client.session_token}",
            "X-Filename": urllib.parse.quote(name)})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def on_frame(self, username: str | None, ssrc: int, image: np.ndarray[Any, Any],
                 frame_id: int) -> None:
        name = username or f"ssrc {ssrc}"
        self._frames[name] = self._frames.get(name, 0) + 1
        self._last_image[name] = image
        now = time.monotonic()
        if now - self._last_report.get(name, 0.0) < REPORT_INTERVAL:
            return
        self._last_report[name] = now
        marker = read_marker(image)
        emit({"event": "frame", "from": name, "frames": self._frames[name],
              "marker": list(marker) if marker is not None else None,
              "size": [int(image.shape[1]), int(image.shape[0])]})

    async def stop_media(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.stop()

    async def stop(self) -> None:
        await self.stop_media()
        if self.client is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3):
                    await self.client.logout()
            await self.client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--known-servers", required=True)
    parser.add_argument("--sender-id", type=int, default=4242)
    parser.add_argument("--web-port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(Remote(args).run())


if __name__ == "__main__":
    main()
