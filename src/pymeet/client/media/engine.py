"""`MediaEngine`: a session's voice and video, from sources to the network and back.

Theory of operation. One engine serves one logged-in `MeetingClient`::

    sources ──(capture + JPEG encode in worker threads)──> packetize, pace ──> MediaTransport
    MediaTransport ──> per-sender FrameAssembler ──(JPEG decode in a worker thread)──> on_frame
                   └─> per-sender JitterBuffer ──(20 ms playout tick: pop, mix)──> speaker sink
                                                                          └──> on_audio_level

Promises:

- Nothing blocks the event loop: camera and microphone reads, JPEG encoding and
  decoding, and blocking speaker writes all happen in worker threads (one per job, so a
  stuck camera never delays audio). Callbacks (``on_frame``, ``on_audio_level``) are
  called on the event loop, in order; a GUI hands them on to its own thread.
- ``set_mic(True)`` / ``set_cam(True)`` open the source, announce the state with
  ``media.update`` (§3.3) and start sending; ``set_*(False)`` stops sending at once,
  closes the source (a muted microphone sends nothing) and announces it.
- Audio goes out every 20 ms (640 bytes, timestamps in samples at 16 kHz); video frames
  at the preset's rate, each split into datagrams (`VideoPacketizer`) and paced in
  small bursts rather than sent as one spike.
- Receiving (§4.4): video fragments are grouped per sender; only whole frames newer
  than the last one shown are decoded; a frame that fails to decode is skipped and
  counted; while the decoder is busy only the newest waiting frame is kept. Audio goes
  through one adaptive jitter buffer per sender, and every sender is mixed.
- Missing hardware never stops the engine: a source or sink that cannot open is
  reported in ``problems`` (medium -> sentence for the user) and that medium stays
  off, while everything else keeps working.
- After a reconnect (``connection.restored``) the transport switches to the new ssrc
  and key, and the mic/cam state this engine wants is announced again if needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from pymeet.client.errors import ClientError, ConnectionClosed
from pymeet.client.media.errors import MediaUnavailable
from pymeet.client.media.sinks import AudioSink
from pymeet.client.media.sources import (
    AUDIO_FRAME_BYTES,
    AUDIO_FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioSource,
    VideoSource,
)
from pymeet.client.media.stats import MediaStats, StreamStats
from pymeet.client.media.transport import (
    DEFAULT_PING_INTERVAL,
    DEFAULT_PONG_TIMEOUT,
    MediaPath,
    MediaTransport,
)
from pymeet.client.meeting_client import CONNECTION_RESTORED
from pymeet.protocol.errors import RequestError
from pymeet.protocol.frame_assembler import CompletedFrame, FrameAssembler
from pymeet.protocol.jitter_buffer import JitterBuffer
from pymeet.protocol.media_packet import BASE_HEADER_SIZE, TAG_SIZE, Kind, MediaHeader
from pymeet.protocol.mixer import SPEAKING_THRESHOLD_DBFS, level, mix
from pymeet.protocol.video_fragmenter import VideoPacketizer

if TYPE_CHECKING:
    from pymeet.client.meeting_client import MeetingClient

__all__ = [
    "PRESETS",
    "FrameCallback",
    "LevelCallback",
    "MediaEngine",
    "VideoPreset",
    "decode_jpeg",
    "encode_jpeg",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Image = np.ndarray[Any, np.dtype[np.uint8]]
FrameCallback = Callable[[str | None, int, Image, int], "Awaitable[None] | None"]
"""``on_frame(username, ssrc, bgr_image, frame_id)``; username None if not (yet) known."""
LevelCallback = Callable[[str | None, float, bool], "Awaitable[None] | None"]
"""``on_audio_level(username, level 0..1, speaking)``, every ``level_interval`` seconds."""

FRAME_DURATION = AUDIO_FRAME_SAMPLES / SAMPLE_RATE  # 20 ms
VIDEO_CLOCK = 90_000
U32_MASK = 0xFFFF_FFFF
BURST_FRAGMENTS = 6  # datagrams sent back to back before pacing pauses
MAX_BURST_GAP = 0.004
STALL = 0.2  # seconds behind schedule after which a clock resynchronises instead of bursting
IDLE_STREAM_TIMEOUT = 5.0  # a non-member stream silent this long is forgotten
SPEAKER_QUEUE_FRAMES = 10  # 200 ms between the mixer and a blocking speaker
AUDIO_DATAGRAM_BYTES = BASE_HEADER_SIZE + AUDIO_FRAME_BYTES + TAG_SIZE  # 672


@dataclass(frozen=True, slots=True)
class VideoPreset:
    """Outgoing video: size (a bounding box; aspect ratio is kept), JPEG quality, rate."""

    name: str
    width: int
    height: int
    quality: int
    fps: float


PRESETS: dict[str, VideoPreset] = {
    "low": VideoPreset("low", 320, 240, 50, 10.0),
    "medium": VideoPreset("medium", 640, 480, 60, 15.0),
    "high": VideoPreset("high", 1280, 720, 70, 15.0),
    # A shared screen: more pixels for legible text, fewer frames (it changes slowly).
    "screen": VideoPreset("screen", 1280, 720, 70, 5.0),
}


def resolve_preset(preset: str | VideoPreset) -> VideoPreset:
    """A `VideoPreset` by name or as is; raises ValueError for an unknown name."""
    if isinstance(preset, VideoPreset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown video preset {preset!r} "
                         f"(choose from {', '.join(PRESETS)})") from None


def encode_jpeg(frame: Image, preset: VideoPreset) -> bytes | None:
    """``frame`` shrunk to fit the preset's box (never enlarged) and JPEG-encoded at its
    quality; None when OpenCV refuses. Call it off the event loop."""
    import cv2

    height, width = frame.shape[:2]
    scale = min(preset.width / width, preset.height / height, 1.0)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        frame = cast(Image, cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, preset.quality])
    return buffer.tobytes() if ok else None


def decode_jpeg(data: bytes) -> Image | None:
    """The BGR image in ``data``, or None when it is not a decodable JPEG. Off the loop."""
    import cv2

    if len(data) < 4 or data[:2] != b"\xff\xd8":
        return None
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    if image is None or image.size == 0:
        return None
    return cast(Image, image)


class _RemoteStream:
    """Receive state for one sender."""

    __slots__ = ("assembler", "decode_failed", "decoding", "frames_skipped", "jitter",
                 "level_peak", "pending", "ssrc", "stats")

    def __init__(self, ssrc: int, stats: StreamStats) -> None:
        self.ssrc = ssrc
        self.stats = stats
        self.assembler = FrameAssembler()
        self.jitter = JitterBuffer()
        self.pending: CompletedFrame | None = None
        self.decoding = False
        self.decode_failed = 0
        self.frames_skipped = 0
        self.level_peak = -1.0  # < 0: nothing played since the last level report


class _SinkWriter:
    """Feeds a blocking sink from its own thread through a small bounded queue.

    When the sink falls behind, the oldest queued audio is dropped (counted), so the
    delay between the mixer and the speaker never grows past the queue.
    """

    def __init__(self, sink: AudioSink, on_error: Callable[[BaseException], None]) -> None:
        self.sink = sink
        self.dropped = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(SPEAKER_QUEUE_FRAMES)
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=f"pymeet-{sink.name}",
                                        daemon=True)
        self._thread.start()

    def write(self, pcm: bytes) -> None:
        while True:
            try:
                self._queue.put_nowait(pcm)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                    self.dropped += 1

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (after at most one pending write) and close the sink."""
        while True:
            try:
                self._queue.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
        self._thread.join(timeout)
        with contextlib.suppress(Exception):
            self.sink.close()

    def _run(self) -> None:
        while True:
            pcm = self._queue.get()
            if pcm is None:
                return
            try:
                self.sink.write(pcm)
            except BaseException as exc:
                self._on_error(exc)
                return


