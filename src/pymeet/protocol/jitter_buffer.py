"""A per-speaker audio jitter buffer with adaptive playout delay (PROTOCOL.md §4.4, audio).

Pure, in the spirit of aiortc's ``jitterbuffer``: arrival time is passed in, nothing is
read from a clock, and no thread or timer is involved. It is numpy-free, so importing it
costs nothing on a server.

Theory of operation
-------------------

Audio travels in 20 ms frames of 640 bytes (320 samples at 16 kHz, s16le mono, §4.2).
A frame's timestamp is the index of its first sample, a u32 that wraps. The buffer
unwraps timestamps and turns each into a *slot*: frame number ``k`` of the stream.

The owner calls `push` for every audio payload received and `pop` once per 20 ms
playout tick. The buffer has two states:

- **buffering**: `pop` returns None until the buffered audio reaches the target delay,
  or the earliest buffered frame has waited that long; playout then starts at the
  earliest buffered slot.
- **playing**: each `pop` plays slot ``next`` and moves on. A missing slot is
  *concealed* (the last frame repeated, attenuated, fading to silence over a few
  frames) when later frames are buffered; when nothing is buffered the buffer has run
  dry and `pop` returns None without moving on, which stretches the delay by one frame.
  After `DRY_RESET_FRAMES` dry ticks (the talk spurt ended), or at a timestamp gap over
  `MAX_CONCEAL_GAP_FRAMES` (a new talk spurt), it goes back to buffering.

A frame arriving for a slot already played (or skipped) is *late* and dropped.

Adaptive delay. Interarrival jitter ``J`` is estimated as in RFC 3550 §6.4.1/§A.8, and
the target delay is ``clamp(JITTER_MULTIPLE * J + 20 ms, min_delay, max_delay)``. The
delay is measured on arrival: how long each arriving frame will wait before it plays,
smoothed. It is steered towards the target at talk-spurt-friendly points, that is quiet
frames: more than two frames over the target, a quiet frame is dropped; under it, a
concealment frame is inserted before a quiet frame (before any frame when more than two
frames under, and never twice in a row). Loud frames are dropped only while over
``max_delay`` of audio is buffered (sender clock drift, a burst after an outage), and
the buffer never holds more than ``2 * max_delay`` of audio (the oldest frames go
first). Since the delay is measured on arrival, a stream that stops is simply played
out, never stretched.

Accounting. Every pushed frame ends up exactly once in ``duplicate``, ``late``,
``played``, ``dropped`` or is still buffered. Every concealment frame is counted in
``concealed`` and is either a ``lost`` slot or a ``stretched`` insertion.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass
from operator import mul

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 320  # 20 ms at 16 kHz
FRAME_BYTES = 2 * FRAME_SAMPLES  # s16le mono: 640, the audio payload size of §4.2
FRAME_DURATION = FRAME_SAMPLES / SAMPLE_RATE  # 0.02 s

DEFAULT_MIN_DELAY = 0.040
DEFAULT_MAX_DELAY = 0.300
JITTER_MULTIPLE = 4.0
"""Target delay = JITTER_MULTIPLE × jitter + one frame, clamped to [min_delay, max_delay]."""

CONCEAL_GAINS = (0.8, 0.5, 0.25)
"""Gains of the 1st, 2nd and 3rd consecutive concealment frames; later ones are silent."""
QUIET_RMS = 328
"""A frame whose RMS is at most this (about −40 dBFS) is quiet: safe to drop or stretch."""
MAX_CONCEAL_GAP_FRAMES = 25
"""A timestamp gap longer than this (500 ms) starts a new talk spurt instead of concealment."""
DRY_RESET_FRAMES = 25
"""After this many consecutive dry ticks (500 ms) the talk spurt is over: buffer again."""
RESYNC_FRAMES = 50
"""A frame this far (1 s) behind the playout point means the sender restarted its clock."""

_TS_MODULUS = 1 << 32
_TS_HALF = 1 << 31
_LEVEL_SMOOTHING = 1 / 16  # weight of the newest depth sample in the smoothed depth
_FRAME_MS = FRAME_DURATION * 1000
_SILENCE = bytes(FRAME_BYTES)
_SWAP = sys.byteorder == "big"  # the payload is little-endian, array('h') is native


@dataclass(frozen=True, slots=True)
class JitterStats:
    """A snapshot of one `JitterBuffer`'s counters and delay estimates."""

    received: int
    played: int
    concealed: int
    lost: int
    stretched: int
    late: int
    duplicate: int
    dropped: int
    underruns: int
    buffered: int
    loss_percent: float
    jitter_ms: float
    target_delay_ms: float
    depth_ms: float


def _samples(frame: bytes) -> array[int]:
    samples = array("h", frame)
    if _SWAP:
        samples.byteswap()
    return samples


