"""End to end through the real server: capture to playout (voice) and capture to
display (video), with the client's own `MediaEngine` on both sides.

One sender and one receiver, each a `MeetingClient` with a `MediaEngine`, share a room
on the server under test, on loopback. What is timed, per 20 ms audio frame and per
video frame:

- voice: from the moment the audio source hands the frame to the engine (a real
  microphone hands it over when its 20 ms are complete) to the moment the receiver's
  playout tick hands the mixed frame to the speaker sink: packetize, seal, relay, open,
  the adaptive jitter buffer, the 20 ms playout clock and the mixer. A real sound
  card adds its own output buffer after that.
- video: from the moment the camera returns the frame to the moment the receiver's
  ``on_frame`` callback gets the decoded image: JPEG encode, fragment, pace, seal,
  relay, open, reassemble (`FrameAssembler`) and JPEG decode.

Frames are recognised at the far end by content: each audio frame carries its number
and a checksum in its first four samples (the rest is a loud tone, so the jitter
buffer treats it as speech), and each video frame carries `SyntheticCamera`'s marker.
Concealment frames (attenuated copies) fail the checksum and are not mistaken for the
frame they copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymeet.bench.histogram import percentiles_of

AUDIO_MARK = struct.Struct("<HHHH")
MAGIC = 0x5A17
PASSWORD = "bench password 1"


@dataclass
class E2EResult:
    preset: str
    seconds: float
    voice_ms: list[float] = field(default_factory=list)
    video_ms: list[float] = field(default_factory=list)
    video_bytes_per_s: float = 0.0
    video_fps: float = 0.0
    audio_frames_sent: int = 0
    video_frames_sent: int = 0

    def summary(self) -> dict[str, Any]:
        v50, v95 = percentiles_of(self.voice_ms, 0.5, 0.95)
        f50, f95 = percentiles_of(self.video_ms, 0.5, 0.95)
        return {
            "preset": self.preset, "seconds": round(self.seconds, 2),
            "voice_p50_ms": v50, "voice_p95_ms": v95, "voice_samples": len(self.voice_ms),
            "audio_frames_sent": self.audio_frames_sent,
            "video_p50_ms": f50, "video_p95_ms": f95, "video_samples": len(self.video_ms),
            "video_frames_sent": self.video_frames_sent,
            "video_bytes_per_s": round(self.video_bytes_per_s),
            "video_fps": round(self.video_fps, 2),
        }


class MarkedTone:
    """A loud 440 Hz tone whose frames carry their number (see the module docstring)."""

    paced = False
    name = "marked tone"

    def __init__(self) -> None:
        from pymeet.client.media import ToneSource

        self._tone = ToneSource(440.0, 0.5)
        self._number = 0
        self.captured: dict[int, float] = {}
        self.recording = False

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def read(self) -> bytes:
        number = self._number = (self._number + 1) & 0xFFFFFFFF
        high, low = number >> 16, number & 0xFFFF
        mark = AUDIO_MARK.pack(MAGIC, high, low, MAGIC ^ high ^ low ^ 0x3C3C)
        frame = mark + self._tone.read()[AUDIO_MARK.size:]
        if self.recording:
            self.captured[number] = time.monotonic()
        return frame


def read_audio_mark(pcm: bytes) -> int | None:
    if len(pcm) < AUDIO_MARK.size:
        return None
    magic, high, low, check = AUDIO_MARK.unpack_from(pcm)
    if magic != MAGIC or check != MAGIC ^ high ^ low ^ 0x3C3C:
        return None
    number: int = (high << 16) | low
    return number


class TimingSink:
    """A speaker that notes when each marked frame is played (first time only)."""

    blocking = False
    name = "timing sink"

    def __init__(self) -> None:
        self.played: dict[int, float] = {}

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def write(self, pcm: bytes) -> None:
        number = read_audio_mark(pcm)
        if number is not None and number not in self.played:
            self.played[number] = time.monotonic()


class TimedCamera:
    """`SyntheticCamera`, noting when each frame number was captured."""

    paced = False

    def __init__(self, sender_id: int) -> None:
        from pymeet.client.media import SyntheticCamera

        self.camera = SyntheticCamera(sender_id)
        self.name = self.camera.name
        self.captured: dict[int, float] = {}
        self.recording = False
        self._lock = threading.Lock()

    def open(self) -> None:
        self.camera.open()

    def close(self) -> None:
        self.camera.close()

    def configure(self, width: int, height: int, fps: float) -> None:
        self.camera.configure(width, height, fps)

    def read(self) -> Any:
        number = self.camera.frame_number
        image = self.camera.read()
        if self.recording:
            self.captured[number] = time.monotonic()
        return image


async def measure(
    host: str, port: int, fingerprint: str, scratch: Path, presets: list[str],
    seconds: float, settle: float = 1.0, tail: float = 0.5,
) -> list[E2EResult]:
    """Run one sender/receiver pair through the server for each preset in turn."""
    from pymeet.client.media import MediaEngine, read_marker
    from pymeet.client.meeting_client import MeetingClient

    tag = secrets.token_hex(3)
    room = f"bench e2e {tag}"
    known = scratch / "known_servers.json"
    clients: list[Any] = []
    engines: list[Any] = []
    shown: dict[int, float] = {}

    def on_frame(_username: str | None, _ssrc: int, image: Any, _frame_id: int) -> None:
        now = time.monotonic()
        marker = read_marker(image)
        if marker is not None and marker[0] not in shown:
            shown[marker[0]] = now

    try:
        for role in ("send", "recv"):
            client = await MeetingClient.connect(
                host, port, known_servers=known, fingerprint=fingerprint,
                client_name="pymeet-bench", auto_reconnect=False,
            )
            clients.append(client)
            name = f"e2e_{role}_{tag}"
            await client.register(name, f"{name}@bench.invalid", PASSWORD)
            await client.login(name, PASSWORD)
        await clients[0].create_room(room)
        for client in clients:
            await client.join_room(room)
        tone, camera, sink = MarkedTone(), TimedCamera(7), TimingSink()
        sender = MediaEngine(clients[0], video_source=camera, audio_source=tone,
                             video_preset=presets[0])
        receiver = MediaEngine(clients[1], speaker=sink, on_frame=on_frame)
        engines += [receiver, sender]
        await receiver.start()
        await sender.start()
        if not await sender.set_mic(True) or not await sender.set_cam(True):
            raise RuntimeError(f"the sender's media did not start: {sender.problems}")
        results = []
        for preset in presets:
            await sender.set_video_preset(preset)
            await asyncio.sleep(settle)
            for log in (tone.captured, camera.captured, sink.played, shown):
                log.clear()
            send = sender.stats.send
            bytes0, audio0, frames0 = send.bytes, send.audio_packets, send.video_frames
            tone.recording = camera.recording = True
            started = time.monotonic()
            await asyncio.sleep(seconds)
            tone.recording = camera.recording = False
            elapsed = time.monotonic() - started
            audio_packets = send.audio_packets - audio0
            video_bytes = (send.bytes - bytes0) - audio_packets * (640 + 16 + 16)
            video_frames = send.video_frames - frames0
            await asyncio.sleep(tail)  # let the last frames arrive
            result = E2EResult(preset, elapsed)
            result.voice_ms = [
                (sink.played[n] - t) * 1e3 for n, t in tone.captured.items() if n in sink.played
            ]
            result.video_ms = [
                (shown[n] - t) * 1e3 for n, t in camera.captured.items() if n in shown
            ]
            result.audio_frames_sent = len(tone.captured)
            result.video_frames_sent = len(camera.captured)
            result.video_bytes_per_s = video_bytes / elapsed
            result.video_fps = video_frames / elapsed
            results.append(result)
        return results
    finally:
        for engine in engines:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(engine.stop(), 10)
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