class MediaEngine:
    """Voice and video for one `MeetingClient` session (see the module docstring).

    ``speaker`` is any `AudioSink` (a `SpeakerSink`, a `RecordingSink`, or None for
    none). ``media_address`` overrides the UDP destination (tests: an impairment proxy,
    or a port where nothing answers).
    """

    def __init__(
        self,
        client: MeetingClient,
        *,
        video_source: VideoSource | None = None,
        screen_source: VideoSource | None = None,
        audio_source: AudioSource | None = None,
        speaker: AudioSink | None = None,
        on_frame: FrameCallback | None = None,
        on_audio_level: LevelCallback | None = None,
        video_preset: str | VideoPreset = "medium",
        media_address: tuple[str, int] | None = None,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        pong_timeout: float = DEFAULT_PONG_TIMEOUT,
        level_interval: float = 0.1,
    ) -> None:
        self.client = client
        self.video_source = video_source
        self.screen_source = screen_source
        self.audio_source = audio_source
        self.speaker = speaker
        self.on_frame = on_frame
        self.on_audio_level = on_audio_level
        self.level_interval = level_interval
        self._preset = resolve_preset(video_preset)
        self.transport = MediaTransport(client, self._on_packet, address=media_address,
                                        ping_interval=ping_interval, pong_timeout=pong_timeout)
        self.stats = MediaStats()
        self.problems: dict[str, str] = {}
        """Unavailable media: ``"microphone"``, ``"camera"``, ``"speaker"`` -> why."""
        self.counters: Counter[str] = Counter()
        self._mic = False
        self._cam = False
        self._screen = False
        self._camera_before_screen = False
        self._running = False
        self._streams: dict[int, _RemoteStream] = {}
        self._names: dict[int, str] = {}
        self._names_refreshed = 0.0
        self._epoch = time.monotonic()
        self._state_lock = asyncio.Lock()
        self._packetizer: VideoPacketizer | None = None
        self._audio_task: asyncio.Task[None] | None = None
        self._video_task: asyncio.Task[None] | None = None
        self._playout_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._removers: list[Callable[[], None]] = []
        self._video_exec: ThreadPoolExecutor | None = None
        self._audio_exec: ThreadPoolExecutor | None = None
        self._decode_exec: ThreadPoolExecutor | None = None
        self._writer: _SinkWriter | None = None
        self._sink_ok = False
        self._next_level_report = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- state -------------------------------------------------------------------------

    @property
    def mic(self) -> bool:
        """True while audio is being sent."""
        return self._mic

    @property
    def cam(self) -> bool:
        """True while video is being sent."""
        return self._cam

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._running

    @property
    def path(self) -> MediaPath:
        """``"udp"`` or ``"tunnel"`` (§4.6)."""
        return self.transport.path

    @property
    def rtt(self) -> float | None:
        """Smoothed round-trip time to the server in seconds (None before a pong)."""
        return self.transport.rtt

    @property
    def preset(self) -> VideoPreset:
        """The outgoing video preset."""
        return self._preset

    def username_of(self, ssrc: int) -> str | None:
        """The member sending as ``ssrc``, if known."""
        return self._names.get(ssrc)

    def video_counters(self) -> dict[str, int]:
        """Receive-side video counters summed over senders: the frame assembler's
        (`FrameAssembler.counters`), plus ``decode_failed``, ``frames_skipped`` (a newer
        frame arrived while the decoder was busy) and ``frames_shown``."""
        total: Counter[str] = Counter()
        for stream in self._streams.values():
            total.update(stream.assembler.counters)
            total["decode_failed"] += stream.decode_failed
            total["frames_skipped"] += stream.frames_skipped
            total["frames_shown"] += stream.stats.frames_shown
        return dict(total)

    def snapshot(self) -> dict[str, Any]:
        """Everything measurable, as plain data: path, RTT, send and per-stream stats
        (with assembler counters and jitter-buffer stats), transport counters, problems."""
        now = time.monotonic()
        self.stats.rtt = self.transport.rtt
        self.stats.path = self.transport.path
        snap = self.stats.snapshot(now)
        for ssrc, stream in self._streams.items():
            entry = snap["streams"].get(ssrc)
            if entry is None:
                continue
            entry["assembler"] = dict(stream.assembler.counters)
            entry["jitter_buffer"] = asdict(stream.jitter.stats)
            entry["decode_failed"] = stream.decode_failed
            entry["frames_skipped"] = stream.frames_skipped
        snap["transport"] = dict(self.transport.counters)
        snap["engine"] = dict(self.counters)
        snap["problems"] = dict(self.problems)
        snap["mic"] = self._mic
        snap["cam"] = self._cam
        snap["preset"] = self._preset.name
        return snap

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open the media transport and the speaker, start playout. Mic and camera stay
        off until `set_mic` / `set_cam`. Raises `ClientError` if not logged in."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._video_exec = ThreadPoolExecutor(1, thread_name_prefix="pymeet-video-capture")
        self._audio_exec = ThreadPoolExecutor(1, thread_name_prefix="pymeet-audio-capture")
        self._decode_exec = ThreadPoolExecutor(1, thread_name_prefix="pymeet-video-decode")
        self._running = True
        try:
            await self.transport.start()
        except BaseException:
            self._running = False
            self._shutdown_executors()
            raise
        self.transport.on_path_change = self._on_path_change
        on = self.client.on
        self._removers = [
            on("room.member_joined", self._on_members_changed),
            on("room.member_updated", self._on_members_changed),
            on("room.member_left", self._on_members_changed),
            on("room.deleted", self._on_members_changed),
            on("room.kicked", self._on_members_changed),
            on("media.muted", self._on_muted),
            on(CONNECTION_RESTORED, self._on_restored),
        ]
        self._refresh_names()
        await self._open_speaker()
        self._playout_task = asyncio.create_task(self._playout_loop(), name="pymeet-playout")
        logger.info("media engine started for %s (ssrc %d)", self.client.username,
                    self.transport.ssrc)

    async def stop(self) -> None:
        """Stop sending and receiving, close sources and sinks, and announce mic and
        camera off if they were on (best effort). Idempotent."""
        if not self._running:
            return
        async with self._state_lock:
            was_on = self._mic or self._cam
            self._mic = self._cam = self._screen = False
            for task in (self._audio_task, self._video_task, self._playout_task):
                await _cancel(task)
            self._audio_task = self._video_task = self._playout_task = None
            self._running = False
            for remove in self._removers:
                remove()
            self._removers = []
            await self._close_source(self._audio_exec, self.audio_source)
            await self._close_source(self._video_exec, self.video_source)
            await self._close_source(self._video_exec, self.screen_source)
            writer, self._writer = self._writer, None
            if writer is not None:
                await asyncio.to_thread(writer.close)
            elif self.speaker is not None and self._sink_ok:
                with contextlib.suppress(Exception):
                    self.speaker.close()
            self._sink_ok = False
            if was_on and self.client.connected:
                with contextlib.suppress(ClientError, RequestError, TimeoutError):
                    async with asyncio.timeout(5):
                        await self.client.update_media(False, False)
            await self.transport.stop()
            for task in list(self._tasks):
                task.cancel()
            self._shutdown_executors()
            self._streams.clear()

    def _shutdown_executors(self) -> None:
        for executor in (self._video_exec, self._audio_exec, self._decode_exec):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        self._video_exec = self._audio_exec = self._decode_exec = None

    # -- mic and camera ----------------------------------------------------------------

    async def set_mic(self, on: bool) -> bool:
        """Start or stop sending audio; returns whether the mic is now on.

        Turning it on opens the audio source; when that fails the mic stays off and
        ``problems["microphone"]`` says why (nothing is raised).
        """
        async with self._state_lock:
            if not self._running or on == self._mic:
                return self._mic
            if on:
                if not await self._open_source("microphone", self._audio_exec,
                                               self.audio_source):
                    return False
                self._mic = True
                await self._announce()
                self._audio_task = self._spawn_loop(self._audio_loop(), "pymeet-audio-send")
            else:
                await self._mic_off()
                await self._announce()
            return self._mic

    async def set_cam(self, on: bool) -> bool:
        """Start or stop sending video; returns whether the camera is now on.

        Turning it on opens the video source; when that fails the camera stays off and
        ``problems["camera"]`` says why (nothing is raised).
        """
        async with self._state_lock:
            if not self._running or on == self._cam:
                return self._cam
            if on:
                source = self.video_source
                if source is not None:
                    preset = self._preset
                    with contextlib.suppress(Exception):
                        await self._run(self._video_exec, source.configure,
                                        preset.width, preset.height, preset.fps)
                if not await self._open_source("camera", self._video_exec, source):
                    return False
                self._cam = True
                await self._announce()
                self._video_task = self._spawn_loop(self._video_loop(), "pymeet-video-send")
            else:
                await self._cam_off()
                await self._announce()
            return self._cam

    async def set_screen(self, on: bool) -> bool:
        """Share the screen instead of the camera, or stop sharing; returns whether the
        screen is shared now.

        The screen goes out on the camera's video path at the ``screen`` preset, and
        ``media.update`` says ``screen: true`` so others show it large. Stopping goes
        back to the camera if it was on before. When the screen source cannot be opened,
        ``problems["screen"]`` says why and nothing changes.
        """
        async with self._state_lock:
            if not self._running or on == self._screen:
                return self._screen
            if on:
                source = self.screen_source
                if source is not None:
                    screen = PRESETS["screen"]
                    with contextlib.suppress(Exception):
                        await self._run(self._video_exec, source.configure,
                                        screen.width, screen.height, screen.fps)
                if not await self._open_source("screen", self._video_exec, source):
                    return False
                self._camera_before_screen = self._cam
                if self._cam:
                    await self._cam_off()
                self._screen = self._cam = True
                await self._announce()
                self._video_task = self._spawn_loop(self._video_loop(), "pymeet-screen-send")
                return True
            await self._cam_off()
            if self._camera_before_screen and await self._open_source(
                    "camera", self._video_exec, self.video_source):
                self._cam = True
                self._video_task = self._spawn_loop(self._video_loop(), "pymeet-video-send")
            await self._announce()
            return False

    @property
    def screen(self) -> bool:
        """True while the screen, not the camera, is being sent."""
        return self._screen

    async def set_video_preset(self, preset: str | VideoPreset) -> VideoPreset:
        """Change the outgoing size, quality and rate; applies from the next frame."""
        self._preset = resolve_preset(preset)
        source = self.video_source
        if source is not None and self._video_exec is not None:
            with contextlib.suppress(Exception):
                await self._run(self._video_exec, source.configure, self._preset.width,
                                self._preset.height, self._preset.fps)
        return self._preset

    async def _mic_off(self) -> None:
        self._mic = False
        task, self._audio_task = self._audio_task, None
        if task is not asyncio.current_task():
            await _cancel(task)
        await self._close_source(self._audio_exec, self.audio_source)

    async def _cam_off(self) -> None:
        """Stop sending video, whether it comes from the camera or the screen."""
        source = self._video_source_in_use()
        self._cam = self._screen = False
        task, self._video_task = self._video_task, None
        if task is not asyncio.current_task():
            await _cancel(task)
        await self._close_source(self._video_exec, source)

    def _video_source_in_use(self) -> VideoSource | None:
        return self.screen_source if self._screen else self.video_source

    async def _open_source(self, medium: str, executor: Executor | None,
                           source: AudioSource | VideoSource | None) -> bool:
        if source is None:
            self._problem(medium, f"no {'audio' if medium == 'microphone' else 'video'} "
                                  "source is configured")
            return False
        try:
            await self._run(executor, source.open)
        except MediaUnavailable as exc:
            self._problem(medium, str(exc))
            return False
        except Exception as exc:
            self._problem(medium, f"{source.name} could not be opened: {exc}")
            return False
        self.problems.pop(medium, None)
        return True

    async def _close_source(self, executor: Executor | None,
                            source: AudioSource | VideoSource | None) -> None:
        if source is None:
            return
        try:
            await self._run(executor, source.close)
        except Exception:
            logger.debug("closing %s failed", source.name, exc_info=True)

    def _problem(self, medium: str, text: str) -> None:
        self.problems[medium] = text
        logger.warning("%s unavailable: %s", medium, text)

    async def _announce(self) -> None:
        """Tell the server what we send (§3.3 media.update); on a dropped connection the
        state is announced again after the reconnect."""
        try:
            await self.client.update_media(self._mic, self._cam, self._screen)
        except ConnectionClosed:
            logger.info("media state not announced (not connected); will retry on reconnect")
        except (ClientError, RequestError) as exc:
            logger.warning("media.update failed: %s", exc)

    async def _medium_failed(self, medium: str, exc: BaseException) -> None:
        """A source broke while sending: record why, turn that medium off, announce."""
        self._problem(medium, str(exc))
        async with self._state_lock:
            if medium == "microphone" and self._mic:
                await self._mic_off()
            elif medium in ("camera", "screen") and self._cam:
                await self._cam_off()
            else:
                return
            await self._announce()

    # -- sending -----------------------------------------------------------------------

    async def _audio_loop(self) -> None:
        source = self.audio_source
        assert source is not None
        loop = asyncio.get_running_loop()
        timestamp = (int((time.monotonic() - self._epoch) * SAMPLE_RATE)
                     // AUDIO_FRAME_SAMPLES * AUDIO_FRAME_SAMPLES) & U32_MASK
        start = time.monotonic()
        sent = 0
        while True:
            try:
                pcm = await loop.run_in_executor(self._audio_exec, source.read)
            except MediaUnavailable as exc:
                self._spawn(self._medium_failed("microphone", exc))
                return
            except RuntimeError:  # the executor was shut down: the engine is stopping
                return
            if len(pcm) != AUDIO_FRAME_BYTES:
                pcm = bytes(pcm[:AUDIO_FRAME_BYTES]).ljust(AUDIO_FRAME_BYTES, b"\0")
            ok = self.transport.send_audio(timestamp, pcm)
            self.stats.send.on_audio(AUDIO_DATAGRAM_BYTES, time.monotonic(), sent=ok)
            timestamp = (timestamp + AUDIO_FRAME_SAMPLES) & U32_MASK
            sent += 1
            # Never faster than real time, whatever the source: some "devices" (files,
            # ALSA's file plugin) return at once.
            delay = start + sent * FRAME_DURATION - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -STALL and not source.paced:
                # A synthetic source fell far behind (a stalled loop): skip ahead, as a
                # real microphone's clock would have, instead of bursting to catch up.
                skipped = int(-delay / FRAME_DURATION)
                timestamp = (timestamp + skipped * AUDIO_FRAME_SAMPLES) & U32_MASK
                start, sent = time.monotonic(), 0
                self.counters["audio_capture_stalls"] += 1
            else:
                await asyncio.sleep(0)

    async def _video_loop(self) -> None:
        source = self._video_source_in_use()
        assert source is not None
        sharing = self._screen
        loop = asyncio.get_running_loop()
        due = time.monotonic()
        while True:
            preset = PRESETS["screen"] if sharing else self._preset
            interval = 1.0 / preset.fps
            try:
                jpeg = await loop.run_in_executor(self._video_exec, _capture_encode,
                                                  source, preset)
            except MediaUnavailable as exc:
                self._spawn(self._medium_failed("screen" if sharing else "camera", exc))
                return
            except RuntimeError:  # executor shut down
                return
            except Exception:
                self.counters["video_capture_failed"] += 1
                logger.exception("video capture or encoding failed")
                jpeg = None
            if jpeg is None:
                self.counters["video_frames_not_captured"] += 1
            else:
                await self._send_frame(jpeg, interval)
            due += interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                if delay < -interval:
                    due = time.monotonic()  # behind (slow camera): do not burst
                await asyncio.sleep(0)

    async def _send_frame(self, jpeg: bytes, interval: float) -> None:
        transport = self.transport
        packetizer = self._packetizer
        if packetizer is None or packetizer.ssrc != transport.ssrc:
            first = packetizer.next_frame_id if packetizer is not None else 0
            packetizer = self._packetizer = VideoPacketizer(
                transport.ssrc, transport.next_seq, first_frame_id=first)
        timestamp = int((time.monotonic() - self._epoch) * VIDEO_CLOCK) & U32_MASK
        try:
            packets = packetizer.packetize(jpeg, timestamp)
        except (ValueError, ClientError) as exc:
            self.counters["video_frames_unsendable"] += 1
            logger.warning("video frame of %d bytes not sent: %s", len(jpeg), exc)
            return
        count = len(packets)
        bursts = -(-count // BURST_FRAGMENTS)
        gap = min(MAX_BURST_GAP, interval / 2 / bursts)
        send_stats = self.stats.send
        for index, (header, payload) in enumerate(packets, 1):
            if not self._cam:
                return  # turned off mid-frame: stop at once
            ok = transport.send(header, payload)
            send_stats.on_video_packet(header.size + len(payload) + TAG_SIZE,
                                       time.monotonic(), sent=ok)
            if index % BURST_FRAGMENTS == 0 and index < count:
                await asyncio.sleep(gap)
        send_stats.on_video_frame(time.monotonic())

    # -- receiving ---------------------------------------------------------------------

    def _on_packet(self, header: MediaHeader, payload: bytes, now: float, via: str) -> None:
        ssrc = header.ssrc
        stream = self._streams.get(ssrc)
        if stream is None:
            stream = self._new_stream(ssrc, now)
        size = header.size + len(payload) + TAG_SIZE
        if header.kind is Kind.AUDIO:
            stream.stats.on_packet(audio=True, seq=header.seq, timestamp=header.timestamp,
                                   size=size, now=now)
            stream.jitter.push(header.timestamp, payload, now)
        elif header.kind is Kind.VIDEO:
            stream.stats.on_packet(audio=False, seq=header.seq, timestamp=header.timestamp,
                                   size=size, now=now, frame_id=header.frame_id,
                                   frag_count=header.frag_count)
            frame = stream.assembler.add(ssrc, header.frame_id, header.frag_index,
                                         header.frag_count, header.timestamp, payload, now)
            if frame is not None:
                self._queue_decode(stream, frame)

    def _new_stream(self, ssrc: int, now: float) -> _RemoteStream:
        if ssrc not in self._names and now - self._names_refreshed > 0.5:
            self._refresh_names()  # media may overtake the member event on control
        name = self._names.get(ssrc)
        stream = self._streams[ssrc] = _RemoteStream(ssrc, self.stats.stream(ssrc, name))
        logger.debug("receiving from ssrc %d (%s)", ssrc, name or "unknown member")
        return stream

    def _queue_decode(self, stream: _RemoteStream, frame: CompletedFrame) -> None:
        if stream.pending is not None:
            stream.frames_skipped += 1  # the decoder is behind: keep only the newest
        stream.pending = frame
        if not stream.decoding:
            stream.decoding = True
            self._spawn(self._decode_loop(stream))

    async def _decode_loop(self, stream: _RemoteStream) -> None:
        loop = asyncio.get_running_loop()
        try:
            while stream.pending is not None and self._running:
                frame, stream.pending = stream.pending, None
                try:
                    image = await loop.run_in_executor(self._decode_exec, decode_jpeg,
                                                       frame.data)
                except RuntimeError:  # executor shut down: stopping
                    return
                if image is None:
                    stream.decode_failed += 1
                    logger.debug("frame %d from ssrc %d did not decode; skipped",
                                 frame.frame_id, stream.ssrc)
                    continue
                if self._streams.get(stream.ssrc) is not stream:
                    return  # the sender left meanwhile
                stream.stats.on_frame_shown(frame.frame_id, time.monotonic())
                callback = self.on_frame
                if callback is not None:
                    self._call(callback, self._names.get(stream.ssrc), stream.ssrc, image,
                               frame.frame_id)
        finally:
            stream.decoding = False

    # -- playout -----------------------------------------------------------------------

    async def _open_speaker(self) -> None:
        sink = self.speaker
        if sink is None:
            return
        try:
            await asyncio.to_thread(sink.open)
        except MediaUnavailable as exc:
            self._problem("speaker", str(exc))
            return
        except Exception as exc:
            self._problem("speaker", f"{sink.name} could not be opened: {exc}")
            return
        self._sink_ok = True
        if sink.blocking:
            self._writer = _SinkWriter(sink, self._sink_failed_threadsafe)

    def _sink_failed_threadsafe(self, exc: BaseException) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._sink_failed, exc)

    def _sink_failed(self, exc: BaseException) -> None:
        self._problem("speaker", str(exc) if isinstance(exc, MediaUnavailable)
                      else f"the speaker failed: {exc}")
        self._sink_ok = False
        writer, self._writer = self._writer, None
        if writer is not None:
            self._spawn(asyncio.to_thread(writer.close))

    async def _playout_loop(self) -> None:
        start = time.monotonic()
        ticks = 0
        next_housekeeping = start + 1.0
        while True:
            ticks += 1
            delay = start + ticks * FRAME_DURATION - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -STALL:
                self.counters["playout_stalls"] += 1
                start, ticks = time.monotonic(), 0
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(0)
            now = time.monotonic()
            try:
                self._playout_tick(now)
                if now >= next_housekeeping:
                    next_housekeeping = now + 1.0
                    self._housekeeping(now)
            except Exception:
                self.counters["playout_errors"] += 1
                logger.exception("audio playout tick failed")

    def _playout_tick(self, now: float) -> None:
        frames: list[bytes] = []
        for stream in self._streams.values():
            pcm = stream.jitter.pop(now)
            if pcm is None:
                continue
            frames.append(pcm)
            stream.level_peak = max(stream.level_peak, level(pcm))
        mixed = mix(frames)
        if self._sink_ok and self.speaker is not None:
            writer = self._writer
            if writer is not None:
                writer.write(mixed)
            else:
                try:
                    self.speaker.write(mixed)
                except Exception as exc:
                    self._sink_failed(exc)
        if now >= self._next_level_report:
            self._next_level_report = now + self.level_interval
            self._report_levels()

    def _report_levels(self) -> None:
        callback = self.on_audio_level
        for stream in self._streams.values():
            if stream.stats.audio_packets == 0:
                continue
            peak = max(0.0, stream.level_peak)
            stream.level_peak = -1.0
            dbfs = 20 * float(np.log10(peak)) if peak > 0 else -96.0
            stream.stats.audio_level_dbfs = max(-96.0, dbfs)
            if callback is not None:
                self._call(callback, self._names.get(stream.ssrc), peak,
                           dbfs > SPEAKING_THRESHOLD_DBFS)

    def _housekeeping(self, now: float) -> None:
        for ssrc, stream in list(self._streams.items()):
            last = stream.stats.last_packet_at
            if ssrc not in self._names and last is not None and now - last > IDLE_STREAM_TIMEOUT:
                self._forget(ssrc)
        for stream in self._streams.values():
            stream.assembler.expire(now)

    # -- membership and events ---------------------------------------------------------

    def _refresh_names(self) -> set[int]:
        """Rebuild ssrc -> username from the client's member list; returns the ssrcs
        that were members before and are not any more."""
        self._names_refreshed = time.monotonic()
        names: dict[int, str] = {}
        for username, member in self.client.members.items():
            ssrc = member.get("ssrc")
            if isinstance(ssrc, int) and ssrc:
                names[ssrc] = username
        gone = set(self._names) - set(names)
        self._names = names
        for ssrc, stream in self._streams.items():
            if ssrc in names:
                stream.stats.username = names[ssrc]
        return gone

    def _forget(self, ssrc: int) -> None:
        if self._streams.pop(ssrc, None) is not None:
            self.stats.forget(ssrc)
            logger.debug("forgot media stream of ssrc %d", ssrc)

    def _on_members_changed(self, _event: dict[str, Any]) -> None:
        for ssrc in self._refresh_names():
            self._forget(ssrc)

    def _on_muted(self, _event: dict[str, Any]) -> None:
        # §3.4 room.mute: the server has already turned our mic off; stop sending.
        if self._mic:
            self._spawn(self._muted_by_owner())

    async def _muted_by_owner(self) -> None:
        async with self._state_lock:
            if self._mic:
                await self._mic_off()
                logger.info("the room owner muted this microphone")

    def _on_restored(self, _event: dict[str, Any]) -> None:
        for ssrc in self._refresh_names():
            self._forget(ssrc)
        # Streams keyed by old ssrcs of members who reconnected go stale; they are
        # forgotten by housekeeping. Announce our state if the server's differs.
        if (self.client.mic, self.client.cam) != (self._mic, self._cam):
            self._spawn(self._announce())

    def _on_path_change(self, path: MediaPath) -> None:
        self.stats.path = path

    # -- helpers -----------------------------------------------------------------------

    async def _run(self, executor: Executor | None, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, func, *args)

    def _spawn_loop(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_log_task_failure)
        return task

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            await awaitable

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_task_failure)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            result = callback(*args)
        except Exception:
            self.counters["callback_errors"] += 1
            logger.exception("media callback failed")
            return
        if inspect.isawaitable(result):
            self._spawn(result)


def _capture_encode(source: VideoSource, preset: VideoPreset) -> bytes | None:
    """One frame from ``source``, JPEG-encoded for ``preset``; runs in the capture thread."""
    frame = source.read()
    if frame is None:
        return None
    return encode_jpeg(frame, preset)


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _log_task_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("media task %s failed", task.get_name(), exc_info=exc)
