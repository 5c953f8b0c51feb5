"""The network side of the desktop client: coroutines that run on the network thread.

`NetSession` owns the `MeetingClient` and, while in a room, the `MediaEngine`. Both
are touched only from the network thread's loop: the controller calls these
coroutines through `NetworkThread.run`, and gets plain data back (dicts, lists and
small frozen dataclasses), never a live object to poke at from Tk.

What flows back to Tk besides replies:

- every client event, posted to the `UiQueue` in arrival order (``on_event``);
- a question when a server is seen for the first time (``ask_trust``), whose answer
  comes back through the loop;
- decoded video frames and audio levels, into `Mailbox`es keyed by the member's
  identity (`identity_key`), and the own preview and level under `SELF`;
- file transfer progress, which `pymeet.client.files` reports on this loop: the
  controller's callbacks only put it into a `Mailbox` (newest value per transfer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pymeet.client.errors import ClientError, ConnectionClosed
from pymeet.client.files import Progress, download_file, upload_file
from pymeet.client.known_servers import KnownServers
from pymeet.client.media import MediaEngine, probe_devices
from pymeet.client.media.devices import DeviceReport
from pymeet.client.meeting_client import JoinResult, MeetingClient
from pymeet.gui.bridge import Mailbox, UiQueue
from pymeet.gui.media_setup import SELF, build_media, probe_screen
from pymeet.gui.presenters.devices import MediaChoice
from pymeet.protocol.errors import RequestError
from pymeet.protocol.validation import identity_key

__all__ = ["JoinState", "LobbyState", "MediaState", "NetSession"]

logger = logging.getLogger(__name__)

CLIENT_NAME = "pymeet-desktop/0.1"
SHUTDOWN_STEP = 3.0
CAMERAS_PROBED = (0, 1, 2, 3)

Image = np.ndarray[Any, np.dtype[np.uint8]]
TrustAsker = Callable[[str, str, Callable[[bool], None]], None]
"""``ask_trust(host_port, fingerprint, answer)``, called on the Tk thread; ``answer``
may be called from the Tk thread with the person's decision."""


@dataclass(frozen=True)
class LobbyState:
    """The lobby as fetched: rooms and online users."""

    rooms: list[dict[str, Any]]
    users: list[dict[str, Any]]


@dataclass(frozen=True)
class JoinState:
    """Everything the room view needs on entry (a ``room.join`` reply and more)."""

    room: dict[str, Any]
    members: list[dict[str, Any]]
    history: list[dict[str, Any]]
    files: list[dict[str, Any]]
    hands: list[str] | None
    password: str | None = None


@dataclass(frozen=True)
class MediaState:
    """What the engine does now, and what it found broken."""

    mic: bool
    cam: bool
    problems: dict[str, str] = field(default_factory=dict)
    snapshot: dict[str, Any] | None = None
    screen: bool = False
    """The video sent is the shared screen (``cam`` is then true as well)."""


