"""Media statistics a person can read: per remote stream and for what this side sends.

Pure bookkeeping: every method takes ``now`` (seconds, monotonic) and nothing here
reads a clock, so tests drive it with synthetic times.

Receive side, per sender (`StreamStats`): packets and bytes, loss estimated from gaps
in the sender's seq (§4.2: one counter over every packet it seals), interarrival jitter
as in RFC 3550 §6.4.1 (audio on its 16 kHz clock, video on 90 kHz), frames shown per
second, kbit/s. Loss from seq gaps slightly overstates: the sender's own pings (one
every couple of seconds) use seqs too and are never relayed.

Send side (`SendStats`): packets, bytes and frames per medium, rates, failures.
`MediaStats.snapshot` gathers everything in one plain dict.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AUDIO_CLOCK",
    "VIDEO_CLOCK",
    "InterarrivalJitter",
    "MediaLoss",
    "MediaStats",
    "RateMeter",
    "SendStats",
    "StreamStats",
]

AUDIO_FRAME_SAMPLES = 320  # §4.2: 20 ms at 16 kHz
AUDIO_CLOCK = 16_000  # §4.2: audio timestamps count samples at 16 kHz
VIDEO_CLOCK = 90_000  # §4.2: video timestamps use a 90 kHz clock
_U32 = 1 << 32
_HALF = 1 << 31


def _signed_delta(a: int, b: int) -> int:
    """a - b for u32 counters that may wrap."""
    delta = (a - b) % _U32
    return delta - _U32 if delta >= _HALF else delta


class RateMeter:
    """Amount per second over a sliding window (``window`` seconds).

    Before a whole window has passed since the first event, the rate is taken over the
    time elapsed (at least half a second), so early readings are not diluted.
    """

    __slots__ = ("_events", "_started", "_sum", "total", "window")

    def __init__(self, window: float = 2.0) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        self.window = window
        self._events: deque[tuple[float, float]] = deque()
        self._sum = 0.0
        self._started: float | None = None
        self.total = 0.0

    def add(self, now: float, amount: float = 1.0) -> None:
        """Record ``amount`` at ``now``."""
        if self._started is None:
            self._started = now
        self._events.append((now, amount))
        self._sum += amount
        self.total += amount
        self._prune(now)

    def rate(self, now: float) -> float:
        """Amount per second over the last window (0 before any event)."""
        if self._started is None:
            return 0.0
        self._prune(now)
        span = min(self.window, max(0.5, now - self._started))
        return self._sum / span

    def _prune(self, now: float) -> None:
        horizon = now - self.window
        events = self._events
        while events and events[0][0] <= horizon:
            self._sum -= events.popleft()[1]
        if not events:
            self._sum = 0.0


class MediaLoss:
    """Loss measured in the media's own numbering, which a sender's pings do not use.

    A sender's seq counts every packet it seals, pings included (§4.2), and pings are
    never relayed, so seq gaps overstate loss on a perfect link. Instead: audio frames by
    timestamp (320 samples each; a jump of more than `AUDIO_PAUSE_FRAMES` frames is a
    pause, such as a muted microphone, not loss), and video fragments by frame: each
    frame_id seen announces its ``frag_count``; whole frames skipped in the frame_id
    sequence count as lost with the mean fragment count. Late packets filling an earlier
    gap are credited back.
    """

    AUDIO_PAUSE_FRAMES = 25  # 500 ms
    VIDEO_PAUSE_FRAMES = 30

    __slots__ = ("_audio_ts", "_fragments_per_frame", "_frames", "_history", "_video_id",
                 "expected", "received", "recent_window")

    def __init__(self, recent_window: float = 5.0) -> None:
        self.expected = 0
        self.received = 0
        self.recent_window = recent_window
        self._audio_ts: int | None = None
        self._video_id: int | None = None
        self._frames: dict[int, int] = {}  # recent frame_id -> frag_count
        self._fragments_per_frame = 1.0
        self._history: deque[tuple[float, int, int]] = deque()

    def add_audio(self, timestamp: int, now: float) -> None:
        self.received += 1
        if self._audio_ts is None:
            self.expected += 1
            self._audio_ts = timestamp
        else:
            frames = _signed_delta(timestamp, self._audio_ts) // AUDIO_FRAME_SAMPLES
            if frames > 0:
                self.expected += frames if frames <= self.AUDIO_PAUSE_FRAMES else 1
                self._audio_ts = timestamp
        self._note(now)

    def add_video(self, frame_id: int, frag_count: int, now: float) -> None:
        self.received += 1
        if frame_id not in self._frames:
            self.expected += max(1, frag_count)
            if self._video_id is None:
                self._fragments_per_frame = float(max(1, frag_count))
            self._fragments_per_frame += (max(1, frag_count) - self._fragments_per_frame) / 8
            if self._video_id is not None:
                skipped = _signed_delta(frame_id, self._video_id) - 1
                if 0 < skipped <= self.VIDEO_PAUSE_FRAMES:
                    self.expected += round(skipped * self._fragments_per_frame)
            if self._video_id is None or _signed_delta(frame_id, self._video_id) > 0:
                self._video_id = frame_id
            self._frames[frame_id] = frag_count
            if len(self._frames) > 64:
                del self._frames[next(iter(self._frames))]
        self._note(now)

    def _note(self, now: float) -> None:
        history = self._history
        if not history or now - history[-1][0] >= 0.5:
            history.append((now, self.expected, self.received))
            while len(history) > 2 and now - history[1][0] >= self.recent_window:
                history.popleft()

    @property
    def lost(self) -> int:
        """Media packets that should have arrived and did not (never negative)."""
        return max(0, self.expected - self.received)

    @property
    def loss_percent(self) -> float:
        return 100.0 * self.lost / self.expected if self.expected else 0.0

    def recent_loss_percent(self) -> float:
        """Loss over roughly the last ``recent_window`` seconds, in percent."""
        if not self._history:
            return 0.0
        _, expected0, received0 = self._history[0]
        expected = self.expected - expected0
        received = self.received - received0
        if expected <= 0:
            return self.loss_percent if len(self._history) == 1 else 0.0
        return 100.0 * max(0, expected - received) / expected


class InterarrivalJitter:
    """RFC 3550 §6.4.1 interarrival jitter of one stream, in seconds."""

    __slots__ = ("_last_arrival", "_last_ts", "clock_rate", "jitter")

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self.jitter = 0.0
        self._last_arrival: float | None = None
        self._last_ts = 0

    def add(self, timestamp: int, now: float) -> float:
        """Record a packet with u32 ``timestamp`` arriving at ``now``; returns the jitter."""
        if self._last_arrival is not None:
            transit_change = ((now - self._last_arrival)
                              - _signed_delta(timestamp, self._last_ts) / self.clock_rate)
            self.jitter += (abs(transit_change) - self.jitter) / 16
        self._last_arrival = now
        self._last_ts = timestamp
        return self.jitter


@dataclass
class StreamStats:
    """What arrives from one remote sender (one ssrc)."""

    ssrc: int
    username: str | None = None
    packets: int = 0
    bytes: int = 0
    audio_packets: int = 0
    video_packets: int = 0
    frames_shown: int = 0
    last_frame_id: int | None = None
    last_packet_at: float | None = None
    audio_level_dbfs: float = -96.0
    loss: MediaLoss = field(default_factory=MediaLoss)
    audio_jitter: InterarrivalJitter = field(
        default_factory=lambda: InterarrivalJitter(AUDIO_CLOCK))
    video_jitter: InterarrivalJitter = field(
        default_factory=lambda: InterarrivalJitter(VIDEO_CLOCK))
    frame_rate: RateMeter = field(default_factory=RateMeter)
    bit_rate: RateMeter = field(default_factory=RateMeter)

    def on_packet(self, *, audio: bool, seq: int, timestamp: int, size: int,
                  now: float, frame_id: int = 0, frag_count: int = 1) -> None:
        """Record one authenticated audio (``audio``) or video packet of ``size`` bytes;
        for video, its ``frame_id`` and ``frag_count``."""
        self.packets += 1
        self.bytes += size
        self.last_packet_at = now
        self.bit_rate.add(now, 8 * size)
        if audio:
            self.audio_packets += 1
            self.loss.add_audio(timestamp, now)
            self.audio_jitter.add(timestamp, now)
        else:
            self.video_packets += 1
            self.loss.add_video(frame_id, frag_count, now)
            self.video_jitter.add(timestamp, now)

    def on_frame_shown(self, frame_id: int, now: float) -> None:
        """Record one decoded video frame handed to the application."""
        self.frames_shown += 1
        self.last_frame_id = frame_id
        self.frame_rate.add(now)

    def snapshot(self, now: float) -> dict[str, Any]:
        """Plain numbers: packets, loss %, jitter ms, frames/s, kbit/s and counts."""
        return {
            "ssrc": self.ssrc,
            "username": self.username,
            "packets": self.packets,
            "bytes": self.bytes,
            "audio_packets": self.audio_packets,
            "video_packets": self.video_packets,
            "lost": self.loss.lost,
            "loss_percent": round(self.loss.loss_percent, 2),
            "recent_loss_percent": round(self.loss.recent_loss_percent(), 2),
            "audio_jitter_ms": round(self.audio_jitter.jitter * 1000, 2),
            "video_jitter_ms": round(self.video_jitter.jitter * 1000, 2),
            "frames_shown": self.frames_shown,
            "last_frame_id": self.last_frame_id,
            "fps": round(self.frame_rate.rate(now), 2),
            "kbps": round(self.bit_rate.rate(now) / 1000, 1),
            "audio_level_dbfs": round(self.audio_level_dbfs, 1),
            "idle_s": None if self.last_packet_at is None else round(now - self.last_packet_at, 2),
        }


@dataclass
class SendStats:
    """What this side sends."""

    audio_packets: int = 0
    video_packets: int = 0
    video_frames: int = 0
    bytes: int = 0
    failures: int = 0
    frame_rate: RateMeter = field(default_factory=RateMeter)
    bit_rate: RateMeter = field(default_factory=RateMeter)
    audio_rate: RateMeter = field(default_factory=RateMeter)

    def on_audio(self, size: int, now: float, *, sent: bool = True) -> None:
        """Record one audio packet of ``size`` bytes (``sent=False``: it failed)."""
        if not sent:
            self.failures += 1
            return
        self.audio_packets += 1
        self.bytes += size
        self.bit_rate.add(now, 8 * size)
        self.audio_rate.add(now)

    def on_video_packet(self, size: int, now: float, *, sent: bool = True) -> None:
        """Record one video fragment of ``size`` bytes (``sent=False``: it failed)."""
        if not sent:
            self.failures += 1
            return
        self.video_packets += 1
        self.bytes += size
        self.bit_rate.add(now, 8 * size)

    def on_video_frame(self, now: float) -> None:
        """Record one whole frame handed to the network."""
        self.video_frames += 1
        self.frame_rate.add(now)

    def snapshot(self, now: float) -> dict[str, Any]:
        """Plain numbers: counts, frames/s, audio packets/s, kbit/s, failures."""
        return {
            "audio_packets": self.audio_packets,
            "video_packets": self.video_packets,
            "video_frames": self.video_frames,
            "bytes": self.bytes,
            "failures": self.failures,
            "fps": round(self.frame_rate.rate(now), 2),
            "audio_pps": round(self.audio_rate.rate(now), 1),
            "kbps": round(self.bit_rate.rate(now) / 1000, 1),
        }


@dataclass
class MediaStats:
    """Everything together: streams by ssrc, the send side, RTT and path."""

    streams: dict[int, StreamStats] = field(default_factory=dict)
    send: SendStats = field(default_factory=SendStats)
    rtt: float | None = None
    path: str = "udp"

    def stream(self, ssrc: int, username: str | None = None) -> StreamStats:
        """The stats of ``ssrc``, created on first use."""
        stats = self.streams.get(ssrc)
        if stats is None:
            stats = self.streams[ssrc] = StreamStats(ssrc, username)
        elif username is not None:
            stats.username = username
        return stats

    def forget(self, ssrc: int) -> None:
        """Drop the stats of a sender that left."""
        self.streams.pop(ssrc, None)

    def snapshot(self, now: float) -> dict[str, Any]:
        """``{"path", "rtt_ms", "send": {...}, "streams": {ssrc: {...}}}``."""
        return {
            "path": self.path,
            "rtt_ms": None if self.rtt is None else round(self.rtt * 1000, 2),
            "send": self.send.snapshot(now),
            "streams": {ssrc: s.snapshot(now) for ssrc, s in self.streams.items()},
        }
