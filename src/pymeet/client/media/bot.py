"""The participant behind ``pymeet bot``: one `MeetingClient` and one `MediaEngine`,
no user interface, statistics printed as lines (see `pymeet.client.bot_cli`)."""

from __future__ import annotations

import argparse
import asyncio
import binascii
import contextlib
import math
import signal
import sys
import time
from typing import Any, TextIO

import numpy as np

from pymeet.client.errors import ClientError
from pymeet.client.known_servers import KnownServers, format_fingerprint
from pymeet.client.media.engine import MediaEngine
from pymeet.client.media.sinks import AudioSink, SpeakerSink
from pymeet.client.media.sources import (
    AudioSource,
    CameraSource,
    MicrophoneSource,
    SyntheticCamera,
    ToneSource,
    VideoSource,
    WavSource,
    read_marker,
)
from pymeet.client.meeting_client import CONNECTION_FAILED, CONNECTION_LOST, MeetingClient
from pymeet.protocol.errors import RequestError

__all__ = ["Bot", "default_sender_id"]

SHUTDOWN_TIMEOUT = 5.0


def default_sender_id(username: str) -> int:
    """The id a bot draws into its synthetic video: a 16-bit hash of the user name."""
    return binascii.crc_hqx(username.casefold().encode(), 0) or 1


def _dbfs(level: float) -> float:
    return 20 * math.log10(level) if level > 0 else -96.0