class NetSession:
    """One person's session with one server (see the module docstring)."""

    def __init__(self, ui: UiQueue, *, known_servers: KnownServers,
                 on_event: Callable[[dict[str, Any]], None], ask_trust: TrustAsker,
                 frames: Mailbox[str, Image], levels: Mailbox[str, tuple[float, bool]],
                 video_quality: str = "medium") -> None:
        self.ui = ui
        self.known_servers = known_servers
        self.on_event = on_event
        self.ask_trust = ask_trust
        self.frames = frames
        self.levels = levels
        self.video_quality = video_quality
        self.client: MeetingClient | None = None
        self.engine: MediaEngine | None = None
        self.report: DeviceReport | None = None
        self._trust_asked = False

    # -- devices -----------------------------------------------------------------------

    async def probe(self) -> DeviceReport:
        """What media hardware this machine has (in a worker thread; never raises)."""
        self.report = await asyncio.to_thread(probe_devices, cameras=CAMERAS_PROBED)
        return self.report

    async def probe_screen(self) -> str | None:
        """Why the screen cannot be shared here, or None (in a worker thread)."""
        return await asyncio.to_thread(probe_screen)

    # -- connecting and logging in -------------------------------------------------------

    async def connect(self, host: str, port: int) -> str:
        """Connect (or keep the connection to the same server); returns its fingerprint.

        A server seen for the first time is shown to the person (``ask_trust``). If the
        server gave up on us while they were reading (it waits 10 s for ``hello``),
        the now trusted server is connected to once more.
        """
        client = self.client
        if client is not None and not client.closed and (client.host, client.port) == (
                host, port) and client.connected:
            return client.fingerprint or ""
        await self._drop_client()
        self._trust_asked = False
        try:
            client = await self._open(host, port)
        except ConnectionClosed:
            if not self._trust_asked:
                raise
            logger.info("reconnecting to %s:%d after the trust question", host, port)
            client = await self._open(host, port)
        self.client = client
        client.on("*", self._forward_event)
        return client.fingerprint or ""

    async def _open(self, host: str, port: int) -> MeetingClient:
        return await MeetingClient.connect(
            host, port, known_servers=self.known_servers, on_new_server=self._ask,
            client_name=CLIENT_NAME)

    async def _ask(self, host_port: str, fingerprint: str) -> bool:
        self._trust_asked = True
        loop = asyncio.get_running_loop()
        decision: asyncio.Future[bool] = loop.create_future()

        def settle(trusted: bool) -> None:
            if not decision.done():
                decision.set_result(trusted)

        def answer(trusted: bool) -> None:  # called on the Tk thread
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, trusted)

        self.ui.post(self.ask_trust, host_port, fingerprint, answer)
        return await decision

    def _forward_event(self, event: dict[str, Any]) -> None:
        self.ui.post(self.on_event, event)

    def _client(self) -> MeetingClient:
        if self.client is None or self.client.closed:
            raise ConnectionClosed("not connected to a server")
        return self.client

    async def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        """Create the account, then log in with it."""
        await self._client().register(username, email, password)
        return await self._client().login(username, password)

    async def login(self, identifier: str, password: str) -> dict[str, Any]:
        """Log in by username or email; returns the User."""
        return await self._client().login(identifier, password)

    async def sign_in(self, host: str, port: int, identifier: str, password: str, *,
                      email: str | None = None) -> tuple[dict[str, Any], LobbyState]:
        """Connect, register first when ``email`` is given, log in, fetch the lobby."""
        await self.connect(host, port)
        if email is not None:
            user = await self.register(identifier, email, password)
        else:
            user = await self.login(identifier, password)
        return user, await self.lobby()

    async def lobby(self) -> LobbyState:
        """The room list and the online users."""
        client = self._client()
        rooms, users = await asyncio.gather(client.list_rooms(), client.list_users())
        return LobbyState(rooms, users)

    async def users(self) -> list[dict[str, Any]]:
        """The online users."""
        return await self._client().list_users()

    async def logout(self) -> None:
        """Leave the room, log out and close the connection (best effort)."""
        await self.stop_media()
        client, self.client = self.client, None
        if client is None:
            return
        if client.connected and client.username is not None:
            with contextlib.suppress(ClientError, RequestError, TimeoutError):
                async with asyncio.timeout(SHUTDOWN_STEP):
                    await client.logout()
        await client.close()

    async def _drop_client(self) -> None:
        await self.stop_media()
        client, self.client = self.client, None
        if client is not None:
            await client.close()

    async def shutdown(self) -> None:
        """Everything off, for closing the app."""
        with contextlib.suppress(Exception):
            await self.logout()

    # -- rooms ---------------------------------------------------------------------------

    async def create_room(self, name: str, password: str | None) -> dict[str, Any]:
        """Create a room (not joining it)."""
        return await self._client().create_room(name, password or None)

    async def join(self, name: str, password: str | None, choice: MediaChoice) -> JoinState:
        """Join ``name`` (leaving any other room) and start media for it."""
        client = self._client()
        await self.stop_media()
        result = await client.join_room(name, password)
        await self.start_media(choice)
        # The client's member list is current as of now: events that overtook this
        # reply were posted before it and are included here (bridge.py ordering).
        return self._join_state(client, result, password)

    @staticmethod
    def _join_state(client: MeetingClient, result: JoinResult,
                    password: str | None) -> JoinState:
        # An empty ``hands`` may come from a server that does not send it: then the
        # members' own ``hand`` flags decide (RoomPresenter.enter).
        return JoinState(room=dict(result.room), members=list(client.members.values()),
                         history=list(result.history), files=list(result.files),
                         hands=list(result.hands) or None, password=password)

    async def leave(self) -> None:
        """Stop media and leave the room."""
        await self.stop_media()
        client = self._client()
        if client.room is not None:
            with contextlib.suppress(RequestError):
                await client.leave_room()

    async def refresh_room(self, name: str, password: str | None,
                           choice: MediaChoice) -> JoinState:
        """After a reconnect: the room's state again (the client already rejoined, so
        this ``room.join`` is answered again without events, docs/PROTOCOL.md "Rooms")."""
        client = self._client()
        result = await client.join_room(name, password)
        if self.engine is None:
            await self.start_media(choice)
        return self._join_state(client, result, password)

    # -- chat ----------------------------------------------------------------------------

    async def send_chat(self, text: str) -> dict[str, Any]:
        """Send to the room; returns the stored message."""
        return await self._client().send_chat(text)

    async def send_dm(self, to: str, text: str) -> dict[str, Any]:
        """Send a direct message; returns the stored message."""
        return await self._client().send_dm(to, text)

    async def dm_history(self, with_user: str) -> tuple[list[dict[str, Any]],
                                                         list[dict[str, Any]]]:
        """(messages, files) of the conversation with ``with_user``."""
        fields: dict[str, Any] = {"with": with_user}
        reply = await self._client().request("dm.history", **fields)
        files = reply.get("files")
        return list(reply.get("messages") or []), list(files) if isinstance(files, list) else []

    async def invite(self, to: str) -> None:
        """Invite someone into the current room."""
        await self._client().invite(to)

    async def answer(self, to: str, accept: bool) -> None:
        """Answer an invitation."""
        await self._client().answer(to, accept)

    async def raise_hand(self, up: bool) -> list[str]:
        """Raise or lower the hand; returns the raised hands in raise order."""
        return await self._client().raise_hand(up)

    async def kick(self, username: str) -> None:
        """Remove ``username`` from the room this user owns."""
        await self._client().kick(username)

    async def mute(self, username: str) -> None:
        """Turn off the microphone of ``username`` in the room this user owns."""
        await self._client().mute(username)

    async def mute_all(self, usernames: list[str]) -> list[str]:
        """One ``room.mute`` per name; returns those that could not be muted (gone
        meanwhile, for instance)."""
        failed = []
        for username in usernames:
            try:
                await self._client().mute(username)
            except RequestError as exc:
                logger.info("could not mute %s: %s", username, exc)
                failed.append(username)
        return failed

    # -- files ---------------------------------------------------------------------------

    async def upload(self, path: str, *, room: str | None, to: str | None,
                     progress: Progress | None = None) -> dict[str, Any]:
        """Share the file at ``path`` with the room or one person; returns its FileInfo.
        ``progress`` runs on this loop."""
        return await upload_file(self._client(), path, room=room, to=to, progress=progress)

    async def download(self, info: Mapping[str, Any], folder: str,
                       progress: Progress | None = None) -> str:
        """Fetch a shared file into ``folder``, checked against its SHA-256; returns the
        path written. ``progress`` runs on this loop."""
        target = await asyncio.to_thread(_free_name, Path(folder), str(info.get("name", "")))
        path = await download_file(self._client(), dict(info), target, progress=progress)
        return str(path)

    # -- media ---------------------------------------------------------------------------

    async def start_media(self, choice: MediaChoice) -> None:
        """Start a media engine for the room (mic and camera stay off)."""
        client = self._client()
        if self.engine is not None:
            return
        have_speaker = bool(self.report and self.report.audio_outputs)
        media = build_media(choice, client.username or "", have_speaker=have_speaker,
                            frames=self.frames, levels=self.levels)
        engine = MediaEngine(client, video_source=media.video, screen_source=media.screen,
                             audio_source=media.audio, speaker=media.speaker,
                             on_frame=self._on_frame, on_audio_level=self._on_level,
                             video_preset=self.video_quality)
        await engine.start()
        self.engine = engine

    async def stop_media(self) -> None:
        """Stop the engine, if any (announces mic and camera off)."""
        engine, self.engine = self.engine, None
        if engine is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(SHUTDOWN_STEP):
                    await engine.stop()

    def _on_frame(self, username: str | None, ssrc: int, image: Image, frame_id: int) -> None:
        if username:
            self.frames.put(identity_key(username), image)

    def _on_level(self, username: str | None, level: float, speaking: bool) -> None:
        if username:
            self.levels.put(identity_key(username), (level, speaking))

    def _media_state(self, with_snapshot: bool = False) -> MediaState:
        engine = self.engine
        if engine is None:
            return MediaState(False, False)
        return MediaState(engine.mic, engine.cam, dict(engine.problems),
                          engine.snapshot() if with_snapshot else None, engine.screen)

    async def set_mic(self, on: bool) -> MediaState:
        """Turn the microphone on or off."""
        if self.engine is not None:
            await self.engine.set_mic(on)
        return self._media_state()

    async def set_cam(self, on: bool) -> MediaState:
        """Turn the camera on or off."""
        if self.engine is not None:
            await self.engine.set_cam(on)
            if not self.engine.cam:
                self.frames.discard(SELF)
        return self._media_state()

    async def set_screen(self, on: bool) -> MediaState:
        """Share the screen instead of the camera, or stop (back to the camera if it
        was on); a screen that cannot be captured is reported in ``problems``."""
        if self.engine is not None:
            await self.engine.set_screen(on)
            if not self.engine.cam:
                self.frames.discard(SELF)
        return self._media_state()

    async def media_state(self) -> MediaState:
        """The engine's state and statistics (for the quality badge)."""
        return self._media_state(with_snapshot=True)

    async def change_devices(self, choice: MediaChoice) -> MediaState:
        """Use other devices: a running engine is rebuilt, keeping mic and camera
        as they were (as far as the new devices allow)."""
        engine = self.engine
        if engine is None:
            return MediaState(False, False)
        mic, cam, screen = engine.mic, engine.cam, engine.screen
        await self.stop_media()
        await self.start_media(choice)
        assert self.engine is not None
        if screen:
            await self.engine.set_screen(True)
        elif cam:
            await self.engine.set_cam(True)
        if mic:
            await self.engine.set_mic(True)
        return self._media_state()


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem (2).ext`` and so on when that is taken, so a
    download never overwrites a file. A name without a usable part falls back to
    ``download``."""
    base = Path(name).name.strip() or "download"
    if base in (".", ".."):
        base = "download"
    candidate = folder / base
    stem, suffix = Path(base).stem, Path(base).suffix
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem} ({number}){suffix}"
        number += 1
    return candidate