def _is_quiet(frame: bytes) -> bool:
    samples = _samples(frame)
    energy: int = sum(map(mul, samples, samples))
    return energy <= QUIET_RMS * QUIET_RMS * len(samples)


def _attenuate(frame: bytes, gain: float) -> bytes:
    samples = _samples(frame)
    scaled = array("h", [int(sample * gain) for sample in samples])
    if _SWAP:
        scaled.byteswap()
    return scaled.tobytes()


class JitterBuffer:
    """Reorders, de-jitters and conceals one speaker's 20 ms audio frames.

    Contract: `push` every payload as it arrives, `pop` exactly once per 20 ms playout
    tick; ``now`` is the same monotonic clock (seconds) for both.
    """

    __slots__ = (
        "_buffer", "_capacity", "_conceal_run", "_dry_ticks", "_ext_ref", "_jitter",
        "_last_arrival", "_last_frame", "_last_ts", "_level", "_next", "_playing", "_ts_ref",
        "concealed", "dropped", "duplicate", "late", "lost", "max_delay", "min_delay",
        "played", "received", "stretched", "underruns",
    )

    def __init__(
        self, min_delay: float = DEFAULT_MIN_DELAY, max_delay: float = DEFAULT_MAX_DELAY
    ) -> None:
        """Delays are in seconds; raises ValueError unless 0 < min_delay <= max_delay."""
        if not 0 < min_delay <= max_delay:
            raise ValueError("need 0 < min_delay <= max_delay")
        self.min_delay = min_delay
        self.max_delay = max_delay
        self._capacity = max(2, math.ceil(2 * max_delay / FRAME_DURATION))
        self._buffer: dict[int, tuple[bytes, float]] = {}  # slot -> (payload, arrival)
        self._next: int | None = None  # slot to play next; while buffering, the late floor
        self._playing = False
        self._ts_ref: int | None = None  # a recent u32 timestamp ...
        self._ext_ref = 0  # ... and its unwrapped value, in samples since the first frame
        self._last_arrival: float | None = None
        self._last_ts = 0  # unwrapped timestamp of the last arrival, for the jitter estimate
        self._jitter = 0.0  # seconds
        self._level = 0.0  # smoothed wait of arriving frames until their playout, ms
        self._last_frame: bytes | None = None
        self._conceal_run = 0
        self._dry_ticks = 0
        self.received = 0
        self.played = 0
        self.concealed = 0
        self.lost = 0
        self.stretched = 0
        self.late = 0
        self.duplicate = 0
        self.dropped = 0
        self.underruns = 0

    @property
    def playing(self) -> bool:
        """True between the start of playout and the buffer running dry for good."""
        return self._playing

    @property
    def jitter(self) -> float:
        """Estimated interarrival jitter in seconds (RFC 3550 §A.8)."""
        return self._jitter

    @property
    def target_delay(self) -> float:
        """The playout delay the buffer steers towards, in seconds."""
        target = JITTER_MULTIPLE * self._jitter + FRAME_DURATION
        return min(max(target, self.min_delay), self.max_delay)

    @property
    def depth(self) -> float:
        """Audio currently buffered, in seconds."""
        return len(self._buffer) * FRAME_DURATION

    @property
    def stats(self) -> JitterStats:
        """A snapshot of the counters and estimates."""
        due = self.played + self.lost
        return JitterStats(
            received=self.received,
            played=self.played,
            concealed=self.concealed,
            lost=self.lost,
            stretched=self.stretched,
            late=self.late,
            duplicate=self.duplicate,
            dropped=self.dropped,
            underruns=self.underruns,
            buffered=len(self._buffer),
            loss_percent=100.0 * self.lost / due if due else 0.0,
            jitter_ms=self._jitter * 1000,
            target_delay_ms=self.target_delay * 1000,
            depth_ms=self.depth * 1000,
        )

    def push(self, timestamp: int, payload: bytes, now: float) -> None:
        """Take one audio frame (u32 ``timestamp``) that arrived at ``now``.

        Raises ValueError unless ``payload`` is 640 bytes (`MediaCipher.open` ensures it).
        """
        if len(payload) != FRAME_BYTES:
            raise ValueError(f"audio frames are {FRAME_BYTES} bytes, not {len(payload)}")
        self.received += 1
        ext = self._unwrap(timestamp)
        slot = (ext + FRAME_SAMPLES // 2) // FRAME_SAMPLES  # nearest frame boundary
        if self._next is not None and slot < self._next - RESYNC_FRAMES:
            # Far behind anything plausible: the sender restarted its clock.
            self._resync()
            ext = self._unwrap(timestamp)
            slot = (ext + FRAME_SAMPLES // 2) // FRAME_SAMPLES
        if slot in self._buffer:
            self.duplicate += 1
            return
        self._update_jitter(ext, now)
        next_slot = self._next
        if next_slot is not None and slot < next_slot:
            self.late += 1
            return
        self._buffer[slot] = (payload, now)
        if self._playing and next_slot is not None:
            # How long this frame will wait before it plays: the delay it experiences.
            wait_ms = (slot - next_slot + 1) * _FRAME_MS
            self._level += (wait_ms - self._level) * _LEVEL_SMOOTHING
        while len(self._buffer) > self._capacity:
            # Bounded size: a live stream keeps its newest audio.
            oldest = min(self._buffer)
            del self._buffer[oldest]
            self.dropped += 1
            self._next = oldest + 1 if self._next is None else max(self._next, oldest + 1)

    def pop(self, now: float) -> bytes | None:
        """Return the 640 bytes to play for this 20 ms tick, or None for nothing.

        None means playout has not started yet, or the buffer ran dry (the stream ended
        or is late); a concealment frame is returned when the due frame is missing but
        later ones are buffered. Real frames come out in timestamp order, each once.
        """
        if not self._playing and not self._start(now):
            return None
        assert self._next is not None
        entry = self._buffer.pop(self._next, None)
        if entry is None:
            return self._missing(now)
        self._dry_ticks = 0
        frame = entry[0]
        target_ms = self.target_delay * 1000
        if self._level > target_ms + 2 * _FRAME_MS and (self._next + 1) in self._buffer:
            depth_ms = (len(self._buffer) + 1) * _FRAME_MS
            if depth_ms > self.max_delay * 1000 + _FRAME_MS or _is_quiet(frame):
                # Shorten the delay by one frame (§4.4: adaptive playout delay).
                self.dropped += 1
                self._level -= _FRAME_MS
                self._next += 1
                frame = self._buffer.pop(self._next)[0]
        elif (
            self._level < target_ms
            and self._conceal_run == 0
            and (self._level < target_ms - 2 * _FRAME_MS or _is_quiet(frame))
        ):
            # Lengthen the delay by one frame; play this frame on the next tick.
            self._buffer[self._next] = entry
            self.stretched += 1
            self._level += _FRAME_MS
            return self._conceal()
        self._next += 1
        self.played += 1
        self._conceal_run = 0
        self._last_frame = frame
        return frame

    def _start(self, now: float) -> bool:
        """Start playout when enough audio is buffered or has waited long enough."""
        if not self._buffer:
            return False
        target = self.target_delay
        waited = now - min(arrival for _, arrival in self._buffer.values())
        if len(self._buffer) * FRAME_DURATION < target and waited < target:
            return False
        self._next = min(self._buffer)
        self._playing = True
        self._dry_ticks = 0
        self._last_frame = None  # a new talk spurt: never conceal with the previous one
        self._level = (max(self._buffer) - self._next + 1) * _FRAME_MS
        return True

    def _missing(self, now: float) -> bytes | None:
        """The due slot is missing: conceal it, run dry, or start a new talk spurt."""
        assert self._next is not None
        if not self._buffer:
            self.underruns += 1
            self._dry_ticks += 1
            if self._dry_ticks >= DRY_RESET_FRAMES:
                self._playing = False
            return None
        if min(self._buffer) - self._next > MAX_CONCEAL_GAP_FRAMES:
            self._playing = False
            return self.pop(now)
        self._next += 1
        self.lost += 1
        return self._conceal()

    def _conceal(self) -> bytes:
        self.concealed += 1
        run = self._conceal_run
        self._conceal_run += 1
        if self._last_frame is None or run >= len(CONCEAL_GAINS):
            return _SILENCE
        return _attenuate(self._last_frame, CONCEAL_GAINS[run])

    def _unwrap(self, timestamp: int) -> int:
        """Unwrap a u32 timestamp into samples relative to the stream's first frame."""
        if self._ts_ref is None:
            self._ts_ref = timestamp
            self._ext_ref = 0
            return 0
        delta = (timestamp - self._ts_ref) % _TS_MODULUS
        if delta >= _TS_HALF:
            delta -= _TS_MODULUS
        ext = self._ext_ref + delta
        if delta > 0:
            self._ts_ref = timestamp
            self._ext_ref = ext
        return ext

    def _update_jitter(self, ext: int, now: float) -> None:
        """RFC 3550 §A.8: J += (|D| − J) / 16, D the change in transit time."""
        if self._last_arrival is not None:
            transit_change = (now - self._last_arrival) - (ext - self._last_ts) / SAMPLE_RATE
            # A silence the sender did not timestamp is not jitter: bound its weight.
            deviation = min(abs(transit_change), self.max_delay)
            self._jitter += (deviation - self._jitter) / 16
        self._last_arrival = now
        self._last_ts = ext

    def _resync(self) -> None:
        self.dropped += len(self._buffer)
        self._buffer.clear()
        self._next = None
        self._playing = False
        self._ts_ref = None
        self._last_arrival = None
        self._conceal_run = 0
        self._dry_ticks = 0