class Bot:
    """One headless session; `run` returns the process exit status."""

    def __init__(self, args: argparse.Namespace, host: str, port: int, password: str,
                 media_address: tuple[str, int] | None, *, out: TextIO | None = None) -> None:
        self.args = args
        self.host = host
        self.port = port
        self.password = password
        self.media_address = media_address
        self.out = out or sys.stdout
        self.client: MeetingClient | None = None
        self.engine: MediaEngine | None = None
        self._markers: dict[str, tuple[int, int]] = {}
        self._levels: dict[str, float] = {}
        self._stop = asyncio.Event()
        self._started = time.monotonic()
        self._exit = 0

    def say(self, text: str) -> None:
        """Print one line at once."""
        print(text, file=self.out, flush=True)

    # -- life cycle --------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._stop.set)
        try:
            if not await self._join():
                return 1
            await self._start_media()
            await self._report_until_done()
        finally:
            await self._shutdown()
        return self._exit

    async def _join(self) -> bool:
        args = self.args
        try:
            self.client = client = await MeetingClient.connect(
                self.host, self.port, known_servers=KnownServers(args.known_servers),
                fingerprint=args.fingerprint, on_new_server=self._trust,
                client_name="pymeet-bot/0.1")
        except (ClientError, RequestError, OSError, ValueError) as exc:
            self.say(f"error: cannot connect to {self.host}:{self.port}: {exc}")
            return False
        client.on(CONNECTION_FAILED, lambda _event: self._fail())
        client.on(CONNECTION_LOST,
                  lambda event: None if event.get("will_reconnect") else self._fail())
        try:
            if args.register:
                try:
                    await client.register(args.user, args.email, self.password)
                    self.say(f"account {args.user} created")
                except RequestError as exc:
                    if exc.raw_code != "user_exists":
                        raise
            await client.login(args.user, self.password)
            try:
                await client.join_room(args.room, args.room_password)
            except RequestError as exc:
                if exc.raw_code != "room_not_found":
                    raise
                with contextlib.suppress(RequestError):  # room_exists: another bot was first
                    await client.create_room(args.room, args.room_password)
                await client.join_room(args.room, args.room_password)
        except (ClientError, RequestError) as exc:
            self.say(f"error: {exc}")
            return False
        return True

    async def _trust(self, host_port: str, fingerprint: str) -> bool:
        self.say(f"server {host_port} fingerprint {format_fingerprint(fingerprint)}")
        if self.args.trust:
            return True
        if sys.stdin.isatty():
            answer = await asyncio.to_thread(input, "Trust this server? [y/N] ")
            return answer.strip().lower() in ("y", "yes")
        self.say("error: first contact with this server: pass --trust or --fingerprint")
        return False

    def _fail(self) -> None:
        self._exit = 1
        self._stop.set()

    def _sources(self, username: str) -> tuple[VideoSource | None, AudioSource | None,
                                                AudioSink | None]:
        args = self.args
        video: VideoSource | None = None
        if args.synthetic_video:
            sender = args.sender_id if args.sender_id is not None else default_sender_id(username)
            video = SyntheticCamera(sender)
        elif args.camera is not None:
            video = CameraSource(args.camera)
        audio: AudioSource | None = None
        if args.tone is not None:
            audio = ToneSource(args.tone)
        elif args.wav:
            audio = WavSource(args.wav)
        elif args.microphone is not False:
            audio = MicrophoneSource(None if args.microphone is True else args.microphone)
        speaker: AudioSink | None = None
        if args.speaker is not False:
            speaker = SpeakerSink(None if args.speaker is True else args.speaker)
        return video, audio, speaker

    async def _start_media(self) -> None:
        client = self.client
        assert client is not None
        username = client.username or self.args.user
        video, audio, speaker = self._sources(username)
        self.engine = engine = MediaEngine(
            client, video_source=video, audio_source=audio, speaker=speaker,
            on_frame=self._on_frame, on_audio_level=self._on_level,
            video_preset=self.args.preset, media_address=self.media_address)
        await engine.start()
        if video is not None:
            await engine.set_cam(True)
        if audio is not None:
            await engine.set_mic(True)
        sending = []
        if engine.cam and video is not None:
            sending.append(f"video: {video.name} at {engine.preset.name}")
        if engine.mic and audio is not None:
            sending.append(f"audio: {audio.name}")
        self.say(f"bot {username}: in room {client.room!r} as ssrc {engine.transport.ssrc}; "
                 f"sending {', '.join(sending) or 'nothing'}")
        for medium, reason in sorted(engine.problems.items()):
            self.say(f"unavailable: {medium}: {reason}")

    async def _report_until_done(self) -> None:
        interval = self.args.stats_interval
        deadline = (time.monotonic() + self.args.duration) if self.args.duration else None
        while not self._stop.is_set():
            wait = interval
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._stop.wait()
            self._report()
        if deadline is not None and time.monotonic() >= deadline:
            self.say("duration elapsed; leaving")

    async def _shutdown(self) -> None:
        engine, client = self.engine, self.client
        if engine is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                    await engine.stop()
        if client is not None:
            if client.connected and client.username is not None:
                with contextlib.suppress(ClientError, RequestError, TimeoutError):
                    async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                        await client.logout()
            await client.close()

    # -- media callbacks ---------------------------------------------------------------

    def _on_frame(self, username: str | None, ssrc: int,
                  image: np.ndarray[Any, Any], frame_id: int) -> None:
        marker = read_marker(image)
        if marker is not None:
            self._markers[username or f"ssrc {ssrc}"] = marker

    def _on_level(self, username: str | None, level: float, speaking: bool) -> None:
        key = username or "?"
        self._levels[key] = max(level, self._levels.get(key, 0.0))

    # -- output ------------------------------------------------------------------------

    def _report(self) -> None:
        engine, client = self.engine, self.client
        if engine is None or client is None:
            return
        snap = engine.snapshot()
        elapsed = time.monotonic() - self._started
        rtt = snap["rtt_ms"]
        send = snap["send"]
        self.say(f"[{elapsed:6.1f}s] {client.username}: path={snap['path']} "
                 f"rtt={'-' if rtt is None else f'{rtt:.1f} ms'} | sending video "
                 f"{send['fps']:.1f} fps, audio {send['audio_pps']:.0f} pkt/s, "
                 f"{send['kbps']:.0f} kbit/s")
        by_name: dict[str, dict[str, Any]] = {}
        for ssrc, stream in snap["streams"].items():
            by_name[stream["username"] or f"ssrc {ssrc}"] = stream
        me = client.username
        names = sorted(set(client.members) - {me} | set(by_name))
        if not names:
            self.say("  (nobody else in the room)")
        for name in names:
            self.say(self._peer_line(name, by_name.get(name)))
        self._levels.clear()

    def _peer_line(self, name: str, stream: dict[str, Any] | None) -> str:
        if stream is None:
            return f"  peer {name}: no media received"
        parts = []
        if stream["video_packets"]:
            marker = self._markers.get(name)
            frame = (f", frame {marker[0]} (sender id {marker[1]})" if marker is not None
                     else ", no marker")
            parts.append(f"video {stream['fps']:.1f} fps{frame}, "
                         f"{stream['frames_shown']} frames shown")
        else:
            parts.append("no video")
        if stream["audio_packets"]:
            level = self._levels.get(name)
            dbfs = stream["audio_level_dbfs"] if level is None else _dbfs(level)
            speaking = " (speaking)" if dbfs > -40 else ""
            parts.append(f"audio {dbfs:.1f} dBFS{speaking}, "
                         f"jitter {stream['audio_jitter_ms']:.1f} ms")
        else:
            parts.append("no audio")
        parts.append(f"loss {stream['recent_loss_percent']:.1f} %, {stream['kbps']:.0f} kbit/s")
        return f"  peer {name}: " + " | ".join(parts)
